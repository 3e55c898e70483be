"""Prefect queries for the Runs page: start a production run, read runs, their stages, progress and logs, cancel.

Starting a run uses :mod:`pipelines.deployments`. The list joins two sources:
Prefect's flow runs of the production and iteration flows, however they were
started, and the workspace's run ledger (:mod:`pipelines.runs`, which records
each run's flow run ids), so runs are listed even where Prefect's database
lacks them. A run shows under one name, its folder's (``pipeline-production-3``),
which the flows also give their flow run. Every Prefect call runs
with ``PREFECT_API_URL`` pointing at the factory's server (see
:func:`ui.services.prefect_api_url`), so the Streamlit process needs no
Prefect environment of its own.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from typing import Iterator

from factory.errors import TaskError
from factory.workspace import Workspace
from ui.services import prefect_api_url

# The production flow's stages in the order they finish (task names in pipelines/tasks.py).
STAGES = (
    "open-run",
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
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
LOG_LINES = 30


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
    return PipelineConfig.preset(kind).to_dict()


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
        "key": str(r.id),
        "name": r.name,
        "flow": flow_names.get(r.flow_id),
        "task": params.get("task_name"),
        "state": r.state.type.value if r.state else None,
        "state_name": r.state.name if r.state else None,
        "start": r.start_time.isoformat() if r.start_time else None,
        "end": r.end_time.isoformat() if r.end_time else None,
        "created": r.created.isoformat() if r.created else None,
        "expected": r.expected_start_time.isoformat() if r.expected_start_time else None,
        "deployment": r.deployment_id is not None,
        "attempts": [],
    }


def _ledger_time(s: str | None) -> str | None:
    """The ledger's ``%Y-%m-%dT%H:%M:%S%z`` as ISO 8601 (what the page formats)."""
    if not s:
        return None
    try:
        return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S%z").isoformat()
    except ValueError:
        return None


def _ledger_row(led: dict) -> dict:
    """A run Prefect has no record of: its state is what the ledger says."""
    done = led.get("status") == "done"
    return {
        "id": None,
        "key": led["name"],
        "name": led["name"],
        "flow": led.get("kind"),
        "task": led.get("task"),
        "state": "COMPLETED" if done else "UNKNOWN",
        # Unfinished without a Prefect record: it crashed, runs elsewhere, or Prefect's database was reset.
        "state_name": "Completed" if done else "Unfinished (not in Prefect)",
        "start": _ledger_time(led.get("started")),
        "end": _ledger_time(led.get("finished")),
        "created": None,
        "expected": None,
        "deployment": False,
        "attempts": [],
    }


def _sort_key(row: dict) -> float:
    for k in ("start", "expected", "created"):
        if row.get(k):
            return datetime.fromisoformat(row[k]).timestamp()
    return time.time()  # not even scheduled yet: the newest


