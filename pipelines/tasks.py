"""Prefect tasks: each one calls one library function and hands the next files, not objects.

Compute tasks persist their (JSON) results and cache on their inputs plus their
source, and every input names the pipeline run directory, so a flow re-run in
the same run returns finished tasks from the cache and only redoes the rest.
Only the Label Studio tasks retry: a failed training step is a bug or bad data,
retrying it would just burn the same hours again. The ML libraries are imported
inside the tasks, never at module import.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from factory.atomic import atomic_write_json, atomic_write_jsonl, read_jsonl
from factory.spec import Example, TaskSpec
from factory.workspace import Workspace
from pipelines import labelstudio, queue
from pipelines.config import PipelineConfig

CACHED = dict(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, result_serializer="json")
IO_RETRIES = dict(retries=8, retry_delay_seconds=[2, 4, 8, 15, 30, 30, 30, 30], retry_jitter_factor=0.2)


def load_spec(spec_path: str) -> TaskSpec:
    return TaskSpec.from_dict(json.loads(Path(spec_path).read_text(encoding="utf-8")))


@task(name="intake", **CACHED)
def intake(task_name: str, config: dict, run_dir: str, answers: list[dict] | None = None) -> str:
    """Snapshot the task (human answers join the gold set; capped splits) and check every stage config."""
    from generator import GeneratorConfig
    from student import DistillConfig
    from teacher import TeacherConfig

    cfg = PipelineConfig.from_dict(config)
    TeacherConfig.from_dict(cfg.teacher).validate()
    GeneratorConfig.from_dict(cfg.generator).validate()
    DistillConfig.from_dict(cfg.student).validate()
    spec = Workspace().load_task(task_name)
    answered = {a["text"] for a in answers or []}
    gold_texts = {e.text for e in spec.gold}
    spec.gold = spec.gold + [Example(a["text"], a["label"], a.get("factory_id")) for a in answers or [] if a["text"] not in gold_texts]
    spec.unlabeled = [e for e in spec.unlabeled if e.text not in answered][: cfg.pool_cap]
    spec.dev = spec.dev[: cfg.dev_cap]
    spec.test = spec.test[: cfg.test_cap]
    out = Path(run_dir) / "spec.json"
    atomic_write_json(out, spec.to_dict())
    atomic_write_json(Path(run_dir) / "pipeline-config.json", cfg.to_dict())
    return str(out)


@task(name="teacher-adapt", **CACHED)
def adapt_teacher(spec_path: str, teacher_config: dict, out_dir: str) -> str:
    """``teacher.adapt`` on the gold set; the adapted teacher is saved in ``out_dir``."""
    from teacher import TeacherConfig, adapt

    adapt(load_spec(spec_path), TeacherConfig.from_dict(teacher_config), out_dir=out_dir)
    return out_dir


@task(name="generate", **CACHED)
def generate_samples(spec_path: str, generator_config: dict, out_dir: str) -> str:
    """``generator.generate`` (runs beside the teacher, so without its filter); samples in ``out_dir``."""
    from generator import GeneratorConfig, generate

    generate(load_spec(spec_path), GeneratorConfig.from_dict(generator_config), out_dir=out_dir, progress=False)
    return str(Path(out_dir) / "samples.jsonl")


@task(name="fill-buffer")
def fill_buffer(task_name: str, generator_config: dict, teacher_dir: str | None, target: int) -> dict:
    """``generator.fill_buffer``: keep ``target`` samples ready in the task's buffer for the next round."""
    from generator import GeneratorConfig
    from generator import fill_buffer as fill

    return fill(Workspace(), task_name, GeneratorConfig.from_dict(generator_config), teacher_dir=teacher_dir, target=target, progress=False)


@task(name="teacher-label", **CACHED)
def label_texts(teacher_dir: str, spec_path: str, sample_paths: list[str], out_dir: str) -> dict:
    """``Teacher.label`` on the unlabeled pool and the synthetic samples; probabilities as JSONL."""
    from teacher import Teacher

    spec = load_spec(spec_path)
    samples = [r for p in sample_paths if Path(p).is_file() for r in read_jsonl(p)]
    pool = [e.text for e in spec.unlabeled]
    res = Teacher.load(teacher_dir).label(pool + [s["text"] for s in samples], progress=False)
    probs = res.probs.tolist()
    out = Path(out_dir)
    pool_path = atomic_write_jsonl(out / "pool.jsonl", [{"text": t, "probs": p} for t, p in zip(pool, probs)])
    syn_path = atomic_write_jsonl(out / "synthetic.jsonl", [{"text": s["text"], "label": s["label"], "probs": p} for s, p in zip(samples, probs[len(pool):])])
    return {"pool": str(pool_path), "synthetic": str(syn_path), "model_version": f"teacher-{Path(teacher_dir).parent.name}"}


