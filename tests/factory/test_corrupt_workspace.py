"""A damaged workspace gives a clear error naming the file and the fix: never a traceback, --json stays JSON."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from factory.errors import TaskError
from factory.spec import Example, Label, TaskSpec
from factory.workspace import Workspace


def _make(ws: Workspace) -> None:
    gold = [Example(f"good {i}", "a", f"a{i}") for i in range(4)] + [
        Example(f"bad {i}", "b", f"b{i}") for i in range(4)
    ]
    dev = [Example("fine", "a", "d1"), Example("poor", "b", "d2")]
    ws.save_task(TaskSpec("t", "en", [Label("a", "A"), Label("b", "B")], gold, dev=dev))


def _task_json(ws):
    return ws.task_dir("t") / "task.json"


def _data(ws, name):
    return ws.task_dir("t") / "data" / name


def _relabel_dev(ws):
    rows = _data(ws, "dev.jsonl").read_text()
    assert '"label": "a"' in rows  # the damage must change something
    _data(ws, "dev.jsonl").write_text(rows.replace('"label": "a"', '"label": "b"', 1))


CORRUPTIONS = {
    "truncated-task-json": (lambda ws: _task_json(ws).write_text(_task_json(ws).read_text()[:20]), "task.json"),
    "empty-task-json": (lambda ws: _task_json(ws).write_text(""), "task.json"),
    "not-utf8-task-json": (lambda ws: _task_json(ws).write_bytes(b"\xff\xfe{}"), "UTF-8"),
    "task-json-is-a-list": (lambda ws: _task_json(ws).write_text("[1, 2]"), "JSON object"),
    "task-json-without-labels": (
        lambda ws: _task_json(ws).write_text(json.dumps({"name": "t", "language": "en"})),
        "task.json",
    ),
    "deleted-data-file": (
        lambda ws: (ws.task_dir("t") / "data" / "gold.jsonl").unlink(),
        "changed or missing: gold.jsonl",
    ),
    "edited-gold-label": (
        lambda ws: (ws.task_dir("t") / "data" / "gold.jsonl").write_text(
            (ws.task_dir("t") / "data" / "gold.jsonl").read_text().replace('"a"', '"c"', 1)
        ),
        "changed or missing",
    ),
    "deleted-data-manifest": (lambda ws: _data(ws, "MANIFEST.json").unlink(), "the task's data manifest"),
    "data-manifest-files-a-list": (
        lambda ws: _data(ws, "MANIFEST.json").write_text(json.dumps({"files": ["gold.jsonl"]})),
        "a readable data MANIFEST.json",
    ),
    "deleted-data-folder": (lambda ws: shutil.rmtree(ws.task_dir("t") / "data"), "no data folder"),
    "edited-dev-label": (_relabel_dev, "changed or missing: dev.jsonl"),
    "label-removed": (
        lambda ws: _task_json(ws).write_text(
            json.dumps({**json.loads(_task_json(ws).read_text()), "labels": [{"id": "a", "name": "A"}]})
        ),
        "task.json",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_task_is_a_clear_error_in_python_and_in_the_cli(tmp_path, case):
    ws = Workspace(tmp_path)
    _make(ws)
    damage, message = CORRUPTIONS[case]
    damage(ws)
    with pytest.raises(TaskError, match=message) as err:
        ws.load_task("t")
    assert "Fix:" in str(err.value)
    res = CliRunner().invoke(app, ["task", "show", "t", "--workspace", str(tmp_path), "--json"])
    body = json.loads(res.stdout)
    assert (
        res.exit_code == 1
        and body["ok"] is False
        and message.split(":")[0] in json.dumps(body["error"], ensure_ascii=False)
    )
    listed = json.loads(CliRunner().invoke(app, ["task", "list", "--workspace", str(tmp_path), "--json"]).stdout)
    assert listed["tasks"] == ["t"] and "t" in listed["broken"]


def test_a_task_made_by_save_task_has_a_data_manifest_and_loads(tmp_path):
    ws = Workspace(tmp_path)
    _make(ws)
    assert _data(ws, "MANIFEST.json").is_file()
    assert len(ws.load_task("t").dev) == 2 and ws.broken_tasks() == {}
