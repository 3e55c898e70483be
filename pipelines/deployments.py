"""Deployments of the factory's flows, served locally, and a small client for the UI.

``python -m pipelines.deployments [--config tiny.json] [--sync-interval 300]``
serves three deployments from one process (this is what `factory up` starts):

- ``production/production`` — parameters ``task_name``, ``config``;
- ``iteration/iteration`` — the same, started by the water-level trigger;
- ``sync-queues/sync-queues`` — on an interval: pull answers where questions are open, emit the event.

Client API (needs ``PREFECT_API_URL``, which `factory up` writes down):
:func:`start_production_run` and :func:`flow_run_states`.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

PRODUCTION = "production/production"
ITERATION = "iteration/iteration"
SYNC = "sync-queues/sync-queues"
DEPLOYMENTS = (PRODUCTION, ITERATION, SYNC)
# Seconds between queue syncs. Answers given in the UI move the gauge at once (they are mirrored), so the
# sync only confirms them and announces the water level; a run every minute mostly filled Prefect's run list.
SYNC_INTERVAL = 300.0


def build(config: dict | None = None, sync_interval: float = SYNC_INTERVAL) -> list:
    """The three runner deployments; ``config`` becomes the default ``PipelineConfig`` of both training flows."""
    from prefect.deployments.runner import EntrypointType

    from pipelines.config import PipelineConfig
    from pipelines.flows import iteration, production, sync_queues
    from pipelines.waterlevel import iteration_trigger

    cfg = PipelineConfig.from_dict(config).to_dict()
    common = dict(entrypoint_type=EntrypointType.MODULE_PATH, tags=["model-factory"])
    return [
        production.to_deployment(
            "production", parameters={"config": cfg}, description="Task in, artifact out.", **common
        ),
        iteration.to_deployment(
            "iteration",
            parameters={"config": cfg},
            triggers=[iteration_trigger()],
            description="Runs when a task's water level is reached.",
            **common,
        ),
        sync_queues.to_deployment(
            "sync-queues",
            interval=sync_interval,
            description="Pull human answers of tasks with open questions; emit the water-level event.",
            **common,
        ),
    ]


def serve_all(config: dict | None = None, sync_interval: float = SYNC_INTERVAL, limit: int | None = 2) -> None:
    """Serve the deployments until interrupted (runs execute as subprocesses of this one)."""
    from prefect import serve

    serve(*build(config, sync_interval), limit=limit, print_starting_message=True)


def start_production_run(task_name: str, config: dict | None = None) -> str:
    """Schedule a production run of ``task_name`` on the served deployment; returns the flow run id."""
    from prefect.deployments import run_deployment

    params: dict = {"task_name": task_name}
    if config is not None:
        params["config"] = config
    fr = run_deployment(PRODUCTION, parameters=params, timeout=0, tags=[f"task:{task_name}"])
    return str(fr.id)


def flow_run_states(task_name: str | None = None, flow_run_ids: list[str] | None = None, limit: int = 50) -> list[dict]:
    """Recent runs of the factory's deployments, newest first: id, flow, state, times, task."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        if flow_run_ids:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in flow_run_ids])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=limit,
            )
        else:
            # One query per deployment: the sync deployment runs every few seconds and would
            # otherwise push the (rarer, longer) training runs out of the newest ``limit``.
            # The interval schedule also keeps future sync runs queued: leave those out.
            runs = []
            for d in DEPLOYMENTS:
                flt = (
                    FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])))
                    if d == SYNC
                    else None
                )
                runs += client.read_flow_runs(
                    flow_run_filter=flt,
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[d.split("/")[1]])),
                    sort=FlowRunSort.START_TIME_DESC,
                    limit=limit,
                )
            epoch = datetime.min.replace(tzinfo=timezone.utc)
            runs.sort(key=lambda r: r.start_time or r.expected_start_time or epoch, reverse=True)
        # read_flow by id: the sync client's read_flows sends null filters, which the server rejects.
        flows = {fid: client.read_flow(fid).name for fid in {r.flow_id for r in runs}}
    out = []
    for r in runs:
        params = r.parameters or {}
        if task_name and params.get("task_name") not in (task_name, None):
            continue
        out.append(
            {
                "id": str(r.id),
                "name": r.name,
                "flow": flows.get(r.flow_id),
                "task": params.get("task_name"),
                "state": r.state.type.value if r.state else None,
                "state_name": r.state.name if r.state else None,
                "start": r.start_time.isoformat() if r.start_time else None,
                "end": r.end_time.isoformat() if r.end_time else None,
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve the model factory's Prefect deployments.")
    ap.add_argument("--config", help="PipelineConfig JSON used as the flows' default config")
    ap.add_argument("--sync-interval", type=float, default=SYNC_INTERVAL, help="seconds between answer pulls")
    ap.add_argument("--limit", type=int, default=2, help="flow runs executed at once")
    args = ap.parse_args(argv)
    config = json.loads(Path(args.config).read_text(encoding="utf-8")) if args.config else None
    serve_all(config, args.sync_interval, args.limit)


if __name__ == "__main__":
    main()
