"""A training run killed with SIGKILL after its first checkpoint resumes and ends exactly like an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from student import DistillConfig, DistillData, prepare_job

ROOT = Path(__file__).resolve().parents[2]


def _train_cmd(run: Path) -> list[str]:
    return [sys.executable, "-m", "student.train", "--config", str(run / "train_job.json")]


def _env() -> dict:
    # One thread: identical float reductions in both runs whatever the machine's load.
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="module")
def job_data(eprstmt_spec):
    pool = eprstmt_spec.unlabeled[:600]
    soft = [(e.text, (0.25, 0.75) if len(e.text) % 3 else (0.7, 0.3), 1.0) for e in pool]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)
    data.dev = data.dev[:16]
    return data


def test_killed_run_resumes_from_last_checkpoint_with_the_same_result(tiny_bert, job_data, tmp_path):
    cfg = DistillConfig(student=str(tiny_bert), epochs=3, batch_size=8, max_length=32, patience=10, seed=3)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    prepare_job(job_data, cfg, straight)
    prepare_job(job_data, cfg, killed)
    subprocess.run(_train_cmd(straight), check=True, env=_env(), cwd=ROOT, capture_output=True, timeout=600)

    proc = subprocess.Popen(
        _train_cmd(killed), env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    first = killed / "checkpoints" / "epoch_000" / "trainer_state.json"
    deadline = time.time() + 600
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists(), "the run never wrote its first checkpoint"
    assert not (killed / "student.json").exists(), "the run finished before it could be killed"

    resumed = subprocess.run(
        _train_cmd(killed), check=True, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert "resuming after epoch" in resumed.stdout + resumed.stderr

    a = json.loads((straight / "student.json").read_text())
    b = json.loads((killed / "student.json").read_text())
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3]
    for key in ("train_loss", "dev_loss", "dev_accuracy"):
        assert [h[key] for h in b["history"]] == pytest.approx([h[key] for h in a["history"]], rel=1e-6)
    assert a["best_epoch"] == b["best_epoch"]
    wa, wb = load_file(straight / "best" / "model.safetensors"), load_file(killed / "best" / "model.safetensors")
    assert wa.keys() == wb.keys()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
