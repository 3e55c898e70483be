"""A 2-process DDP run (gloo, CPU) of the student loop scores like the 1-process run.

Both runs train the same job (same initial student, data, seed and global
batch) through ``student.train``'s entry point: once as a plain process, once
under ``torchrun`` with the command and environment built by
:mod:`pipelines.launch_plan`. Accuracy on the whole SST-2 test set (1,821 texts)
must agree within one point; the runs differ only in dropout masks and the
order of floating-point reductions (measured: 70.8% vs 70.9%).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from intake.benchmark_data import load_benchmark_task
from pipelines.launch_plan import ResourcesConfig, launch_command, launch_env, plan_launch

ROOT = Path(__file__).resolve().parents[2]
GLOBAL_BATCH = 16


def _run(cmd: list[str], env: dict, timeout: int = 600) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def _job(tmp: Path, name: str, per_device_batch: int):
    from student import DistillConfig, DistillData, prepare_job

    spec = load_benchmark_task("sst2", split=0, shots=32)
    # No dev set: both runs keep their last epoch, so model selection cannot differ between them.
    spec = replace(spec, dev=[], unlabeled=[])
    cfg = DistillConfig(
        student="all-minilm-l6-v2", epochs=4, batch_size=per_device_batch, max_length=48, lr=3e-4, patience=4, seed=0
    )
    job = prepare_job(DistillData.from_spec(spec), cfg, tmp / name)
    return spec, job, tmp / name / "train_job.json"


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_two_process_ddp_matches_one_process_accuracy(tmp_path):
    from student import evaluate
    from student.artifact import StudentArtifact

    # One thread a process: the 1-process run is not slowed by oversubscribing shared cores.
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(ROOT),
    }
    accuracies = {}
    for procs in (1, 2):
        res = ResourcesConfig(procs_per_node=procs, device="cpu", mixed_precision="no", strategy="ddp")
        spec, job, job_path = _job(tmp_path, f"p{procs}", GLOBAL_BATCH // procs)
        plan = plan_launch(Path(job.init_dir), res, GLOBAL_BATCH, 48)
        assert (plan.world_size, plan.per_device_batch, plan.grad_accum) == (procs, GLOBAL_BATCH // procs, 1)
        if procs == 1:
            cmd = [sys.executable, "-m", "student.train", "--config", str(job_path)]
        else:
            cmd = launch_command(plan, "student.train", job_path, python=sys.executable)
        _run(cmd, {**env, **launch_env(plan)})
        art = StudentArtifact.load(job.out_dir)
        accuracies[procs] = evaluate(art, spec.test, tmp_path / f"eval{procs}", speed_texts=0)["accuracy"]
        assert [h["epoch"] for h in art.history] == [1, 2, 3, 4]
    print(f"test accuracy: 1 process {accuracies[1]:.3f}, 2 processes {accuracies[2]:.3f}")
    assert accuracies[1] > 0.6, (
        f"the 1-process student did not learn (accuracy {accuracies[1]:.3f}); the comparison would be vacuous"
    )
    assert abs(accuracies[1] - accuracies[2]) <= 0.01 + 1e-9, (
        f"1 process {accuracies[1]:.3f} vs 2 processes {accuracies[2]:.3f}"
    )
