"""Pipeline run ledger: which run a flow works in, so a re-run after a crash resumes it.

A pipeline run owns ``<task>/runs/pipeline-<kind>-<n>/`` with ``pipeline.json``
(``status`` running | done, the config, the published version, the Prefect flow
runs that worked in it). The directory's name is the run's name everywhere: the
flow run in Prefect is renamed to it and the published manifest records it. Task caching
keys include the run directory, so a flow started again while the latest run of
its kind is unfinished (same config) lands in the same directory and Prefect
returns the persisted results of the tasks that finished; a finished run makes
the next call start a fresh one.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from factory.atomic import atomic_write_json
from factory.workspace import Workspace
from recipe.steps import PROGRESS_FILE

LEDGER = "pipeline.json"
KINDS = ("production", "iteration")


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def _runs(ws: Workspace, task: str, kind: str) -> list[Path]:
    base = ws.task_dir(task) / "runs"
    if not base.is_dir():
        return []
    found = [p for p in base.glob(f"pipeline-{kind}-*") if (p / LEDGER).is_file()]
    return sorted(found, key=lambda p: int(p.name.rsplit("-", 1)[1]))


def read_ledger(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / LEDGER).read_text(encoding="utf-8"))


def _add_flow_run(run_dir: Path, ledger: dict, flow_run_id: str | None) -> None:
    if flow_run_id is None or ledger.get("flow_run_id") == flow_run_id:
        return
    # Every attempt is kept: a run resumed after a crash has one Prefect flow run per attempt.
    ids = [*ledger.get("flow_run_ids", []), flow_run_id]
    atomic_write_json(Path(run_dir) / LEDGER, {**ledger, "flow_run_id": flow_run_id, "flow_run_ids": ids})


def open_run(
    ws: Workspace, task: str, kind: str, config: dict, resume: bool = True, flow_run_id: str | None = None
) -> Path:
    """The run directory to work in: the unfinished latest one (same config) or a new one.

    ``flow_run_id``: the Prefect flow run working in it, recorded in the ledger (the latest as ``flow_run_id``,
    all attempts in ``flow_run_ids``) so the Runs page can join the ledger with Prefect's runs.
    """
    runs = _runs(ws, task, kind)
    h = config_hash(config)
    if resume and runs:
        last = read_ledger(runs[-1])
        if last.get("status") != "done" and last.get("config_hash") == h:
            _add_flow_run(runs[-1], last, flow_run_id)
            return runs[-1]
    n = int(runs[-1].name.rsplit("-", 1)[1]) + 1 if runs else 1
    d = ws.task_dir(task) / "runs" / f"pipeline-{kind}-{n}"
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        d / LEDGER,
        {
            "kind": kind,
            "task": task,
            "status": "running",
            "config": config,
            "config_hash": h,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **({"flow_run_id": flow_run_id, "flow_run_ids": [flow_run_id]} if flow_run_id else {}),
        },
    )
    return d


def finish_run(run_dir: Path, **info) -> dict:
    ledger = {**read_ledger(run_dir), **info, "status": "done", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_json(Path(run_dir) / LEDGER, ledger)
    return ledger


def latest_runs(ws: Workspace, task: str, kind: str) -> list[dict]:
    return [{**read_ledger(p), "dir": str(p)} for p in _runs(ws, task, kind)]


def task_runs(ws: Workspace, task: str) -> list[dict]:
    """Every pipeline run of ``task`` (production and iteration), newest first: the ledger plus ``name`` and ``dir``.

    However a run was started (deployment, ``factory run``, ``factory demo``, a trigger), its ledger is here, so
    this lists runs Prefect's database no longer (or never) had. A ledger that cannot be read is skipped.
    """
    out = []
    for kind in KINDS:
        for p in _runs(ws, task, kind):
            try:
                out.append({**read_ledger(p), "name": p.name, "dir": str(p)})
            except (OSError, ValueError):  # a half-written or foreign file: the run stays out of the list
                continue
    return sorted(out, key=lambda r: (r.get("started") or "", int(r["name"].rsplit("-", 1)[1])), reverse=True)


def latest_progress(run_dir: str | Path) -> dict | None:
    """The newest ``progress.json`` under ``run_dir`` (by its ``updated`` time), with ``path``; None without one.

    Long stages (teacher labeling, each student's training) write one in their output folder as they go.
    """
    best = None
    for p in Path(run_dir).rglob(PROGRESS_FILE):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being replaced right now: the next refresh reads it
            continue
        if isinstance(rec, dict) and (best is None or rec.get("updated", 0) > best.get("updated", 0)):
            best = {**rec, "path": str(p)}
    return best


def name_flow_run(flow_run_id: str, name: str) -> bool:
    """Rename a Prefect flow run (from its random ``adjective-animal`` name) to ``name``; False when Prefect refused."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(flow_run_id), name=name)
    except Exception:  # a name is for people: a hiccup of the API must not fail hours of training
        return False
    return True
