"""Pipeline run ledger: which run a flow works in, so a re-run after a crash resumes it.

A pipeline run owns ``<task>/runs/pipeline-<kind>-<n>/`` with ``pipeline.json``
(``status`` running | done, the config, the published version). Task caching
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

LEDGER = "pipeline.json"


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


def open_run(ws: Workspace, task: str, kind: str, config: dict, resume: bool = True) -> Path:
    """The run directory to work in: the unfinished latest one (same config) or a new one."""
    runs = _runs(ws, task, kind)
    h = config_hash(config)
    if resume and runs:
        last = read_ledger(runs[-1])
        if last.get("status") != "done" and last.get("config_hash") == h:
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
        },
    )
    return d


def finish_run(run_dir: Path, **info) -> dict:
    ledger = {**read_ledger(run_dir), **info, "status": "done", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_json(Path(run_dir) / LEDGER, ledger)
    return ledger


def latest_runs(ws: Workspace, task: str, kind: str) -> list[dict]:
    return [{**read_ledger(p), "dir": str(p)} for p in _runs(ws, task, kind)]
