"""The run ledger never hands one run folder to two live processes, and resumes a folder whose process died."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from factory.workspace import Workspace
from pipelines import runs


def _set_owner(run_dir, pid: int) -> None:
    ledger = runs.read_ledger(run_dir)
    (run_dir / runs.LEDGER).write_text(json.dumps({**ledger, "owner": {"pid": pid, "host": socket.gethostname()}}))


def test_an_unfinished_run_a_live_process_works_in_is_not_resumed(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = runs.open_run(ws, "t", "production", {"a": 1})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _set_owner(first, other.pid)
        second = runs.open_run(ws, "t", "production", {"a": 1})
    finally:
        other.kill()
        other.wait()
    assert second != first and second.name == "pipeline-production-2"
    assert runs.read_ledger(second)["owner"]["pid"] != other.pid


def test_an_unfinished_run_whose_process_died_is_resumed_and_takes_the_new_owner(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = runs.open_run(ws, "t", "production", {"a": 1}, flow_run_id="f1")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _set_owner(first, gone.pid)
    again = runs.open_run(ws, "t", "production", {"a": 1}, flow_run_id="f2")
    ledger = runs.read_ledger(again)
    assert again == first and ledger["flow_run_ids"] == ["f1", "f2"]
    assert ledger["owner"]["pid"] != gone.pid


def test_a_finished_run_or_another_config_starts_a_new_folder(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = runs.open_run(ws, "t", "production", {"a": 1})
    assert runs.open_run(ws, "t", "production", {"a": 2}) != first
    runs.finish_run(first)
    assert runs.open_run(ws, "t", "production", {"a": 1}).name == "pipeline-production-3"
