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
import os
import socket
import time
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, exclusive, read_jsonl
from factory.workspace import Workspace
from recipe.steps import PROGRESS_FILE

LEDGER = "pipeline.json"
ANSWERS_SNAPSHOT = "answers.jsonl"  # the human answers an iteration run trains on, frozen at its start
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


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _alive_elsewhere(ledger: dict) -> bool:
    """Whether another live process on this host works in the run (its ``owner``): then it is not resumed."""
    owner = ledger.get("owner") or {}
    pid = owner.get("pid")
    if not isinstance(pid, int) or owner.get("host") != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _add_flow_run(run_dir: Path, ledger: dict, flow_run_id: str | None) -> None:
    ids = ledger.get("flow_run_ids", [])
    if flow_run_id is not None and ledger.get("flow_run_id") != flow_run_id:
        # Every attempt is kept: a run resumed after a crash has one Prefect flow run per attempt.
        ledger = {**ledger, "flow_run_id": flow_run_id, "flow_run_ids": [*ids, flow_run_id]}
    atomic_write_json(Path(run_dir) / LEDGER, {**ledger, "owner": _owner()})


def open_run(
    ws: Workspace, task: str, kind: str, config: dict, resume: bool = True, flow_run_id: str | None = None
) -> Path:
    """The run directory to work in: the unfinished latest one (same config, no live process in it) or a new one.

    ``flow_run_id``: the Prefect flow run working in it, recorded in the ledger (the latest as ``flow_run_id``,
    all attempts in ``flow_run_ids``) so the Runs page can join the ledger with Prefect's runs.
    """
    # One chooser at a time, and never a folder a live process works in: two flows started together (a double
    # click, a manual start beside the water-level trigger) or a restart beside a run still finishing its stage
    # would otherwise write the same checkpoints and publish twice.
    with exclusive(ws.task_dir(task) / "runs" / ".open.lock"):
        runs = _runs(ws, task, kind)
        h = config_hash(config)
        if resume and runs:
            last = read_ledger(runs[-1])
            if last.get("status") != "done" and last.get("config_hash") == h and not _alive_elsewhere(last):
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
                "owner": _owner(),
                **({"flow_run_id": flow_run_id, "flow_run_ids": [flow_run_id]} if flow_run_id else {}),
            },
        )
        return d


def open_named_run(ws: Workspace, task: str, kind: str, config: dict, resume: bool, flow_run_id: str | None) -> Path:
    """:func:`open_run`, and the Prefect flow run renamed to the run directory's name (``pipeline-<kind>-<n>``).

    One name everywhere: the ledger, the published manifest's ``run``, the Runs page and Prefect. A rename
    Prefect refuses is logged, never fatal.
    """
    import logging

    rdir = open_run(ws, task, kind, config, resume=resume, flow_run_id=flow_run_id)
    if flow_run_id is not None and not name_flow_run(flow_run_id, rdir.name):
        logging.getLogger(__name__).warning(
            "could not rename flow run %s to %s; the run goes on", flow_run_id, rdir.name
        )
    return rdir


def finish_run(run_dir: str | Path, **info) -> dict:
    """Mark the run ``done`` with ``info`` (the published version, its zip, ...): the next start opens a new run."""
    ledger = {**read_ledger(run_dir), **info, "status": "done", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_json(Path(run_dir) / LEDGER, ledger)
    return ledger


def latest_runs(ws: Workspace, task: str, kind: str) -> list[dict]:
    """Every run of ``kind``, oldest first: its ledger plus ``dir``."""
    return [{**read_ledger(p), "dir": str(p)} for p in _runs(ws, task, kind)]


def last_finished(ws: Workspace, task: str, kind: str) -> str | None:
    """The directory of the newest finished (``done``) run of ``kind``, or ``None`` before one finished."""
    done = [r for r in latest_runs(ws, task, kind) if r.get("status") == "done"]
    return done[-1]["dir"] if done else None


def frozen_answers(run_dir: str | Path) -> list[dict] | None:
    """The answers the run froze at its start (:func:`freeze_answers`), or ``None`` before it froze them."""
    p = Path(run_dir) / ANSWERS_SNAPSHOT
    return read_jsonl(p) if p.is_file() else None


def freeze_answers(run_dir: str | Path, answers: list[dict]) -> list[dict]:
    """Freeze ``answers`` as the ones the run trains on; a run that froze its answers already keeps those.

    Answers arriving while an iteration trains are the next iteration's: a run resumed after a crash reads
    the frozen file instead of the queue, so it trains (and hits its cached steps) on the same gold.
    """
    frozen = frozen_answers(run_dir)
    if frozen is not None:
        return frozen
    atomic_write_jsonl(Path(run_dir) / ANSWERS_SNAPSHOT, answers)
    return answers


def published_version(version_dir: str | Path) -> dict:
    """``{version, version_dir, zip}`` of a published model version; ``zip`` is its first ``*.zip`` or ``None``."""
    zips = sorted(Path(version_dir).glob("*.zip"))
    return {"version": Path(version_dir).name, "version_dir": str(version_dir), "zip": str(zips[0]) if zips else None}


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
