"""Export under real faults: a write limit hit mid-export and ``kill -9`` mid-export leave no partial artifact.

The faults are real: the export runs in a child process, which either gets a
file-size limit from the kernel (``RLIMIT_FSIZE``: writes past it fail with
EFBIG, as they fail with ENOSPC on a full disk) or is killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.atomic import verify_manifest
from student import DistillConfig, DistillData, StudentArtifact, distill, export_artifact

NAME = "eprstmt-student"

# Runs an export of the artifact at argv[1] into argv[2]; argv[3] is a byte limit on any file written (0: none).
CHILD = r"""
import resource, signal, sys
from intake.benchmark_data import load_benchmark_task
from factory.errors import FactoryError
from student import StudentArtifact, export_artifact

art_dir, out_dir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
art, spec = StudentArtifact.load(art_dir), load_benchmark_task("eprstmt", split=0)
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit then fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    export_artifact(art, spec, out_dir, metrics={"accuracy": 0.5})
except FactoryError as e:
    print(e)
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def artifact(tiny_bert, eprstmt_spec, tmp_path_factory) -> Path:
    soft = [(e.text, (0.3, 0.7)) for e in eprstmt_spec.unlabeled[:32]]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)
    data.dev = data.dev[:8]
    out = tmp_path_factory.mktemp("export-faults") / "run"
    distill(data, DistillConfig(student=str(tiny_bert), batch_size=16, max_length=32, epochs=1), out_dir=out)
    return out


def _child(art: Path, out: Path, limit: int = 0) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(art), str(out), str(limit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.endswith((".tmp", ".old"))) if out.is_dir() else []


def _assert_clean_export(out: Path) -> None:
    assert (out / f"{NAME}.zip").is_file()
    assert verify_manifest(out / NAME) == []
    assert _leftovers(out) == []


def _largest_file(folder: Path) -> int:
    return max(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("where", ["while building the folder", "while writing the zip"])
def test_a_disk_that_fills_during_export_leaves_no_partial_artifact_and_a_clear_error(
    artifact, eprstmt_spec, tmp_path, where
):
    good = export_artifact(StudentArtifact.load(artifact), eprstmt_spec, tmp_path / "good")
    largest = _largest_file(tmp_path / "good" / NAME)
    assert good.stat().st_size > largest  # so a limit just above the largest file fails only the zip
    limit = 64 * 1024 if where.startswith("while building") else largest + 1024
    out = tmp_path / "out"
    proc = _child(artifact, out, limit)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr[-2000:]
    assert "room on disk" in stdout and "nothing partial was published" in stdout
    assert "Traceback" not in stdout + stderr
    assert not (out / f"{NAME}.zip").exists() and not (out / NAME).exists()
    assert _leftovers(out) == []
    # With room again, the same export succeeds in the same folder.
    export_artifact(StudentArtifact.load(artifact), eprstmt_spec, out)
    _assert_clean_export(out)


def test_an_export_killed_mid_way_publishes_nothing_and_the_next_export_cleans_up(artifact, eprstmt_spec, tmp_path):
    out = tmp_path / "out"
    proc = _child(artifact, out)
    deadline = time.monotonic() + 300
    # Kill once the half-built folder holds the copied model: the export is then mid-way.
    while time.monotonic() < deadline and proc.poll() is None:
        if any((p / "model" / "config.json").is_file() for p in out.glob(f".{NAME}.*.tmp")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the export finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / f"{NAME}.zip").exists() and not (out / NAME).exists()
    assert _leftovers(out), "the killed export should have left its temporary folder"
    export_artifact(StudentArtifact.load(artifact), eprstmt_spec, out)
    _assert_clean_export(out)
    meta = json.loads((out / NAME / "student.json").read_text(encoding="utf-8"))
    assert meta["task"] == "eprstmt"
