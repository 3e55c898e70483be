"""Prefect tasks: each one calls one step of the recipe (:mod:`recipe.steps`) and hands the next files.

Compute tasks persist their (JSON) results and cache on their inputs plus their
source, and every input names the pipeline run directory, so a flow re-run in
the same run returns finished tasks from the cache and only redoes the rest.
Only the Label Studio tasks retry: a failed training step is a bug or bad data,
retrying it would just burn the same hours again, and the workspace's files are
written atomically, so a failed read of one is damage a retry cannot repair.
The bookkeeping tasks (queue, run ledger, buffer) read or change workspace state,
so they never cache: a cached answer would be a stale one, or skip a write.
The ML libraries are imported inside the tasks, never at module import.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE

from factory.atomic import atomic_write_json, read_jsonl
from factory.workspace import Workspace
from pipelines import labelstudio, queue, runs, waterlevel
from pipelines.config import PipelineConfig
from recipe import steps
from recipe.config import check_stages

CACHED = dict(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, result_serializer="json")
# Tasks that read or record workspace state for the flow: never cached, and tagged so the Runs page can leave
# them out of the stages a person waits on.
BOOKKEEPING_TAG = "bookkeeping"
BOOKKEEPING = dict(cache_policy=NO_CACHE, tags=[BOOKKEEPING_TAG])
IO_RETRIES = dict(retries=8, retry_delay_seconds=[2, 4, 8, 15, 30, 30, 30, 30], retry_jitter_factor=0.2)


load_spec = steps.load_spec


@task(name="intake", **CACHED)
def intake(task_name: str, config: dict, run_dir: str, answers: list[dict] | None = None) -> str:
    """``recipe.steps.intake``: snapshot the task (answers join the gold, seeded caps); every stage config checked first."""
    cfg = PipelineConfig.from_dict(config)
    check_stages(cfg)
    atomic_write_json(Path(run_dir) / "pipeline-config.json", cfg.to_dict())
    return steps.intake(
        Workspace().load_task(task_name),
        run_dir,
        pool_cap=cfg.pool_cap,
        dev_cap=cfg.dev_cap,
        test_cap=cfg.test_cap,
        seed=cfg.seed,
        answers=answers,
    )


@task(name="teacher-adapt", **CACHED)
def adapt_teacher(spec_path: str, teacher_config: dict, out_dir: str) -> str:
    """``recipe.steps.adapt_teacher``: the committee on the gold set, saved in ``out_dir``."""
    return steps.adapt_teacher(spec_path, teacher_config, out_dir)


@task(name="generate", **CACHED)
def generate_samples(spec_path: str, generator_config: dict, out_dir: str) -> str:
    """``recipe.steps.generate_samples`` (runs beside the teacher, so without its filter)."""
    return steps.generate_samples(spec_path, generator_config, out_dir)


@task(name="fill-buffer")
def fill_buffer(task_name: str, generator_config: dict, teacher_dir: str | None, target: int) -> dict:
    """``generator.fill_buffer``: keep ``target`` samples ready in the task's buffer for the next round."""
    from generator import GeneratorConfig
    from generator import fill_buffer as fill

    return fill(
        Workspace(),
        task_name,
        GeneratorConfig.from_dict(generator_config),
        teacher_dir=teacher_dir,
        target=target,
        progress=False,
    )


@task(name="buffer-chunks", **BOOKKEEPING)
def buffer_chunks(task_name: str) -> list[str]:
    """``generator.buffer.chunk_paths``: the complete sample chunks in the task's buffer, in write order."""
    from generator.buffer import chunk_paths

    return [str(p) for p in chunk_paths(Workspace(), task_name)]


@task(name="teacher-label", **CACHED)
def label_texts(teacher_dir: str, spec_path: str, sample_paths: list[str], out_dir: str) -> dict:
    """``recipe.steps.label_texts``: soft labels for the pool and the synthetic samples."""
    return steps.label_texts(teacher_dir, spec_path, sample_paths, out_dir)


@task(name="filter-synthetic", **CACHED)
def filter_synthetic(spec_path: str, synthetic_path: str, generator_config: dict, out_dir: str) -> str:
    """``recipe.steps.filter_synthetic``: drop samples the teacher disagrees with."""
    return steps.filter_synthetic(spec_path, synthetic_path, generator_config, out_dir)


@task(name="decide-synthesis", **CACHED)
def decide_synthesis(spec_path: str, kept_path: str, embeddings: str | None, out_dir: str, rule: str = "dev") -> dict:
    """``recipe.steps.decide_synthesis``: the student gets the kept samples only where they help on dev."""
    return steps.decide_synthesis(spec_path, kept_path, embeddings, out_dir, rule)


@task(name="asked-questions", **BOOKKEEPING)
def asked_texts(task_name: str) -> list[str]:
    """``queue.asked_texts``: texts already pushed or answered, which the question picker leaves out."""
    return queue.asked_texts(Workspace(), task_name)


@task(name="select-questions", **CACHED)
def pick_questions(pool_path: str, k: int, exclude: list[str], out_dir: str) -> str:
    """``recipe.steps.pick_questions`` over pool items not asked before."""
    return steps.pick_questions(pool_path, k, exclude, out_dir)


