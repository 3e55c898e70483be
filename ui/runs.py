"""Prefect queries for the Runs page: start a production run, read runs, their stages and failures.

Starting and listing runs use :mod:`pipelines.deployments`; the per-stage view
(task runs and state messages) reads Prefect's API directly. Every call runs
with ``PREFECT_API_URL`` pointing at the factory's server (see
:func:`ui.services.prefect_api_url`), so the Streamlit process needs no
Prefect environment of its own.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from factory.errors import TaskError
from factory.workspace import Workspace
from ui.services import prefect_api_url

# The production flow's stages in the order they finish (task names in pipelines/tasks.py).
STAGES = (
    "intake",
    "teacher-adapt",
    "generate",
    "teacher-label",
    "filter-synthetic",
    "decide-synthesis",
    "select-questions",
    "push-questions",
    "distill",
    "evaluate",
    "export",
    "publish",
)
BUDGETS = {
    "demo — a few minutes, capped pool and test set": "demo",
    "tiny — smoke test, quality not meaningful": "tiny",
    "full — the deployment's default config": None,
}


@contextlib.contextmanager
def prefect(ws: Workspace) -> Iterator[str]:
    """Point Prefect's client at the factory's server for the block; raise when none is running."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = prefect_api_url(ws)
    if url is None:
        raise TaskError(
            "a running Prefect server started by the factory",
            f"none recorded in {ws.services_dir()} and no PREFECT_API_URL",
            "run `factory up` (or set PREFECT_API_URL to your Prefect server)",
            where="Prefect",
        )
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


def budget_config(kind: str | None) -> dict | None:
    """The :class:`pipelines.config.PipelineConfig` for a budget name (``None``: the deployment's default)."""
    from pipelines.config import PipelineConfig

    if kind is None:
        return None
    return getattr(PipelineConfig, kind)().to_dict()


STUDENT_BUDGETS = {
    "balanced — the best of a static and a small transformer student": "balanced",
    "fastest — a static student, thousands of texts/s on one core": "fastest",
    "most accurate — also a 12-layer EmbeddingGemma student (slower to train)": "accurate",
}


def start_run(ws: Workspace, task: str, budget: str | None, student_budget: str | None = None) -> str:
    """Schedule a production run of ``task`` on the served deployment; return the flow run id."""
    from pipelines.config import PipelineConfig
    from pipelines.deployments import start_production_run

    cfg = budget_config(budget)
    if student_budget is not None:
        cfg = PipelineConfig.from_dict({**(cfg or PipelineConfig().to_dict()), "budget": student_budget}).to_dict()
    with prefect(ws):
        return start_production_run(task, cfg)


def _run_row(r, flow_names: dict) -> dict:
    params = r.parameters or {}
    return {
        "id": str(r.id),
        "name": r.name,
        "flow": flow_names.get(r.flow_id),
        "task": params.get("task_name"),
        "state": r.state.type.value if r.state else None,
        "state_name": r.state.name if r.state else None,
        "start": r.start_time.isoformat() if r.start_time else None,
        "end": r.end_time.isoformat() if r.end_time else None,
        "created": r.created.isoformat() if r.created else None,
    }


def list_runs(ws: Workspace, task: str, limit: int = 20) -> list[dict]:
    """The task's recent runs of the factory's deployments (production, iteration), newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from pipelines.deployments import ITERATION, PRODUCTION

    names = [d.split("/")[1] for d in (PRODUCTION, ITERATION)]
    with prefect(ws), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
        runs = [r for r in runs if (r.parameters or {}).get("task_name") == task][:limit]
        flow_names = {fid: client.read_flow(fid).name for fid in {r.flow_id for r in runs}}
    return [_run_row(r, flow_names) for r in runs]


def _stage(task_run_name: str) -> str:
    for s in sorted(STAGES, key=len, reverse=True):
        if task_run_name == s or task_run_name.startswith(s + "-"):
            return s
    return task_run_name.rsplit("-", 1)[0]


def run_details(ws: Workspace, flow_run_id: str) -> dict:
    """State message and per-stage states of one flow run: ``{message, stages: [{stage, state, message}], done, total}``."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with prefect(ws), get_client(sync_client=True) as client:
        fr = client.read_flow_run(UUID(flow_run_id))
        # limit and sort are passed explicitly: the sync client sends nulls for them otherwise (HTTP 422).
        trs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
    stages: dict[str, dict] = {}
    for tr in sorted(trs, key=lambda r: r.expected_start_time or r.created):
        st = tr.state
        stages[_stage(tr.name)] = {
            "stage": _stage(tr.name),
            "state": st.type.value if st else None,
            "state_name": st.name if st else None,
            "message": st.message if st else None,
        }
    done = sum(1 for s in stages.values() if s["state"] == "COMPLETED")
    return {
        "state": fr.state.type.value if fr.state else None,
        "message": fr.state.message if fr.state else None,
        "stages": list(stages.values()),
        "done": done,
        "total": max(len(STAGES), len(stages)),
    }
