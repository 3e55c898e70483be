"""The factory's flows: production, iteration (after the water level) and queue sync.

Flow bodies only call tasks (:mod:`pipelines.tasks`), each of which calls one library function: every
file read or write happens in a task, Prefect's unit of retries and caching. Both
training flows work in a pipeline run directory from :mod:`pipelines.runs`, so
running one again after a crash picks up the finished tasks from Prefect's
result cache and continues where it stopped. The flow run takes that
directory's name (``pipeline-production-3``) however it was started, so Prefect,
the Runs page and the published version all say the same run.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.task_runners import ProcessPoolTaskRunner

from pipelines import tasks as t
from pipelines.config import PipelineConfig


def _runner() -> ProcessPoolTaskRunner:
    # Processes, not threads: teacher and generator train/generate at the same time
    # without sharing a GIL, and transformers' lazy imports are not thread-safe.
    return ProcessPoolTaskRunner(max_workers=2)


def _config(config: dict | None) -> dict:
    return PipelineConfig.from_dict(config).to_dict()


def _train_and_publish(
    task_name: str, cfg: dict, rdir: Path, spec_path: str, teacher_dir: str, sample_paths: list[str], extra: dict
) -> dict:
    """Shared tail: label, queue questions, distill, evaluate, export, publish."""
    labels = t.label_texts(teacher_dir, spec_path, sample_paths, str(rdir / "labels"))
    kept = t.filter_synthetic(spec_path, labels["synthetic"], cfg["generator"], str(rdir / "labels"))
    synthesis = t.decide_synthesis(
        spec_path, kept, labels.get("embeddings"), str(rdir / "synthesis"), cfg["synthetic_use"]
    )
    questions = t.pick_questions(labels["pool"], cfg["questions"], t.asked_texts(task_name), str(rdir / "questions"))
    pushed = t.push_questions.submit(spec_path, questions, labels["model_version"])
    art = t.distill_student(
        spec_path,
        [labels["pool"]] + ([synthesis["path"]] if synthesis["path"] else []),
        cfg["student"],
        str(rdir / "student"),
        cfg["budget"],
        cfg["max_latency_ms"],
        labels.get("embeddings"),
    )
    metrics = t.evaluate_student(art, spec_path, str(rdir / "eval"))
    teacher_test = t.score_teacher(teacher_dir, spec_path, str(rdir / "teacher-test")) if cfg["score_teacher"] else None
    export_dir = t.export_student(art, spec_path, metrics, str(rdir / "export"), teacher_dir, teacher_test, synthesis)
    stage_seconds = t.run_report(str(rdir))
    version = t.publish(
        task_name,
        export_dir,
        {"metrics": metrics, "run": rdir.name, "stage_seconds": stage_seconds, "synthesis": synthesis, **extra},
    )
    push_info = pushed.result()
    return {
        **t.published_version(version),
        "metrics": metrics,
        "questions": push_info,
        "stage_seconds": stage_seconds,
        "synthesis": synthesis,
    }


@flow(name="production", log_prints=True, task_runner=_runner())
def production(task_name: str, config: dict | None = None, resume: bool = True) -> dict:
    """Task in, model out: teacher + generator in parallel, labels, questions to humans, student, artifact."""
    logger = get_run_logger()
    cfg = _config(config)
    rdir = Path(t.open_run(task_name, "production", cfg, resume))
    logger.info("pipeline run %s", rdir)
    spec_path = t.intake(task_name, cfg, str(rdir))
    teacher_f = t.adapt_teacher.submit(spec_path, cfg["teacher"], str(rdir / "teacher"))
    samples = (
        [t.generate_samples.submit(spec_path, cfg["generator"], str(rdir / "generator"))] if cfg["synthetic"] else []
    )
    out = _train_and_publish(
        task_name,
        cfg,
        rdir,
        spec_path,
        teacher_f.result(),
        [f.result() for f in samples],
        {"kind": "production", "human_answers": 0},
    )
    t.finish_run(str(rdir), {"version": out["version"], "zip": out["zip"]})
    logger.info("published %s: %s", out["version"], out["zip"])
    return out


@flow(name="iteration", log_prints=True, task_runner=_runner())
def iteration(task_name: str, config: dict | None = None, resume: bool = True) -> dict:
    """After the water level: teacher update with the new gold, relabel, retrain, publish the next version."""
    logger = get_run_logger()
    cfg = _config(config)
    rdir = Path(t.open_run(task_name, "iteration", cfg, resume))
    # The answers are frozen at the run's start, so a resumed run trains on the same gold (and asks no server).
    answers = t.frozen_answers(str(rdir))
    if answers is None:
        answers = t.freeze_answers(str(rdir), t.pull_answers(task_name))
    logger.info("iteration on %d human answers in %s", len(answers), rdir)
    spec_path = t.intake(task_name, cfg, str(rdir), answers=answers)
    teacher_f = t.adapt_teacher.submit(spec_path, cfg["teacher"], str(rdir / "teacher"))
    prod = t.last_finished_run(task_name, "production")
    sample_paths = [str(Path(prod) / "generator" / "samples.jsonl")] if prod and cfg["synthetic"] else []
    buffer_f = None
    if cfg["buffer_target"] and cfg["synthetic"]:
        # The previous teacher filters the buffer: the updated one is still training beside it.
        prev_teacher = str(Path(prod) / "teacher") if prod else None
        buffer_f = t.fill_buffer.submit(task_name, cfg["generator"], prev_teacher, cfg["buffer_target"])
    teacher_dir = teacher_f.result()
    if buffer_f is not None:
        buffer_f.result()
        sample_paths += t.buffer_chunks(task_name)
    out = _train_and_publish(
        task_name, cfg, rdir, spec_path, teacher_dir, sample_paths, {"kind": "iteration", "human_answers": len(answers)}
    )
    t.mark_consumed(task_name, answers)
    t.finish_run(str(rdir), {"version": out["version"], "zip": out["zip"], "human_answers": len(answers)})
    logger.info("published %s after %d answers", out["version"], len(answers))
    return out


@flow(name="sync-queues", log_prints=True)
def sync_queues(task_names: list[str] | None = None) -> dict:
    """Pull answers of tasks with open questions and emit the water-level event where it is reached.

    Without ``task_names`` the tasks come from :func:`pipelines.queue.tasks_to_sync` (workspace files only):
    an idle run, with no question open anywhere, makes that one check and never contacts Label Studio.
    """
    names = task_names or list(t.queues_to_sync())
    status = {}
    for name in names:
        t.pull_answers(name)
        status[name] = t.check_water_level(name)
    return status
