"""The workspace writes atomically: a failure mid-write leaves the previous state intact."""

from __future__ import annotations

import json

import pytest

from factory import atomic, workspace as workspace_mod
from factory.atomic import atomic_write_json, verify_manifest, write_manifest
from factory.errors import TaskError
from factory.spec import Example, Label, TaskSpec
from factory.workspace import Workspace, default_root


def make_spec(n_extra: int = 0) -> TaskSpec:
    gold = [Example("good", "a", "1"), Example("bad", "b", "2")] + [
        Example(f"more {i}", "a", f"x{i}") for i in range(n_extra)
    ]
    return TaskSpec("t", "en", [Label("a", "A"), Label("b", "B")], gold, unlabeled=[Example("pool", None, "u1")])


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def test_save_and_load_task_round_trip_with_manifest(workspace):
    workspace.save_task(make_spec())
    assert workspace.load_task("t") == make_spec()
    data = workspace.task_dir("t") / "data"
    manifest = json.loads((data / "MANIFEST.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"gold.jsonl", "dev.jsonl", "test.jsonl", "unlabeled.jsonl"}
    assert verify_manifest(data) == []
    (data / "gold.jsonl").write_text("tampered\n", encoding="utf-8")
    assert verify_manifest(data) == ["gold.jsonl"]


def test_crash_while_writing_snapshot_keeps_previous_task(workspace, monkeypatch):
    workspace.save_task(make_spec())
    before = tree(workspace.root)
    calls = {"n": 0}
    real = workspace_mod.atomic_write_jsonl

    def crash_on_third(path, rows):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(path, rows)

    monkeypatch.setattr(workspace_mod, "atomic_write_jsonl", crash_on_third)
    with pytest.raises(OSError, match="disk full"):
        workspace.save_task(make_spec(n_extra=3), overwrite=True)
    assert tree(workspace.root) == before  # no temp dirs left behind either
    assert len(workspace.load_task("t").gold) == 2


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"v": 1})

    def boom(fd):
        raise OSError("fsync failed")

    monkeypatch.setattr(atomic.os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_task_validates_before_writing(workspace):
    bad = make_spec()
    bad.gold = [Example("only", "a")]
    with pytest.raises(TaskError, match="no gold example"):
        workspace.save_task(bad)
    assert not workspace.root.exists()


def test_publish_model_versions_with_manifest(workspace, tmp_path):
    workspace.save_task(make_spec())
    src = tmp_path / "art"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"\x00" * 10)
    v1 = workspace.publish_model("t", src)
    v2 = workspace.publish_model("t", src, extra={"accuracy": 0.9})
    assert [p.name for p in workspace.model_versions("t")] == ["v1", "v2"]
    assert verify_manifest(v1) == [] and json.loads((v2 / "MANIFEST.json").read_text())["accuracy"] == 0.9


def test_root_from_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "h"))
    assert Workspace().root == tmp_path / "h"
    monkeypatch.delenv("FACTORY_HOME")
    assert "model-factory" in str(default_root())


def test_write_manifest_skips_hidden_files(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".tmp").write_text("t")
    files = json.loads(write_manifest(tmp_path).read_text())["files"]
    assert list(files) == ["a.txt"] and files["a.txt"]["bytes"] == 1


def _create(args):
    root, n_extra = args
    from factory.errors import TaskError
    from factory.workspace import Workspace

    try:
        Workspace(root).save_task(make_spec(n_extra))
        return n_extra
    except TaskError:
        return None


def test_two_creators_of_one_task_at_once_one_wins_and_its_data_is_intact(tmp_path):
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(4) as pool:
        results = pool.map(_create, [(str(tmp_path), n) for n in (1, 2, 3, 4)])
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert len(Workspace(tmp_path).load_task("t").gold) == 2 + winners[0]
    assert Workspace(tmp_path).list_tasks() == ["t"]


def test_a_task_name_with_a_trailing_newline_is_refused(workspace):
    from dataclasses import replace

    with pytest.raises(TaskError, match="task name"):
        workspace.save_task(replace(make_spec(), name="t\n"))
    assert workspace.list_tasks() == []