@task(name="push-questions", **IO_RETRIES)
def push_questions(spec_path: str, questions_path: str, model_version: str) -> dict:
    """``labelstudio.push_questions`` (idempotent, so retries never duplicate)."""
    return labelstudio.push_questions(load_spec(spec_path), read_jsonl(questions_path), model_version)


@task(name="pull-answers", **IO_RETRIES)
def pull_answers(task_name: str) -> list[dict]:
    """``labelstudio.pull_answers`` into the workspace queue; returns the answers."""
    labelstudio.pull_answers(task_name)
    return queue.read_answers(Workspace(), task_name)


@task(name="frozen-answers", **BOOKKEEPING)
def frozen_answers(run_dir: str) -> list[dict] | None:
    """``runs.frozen_answers``: the answers a resumed iteration froze at its start, ``None`` in a new run."""
    return runs.frozen_answers(run_dir)


@task(name="freeze-answers", **BOOKKEEPING)
def freeze_answers(run_dir: str, answers: list[dict]) -> list[dict]:
    """``runs.freeze_answers``: the answers this iteration trains on, however often it is resumed."""
    return runs.freeze_answers(run_dir, answers)


@task(name="mark-consumed", **BOOKKEEPING)
def mark_consumed(task_name: str, answers: list[dict]) -> dict:
    """``queue.mark_consumed``: the iteration trained on ``answers``; only later ones raise the water level."""
    return queue.mark_consumed(Workspace(), task_name, answers)


@task(name="queues-to-sync", cache_policy=NO_CACHE)
def queues_to_sync() -> dict[str, str]:
    """``queue.tasks_to_sync``: tasks with open questions (or an unannounced water level), from workspace files."""
    return queue.tasks_to_sync(Workspace())


@task(name="water-level", cache_policy=NO_CACHE)
def check_water_level(task_name: str) -> dict:
    """``waterlevel.check_and_emit``: the level status; the event goes out once when the level is reached."""
    return waterlevel.check_and_emit(task_name, Workspace())


@task(name="distill", **CACHED)
def distill_student(
    spec_path: str,
    soft_paths: list[str],
    student_config: dict,
    out_dir: str,
    budget: str = "balanced",
    max_latency_ms: float | None = None,
    embeddings: str | None = None,
) -> str:
    """``recipe.steps.distill_student``: the budget's student kinds on gold (+ human answers) and the soft labels."""
    return steps.distill_student(spec_path, soft_paths, student_config, out_dir, budget, max_latency_ms, embeddings)


@task(name="teacher-test", **CACHED)
def score_teacher(teacher_dir: str, spec_path: str, out_dir: str) -> dict:
    """``recipe.steps.score_teacher``: the teacher on the student's test texts."""
    return steps.score_teacher(teacher_dir, spec_path, out_dir)


@task(name="evaluate", **CACHED)
def evaluate_student(artifact_dir: str, spec_path: str, out_dir: str) -> dict:
    """``recipe.steps.evaluate_student`` on the task's test set."""
    return steps.evaluate_student(artifact_dir, spec_path, out_dir)


@task(name="export", **CACHED)
def export_student(
    artifact_dir: str,
    spec_path: str,
    metrics: dict,
    out_dir: str,
    teacher_dir: str | None = None,
    teacher_test: dict | None = None,
    synthesis: dict | None = None,
) -> str:
    """``recipe.steps.export_student``: HF folder (fp16) + one parity-checked ONNX file + card, zipped."""
    return steps.export_student(artifact_dir, spec_path, metrics, out_dir, teacher_dir, teacher_test, synthesis)


@task(name="publish", **CACHED)
def publish(task_name: str, export_dir: str, extra: dict) -> str:
    """``Workspace.publish_model``: the export becomes the next version ``v<N>`` with its metrics."""
    return str(Workspace().publish_model(task_name, Path(export_dir), extra=extra))


@task(name="published-version", **BOOKKEEPING)
def published_version(version_dir: str) -> dict:
    """``runs.published_version``: the version's name, folder and zip for the flow's result."""
    return runs.published_version(version_dir)


@task(name="run-report")
def run_report(run_dir: str) -> dict:
    """``recipe.steps.report``: seconds per step of this run, for the published version's record."""
    return steps.report(run_dir)


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(task_name: str, kind: str, config: dict, resume: bool = True) -> str:
    """``runs.open_named_run`` for the current flow run, which takes the run directory's name (``pipeline-<kind>-<n>``).

    One name everywhere: the ledger, the published manifest's ``run``, the Runs page and Prefect. The ledger
    records the flow run's id, so the Runs page joins it with Prefect's record.
    """
    from prefect.runtime import flow_run

    return str(runs.open_named_run(Workspace(), task_name, kind, config, resume, flow_run.get_id()))


@task(name="last-finished-run", **BOOKKEEPING)
def last_finished_run(task_name: str, kind: str) -> str | None:
    """``runs.last_finished``: the newest finished run of ``kind`` (its samples and teacher), or ``None``."""
    return runs.last_finished(Workspace(), task_name, kind)


@task(name="finish-run", **BOOKKEEPING)
def finish_run(run_dir: str, info: dict) -> dict:
    """``runs.finish_run``: the run is done with ``info``, so the next start of its kind opens a new run."""
    return runs.finish_run(run_dir, **info)