def _prefect_runs(ws: Workspace, task: str, ledger: list[dict]) -> list[dict]:
    """Flow runs of the production and iteration flows for ``task``, whoever started them."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from pipelines.runs import KINDS

    known = [UUID(i) for led in ledger for i in led.get("flow_run_ids", [])]
    with prefect(ws), get_client(sync_client=True) as client:
        # By flow, not deployment: `factory run` and `factory demo` call the flow directly, without one.
        # Prefect cannot filter on parameters, so the task is picked out here.
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(KINDS))),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
        if known:  # the ledger's runs, however old: they join their ledger entry below
            seen = {r.id for r in runs}
            runs += [
                r
                for r in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=known)),
                    sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                    limit=len(known),
                )
                if r.id not in seen
            ]
        runs = [r for r in runs if (r.parameters or {}).get("task_name") == task]
        flow_names = {fid: client.read_flow(fid).name for fid in {r.flow_id for r in runs}}
    return [_run_row(r, flow_names) for r in runs]


def list_runs(ws: Workspace, task: str, limit: int = 20, use_prefect: bool = True) -> list[dict]:
    """The task's recent runs, newest first: Prefect's flow runs joined with the workspace's run ledger.

    A ledger run joins the flow runs it recorded (by id; by its name for ledgers from before ids were recorded),
    and shows under its name, which is also the flow run's.

    Each row: ``id`` (Prefect's, None for a run only the ledger knows), ``key``, ``name``, ``flow``, ``state``,
    ``state_name``, ``start``, ``end``, ``deployment`` (started through one), ``attempts`` (earlier flow runs of
    the same run, resumed after a crash: ``[{id, state, state_name}]``) and, for ledger runs, ``dir`` and
    ``version`` (the published version). ``use_prefect=False`` lists the ledger alone (Prefect is down).
    """
    from pipelines.runs import task_runs

    ledger = task_runs(ws, task)[:limit]
    prefect_rows = sorted(_prefect_runs(ws, task, ledger) if use_prefect else [], key=_sort_key, reverse=True)
    by_id = {r["id"]: r for r in prefect_rows}
    joined: set[str] = set()
    rows = []
    for led in ledger:
        ids = led.get("flow_run_ids") or []
        # By the ids the flow recorded; a ledger from before they were recorded joins by name.
        mine = (
            [r for r in prefect_rows if r["id"] in ids]
            if ids
            else [r for r in prefect_rows if r["name"] == led["name"] and r["id"] not in joined]
        )
        main = by_id.get(led.get("flow_run_id")) or (mine[0] if mine else None)
        joined |= {r["id"] for r in mine}
        row = dict(main) if main else _ledger_row(led)
        row["attempts"] = [{k: r[k] for k in ("id", "state", "state_name", "start")} for r in mine if r is not main]
        row.update(dir=led["dir"], version=led.get("version"), ledger_status=led.get("status"))
        rows.append(row)
    # Runs the ledger does not know: not started yet, failed before opening their run, or another workspace's.
    rows += [r for r in prefect_rows if r["id"] not in joined]
    return sorted(rows, key=_sort_key, reverse=True)[:limit]


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

    from pipelines.tasks import BOOKKEEPING_TAG

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
        if BOOKKEEPING_TAG in (tr.tags or ()):  # queue, ledger and buffer reads: not stages a person waits on
            continue
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


def log_tail(ws: Workspace, flow_run_id: str, lines: int = LOG_LINES) -> list[dict]:
    """The flow run's last ``lines`` log lines (its tasks' included), oldest first: ``{time, level, message}``."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    with prefect(ws), get_client(sync_client=True) as client:
        logs = client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)])),
            limit=lines,
            offset=0,
            sort=LogSort.TIMESTAMP_DESC,
        )
    return [
        {"time": lg.timestamp.isoformat(), "level": logging.getLevelName(lg.level), "message": lg.message}
        for lg in reversed(logs)
    ]


def cancel_run(ws: Workspace, flow_run_id: str) -> dict:
    """Ask Prefect to cancel a flow run; returns ``{state, state_name, deployment}`` as Prefect has it after.

    A deployment's run goes to Cancelling: the process serving it stops the run and marks it Cancelled. A run
    started by calling the flow (``factory run``, ``factory demo``) has no such supervisor and would stay
    Cancelling for ever, so it is marked Cancelled at once; Prefect then refuses its next stage, and the
    process stops when the stage in progress ends.
    """
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Cancelling

    msg = "cancelled on the factory's Runs page"
    with prefect(ws), get_client(sync_client=True) as client:
        fr = client.read_flow_run(UUID(flow_run_id))
        deployment = fr.deployment_id is not None
        client.set_flow_run_state(fr.id, Cancelling(message=msg) if deployment else Cancelled(message=msg))
        st = client.read_flow_run(fr.id).state
    return {"state": st.type.value if st else None, "state_name": st.name if st else None, "deployment": deployment}


def run_progress(run: dict) -> dict | None:
    """The newest ``progress.json`` of the run (its ledger directory), or None: ``{step, done, total, unit, ...}``."""
    from pipelines.runs import latest_progress

    return latest_progress(run["dir"]) if run.get("dir") else None


def _duration_words(secs: float) -> str:
    if secs < 60:
        return "under a minute"
    if secs < 3600:
        return f"{round(secs / 60)} min"
    return f"{int(secs // 3600)} h {round(secs % 3600 / 60)} min"


def progress_text(p: dict, now: float | None = None) -> str:
    """``distill (small): epoch 3 of 8, about 2 min left`` from a ``progress.json`` record."""
    now = time.time() if now is None else now
    done, total, unit = p.get("done", 0), p.get("total", 0), p.get("unit") or "items"
    step = p.get("step") or "stage"
    head = f"{step} ({p['kind']})" if p.get("kind") else step
    amount = f"{unit} {done} of {total}" if unit == "epoch" else f"{done:,} of {total:,} {unit}"
    eta, since = p.get("eta_s"), now - float(p.get("updated") or now)
    # A stage that stopped reporting (crashed, or one very long epoch) says how old the figure is.
    age = f" (last update {_duration_words(since)} ago)" if since > 300 else ""
    if done >= total or eta is None:
        return f"{head}: {amount}{age}"
    # The estimate was made at the last update: count down from there.
    left = max(float(eta) - since, 0.0)
    if left <= 0:
        return f"{head}: {amount}, almost done{age}"
    return f"{head}: {amount}, {'' if left < 60 else 'about '}{_duration_words(left)} left{age}"