@task(name="filter-synthetic", **CACHED)
def filter_synthetic(spec_path: str, synthetic_path: str, generator_config: dict, out_dir: str) -> str:
    """``generator.filters.teacher_agreement``: drop samples the adapted teacher disagrees with."""
    from generator import GeneratorConfig
    from generator.filters import teacher_agreement

    spec = load_spec(spec_path)
    rows = read_jsonl(synthetic_path)
    threshold = GeneratorConfig.from_dict(generator_config).teacher_threshold
    keep = teacher_agreement([r["probs"] for r in rows], [spec.label_index(r["label"]) for r in rows], threshold) if rows else []
    return str(atomic_write_jsonl(Path(out_dir) / "synthetic-kept.jsonl", [r for r, k in zip(rows, keep) if k]))


@task(name="select-questions", **CACHED)
def pick_questions(pool_path: str, k: int, exclude: list[str], out_dir: str) -> str:
    """``teacher.select_questions`` over pool items not asked before; rows ``{text, probs}``."""
    from teacher import select_questions

    skip = set(exclude)
    rows = [r for r in read_jsonl(pool_path) if r["text"] not in skip]
    idx = select_questions([r["probs"] for r in rows], [r["text"] for r in rows], k=k) if rows else []
    return str(atomic_write_jsonl(Path(out_dir) / "questions.jsonl", [rows[i] for i in idx]))


@task(name="push-questions", **IO_RETRIES)
def push_questions(spec_path: str, questions_path: str, model_version: str) -> dict:
    """``labelstudio.push_questions`` (idempotent, so retries never duplicate)."""
    return labelstudio.push_questions(load_spec(spec_path), read_jsonl(questions_path), model_version)


@task(name="pull-answers", **IO_RETRIES)
def pull_answers(task_name: str) -> list[dict]:
    """``labelstudio.pull_answers`` into the workspace queue; returns the answers."""
    labelstudio.pull_answers(task_name)
    return queue.read_answers(Workspace(), task_name)


@task(name="distill", **CACHED)
def distill_student(spec_path: str, soft_paths: list[str], student_config: dict, out_dir: str) -> str:
    """``student.distill`` on gold (+ human answers) and the teacher's soft labels; artifact in ``out_dir``."""
    from student import DistillConfig, DistillData, distill

    soft = [(r["text"], r["probs"]) for p in soft_paths for r in read_jsonl(p)]
    art = distill(DistillData.from_spec(load_spec(spec_path), soft=soft), DistillConfig.from_dict(student_config), out_dir=out_dir)
    art.save()
    return out_dir


@task(name="evaluate", **CACHED)
def evaluate_student(artifact_dir: str, spec_path: str, out_dir: str) -> dict:
    """``student.evaluate`` on the task's test set; returns the JSON metrics."""
    from student import StudentArtifact
    from student.evaluate import evaluate

    metrics = evaluate(StudentArtifact.load(artifact_dir), load_spec(spec_path).test, out_dir)
    return json.loads(json.dumps(metrics, default=str))


@task(name="export", **CACHED)
def export_student(artifact_dir: str, spec_path: str, metrics: dict, out_dir: str) -> str:
    """``student.export_artifact``: HF folder + ONNX + int8 + card, zipped."""
    from student import StudentArtifact
    from student.export import export_artifact

    export_artifact(StudentArtifact.load(artifact_dir), load_spec(spec_path), out_dir, metrics=metrics)
    return out_dir


@task(name="publish", **CACHED)
def publish(task_name: str, export_dir: str, extra: dict) -> str:
    """``Workspace.publish_model``: the export becomes the next version ``v<N>`` with its metrics."""
    return str(Workspace().publish_model(task_name, Path(export_dir), extra=extra))
