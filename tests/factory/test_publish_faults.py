"""Publishing a model version under real faults: ``kill -9`` mid-copy, two publishers at once, a killed task create.

Each fault happens to a real child process; the assertions are on what a
reader of the workspace then sees.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from factory.atomic import verify_manifest
from factory.spec import Example, Label, TaskSpec
from factory.workspace import Workspace

PUBLISH = r"""
import sys
from pathlib import Path
from factory.workspace import Workspace
Workspace(sys.argv[1]).publish_model("t", Path(sys.argv[2]), extra={"by": "child"})
"""


def _source(root: Path, files: int, size: int, tag: str = "") -> Path:
    src = root / f"export{tag}"
    (src / "model").mkdir(parents=True)
    for i in range(files):
        (src / "model" / f"part-{i:04d}.bin").write_bytes(os.urandom(size))
    (src / "tag.txt").write_text(tag or "only", encoding="utf-8")
    return src


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.01)
    assert proc.poll() is None, "the child finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_publish_killed_mid_copy_leaves_no_version_and_the_next_publish_cleans_up(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _source(tmp_path, files=400, size=256 * 1024)  # 100 MB: the copy takes long enough to be caught
    models = ws.models_dir("t")
    proc = subprocess.Popen([sys.executable, "-c", PUBLISH, str(ws.root), str(src)])
    _kill_when(proc, lambda: any(len(list((p / "model").glob("*"))) > 20 for p in models.glob(".v1.*.tmp")))
    assert ws.model_versions("t") == []
    assert list(models.glob(".v1.*.tmp")), "the killed publish should have left its temporary copy"
    v = ws.publish_model("t", _source(tmp_path, files=3, size=1024, tag="-next"))
    assert v.name == "v1" and verify_manifest(v) == []
    assert (v / "tag.txt").read_text(encoding="utf-8") == "-next"
    assert not list(models.glob(".*.tmp"))


def _publish(args) -> str:
    root, src = args
    return Workspace(root).publish_model("t", Path(src)).name


def test_two_publishers_at_once_get_two_intact_versions(tmp_path):
    ws = Workspace(tmp_path / "ws")
    srcs = [_source(tmp_path, files=40, size=64 * 1024, tag=f"-{i}") for i in range(3)]
    with mp.get_context("spawn").Pool(3) as pool:
        names = pool.map(_publish, [(str(ws.root), str(s)) for s in srcs])
    assert sorted(names) == ["v1", "v2", "v3"]
    tags = sorted((v / "tag.txt").read_text(encoding="utf-8") for v in ws.model_versions("t"))
    assert tags == ["-0", "-1", "-2"]
    assert all(verify_manifest(v) == [] for v in ws.model_versions("t"))


def test_published_versions_hold_no_hidden_lock_or_temp_files(tmp_path):
    ws = Workspace(tmp_path / "ws")
    src = _source(tmp_path, files=1, size=10)
    (src / ".eprstmt-student.lock").write_text("", encoding="utf-8")
    (src / ".half.zip.abc.tmp").write_bytes(b"partial")
    v = ws.publish_model("t", src)
    assert sorted(p.name for p in v.iterdir()) == ["MANIFEST.json", "model", "tag.txt"]


CREATE = r"""
import sys
from factory.spec import Example, Label, TaskSpec
from factory.workspace import Workspace
n = int(sys.argv[2])
gold = [Example(f"text {i} " + "x" * 2000, "ab"[i % 2], str(i)) for i in range(n)]
Workspace(sys.argv[1]).save_task(TaskSpec("t", "en", [Label("a", "A"), Label("b", "B")], gold))
"""


def test_a_task_create_killed_mid_write_keeps_nothing_half_written_and_the_next_create_cleans_up(tmp_path):
    ws = Workspace(tmp_path / "ws")
    data = ws.task_dir("t")
    proc = subprocess.Popen([sys.executable, "-c", CREATE, str(ws.root), "60000"])  # 120 MB of gold to write
    _kill_when(proc, lambda: any(data.glob(".data.*.tmp")))
    assert not ws.has_task("t")
    assert list(data.glob(".data.*.tmp"))
    gold = [Example("good", "a", "1"), Example("bad", "b", "2")]
    ws.save_task(TaskSpec("t", "en", [Label("a", "A"), Label("b", "B")], gold))
    assert len(ws.load_task("t").gold) == 2
    assert not list(data.glob(".*.tmp"))
