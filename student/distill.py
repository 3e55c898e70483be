"""``distill``: the student stage's entry function."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from factory.atomic import atomic_dir, atomic_write_json
from factory.errors import TaskError
from student.artifact import StudentArtifact
from student.build import build_student
from student.config import DistillConfig
from student.data import DistillData
from student.train import TrainJob, run_training

INIT_FILE = "student_init.json"


def prepare_job(data: DistillData, cfg: DistillConfig, out_dir: str | Path) -> TrainJob:
    """Write config, data and the initial student under ``out_dir``; return the job a training process runs.

    The initial student is built once and reused, so a rerun after a crash
    resumes the same run instead of starting a new one.
    """
    data.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "distill_config.json"
    if previous.is_file() and json.loads(previous.read_text(encoding="utf-8")) != cfg.to_dict():
        raise TaskError(
            "an empty out_dir, or one holding a run with the same DistillConfig (to resume it)",
            f"{previous} with a different config",
            "pass a new out_dir for a new configuration",
            where="distill",
        )
    atomic_write_json(out / "distill_config.json", cfg.to_dict())
    data.save(out / "data")
    init = out / "init"
    if not (init / INIT_FILE).is_file():
        with atomic_dir(init) as tmp:
            built = build_student(cfg, data.label_ids, data.language, data.all_texts(), tmp)
            info = {k: v for k, v in asdict(built).items() if k != "model_dir"}
            atomic_write_json(tmp / INIT_FILE, info)
    job = TrainJob(
        init_dir=str(init.resolve()),
        data_dir=str((out / "data").resolve()),
        out_dir=str(out.resolve()),
        config=cfg.to_dict(),
    )
    job.save(out / "train_job.json")
    return job


def distill(
    data: DistillData, cfg: DistillConfig | None = None, out_dir: str | Path = "student-run"
) -> StudentArtifact:
    """Build the student and distill ``data`` into it; resumes a killed run in the same ``out_dir``.

    Returns the :class:`StudentArtifact` of the best dev epoch (model folder,
    label ids, params, history, dev metrics). To train on several GPUs or
    nodes, call :func:`prepare_job` and run ``accelerate launch -m
    student.train --config OUT/train_job.json`` instead.
    """
    cfg = cfg or DistillConfig()
    job = prepare_job(data, cfg, out_dir)
    return run_training(job)
