"""The whole recipe in one call: what ``factory bench`` runs, step for step what the flows run.

The production flow (:mod:`pipelines.flows`) calls the same :mod:`recipe.steps`
functions as Prefect tasks, adding only what needs services: pushing the
questions to Label Studio and publishing the version in the workspace.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.atomic import atomic_write_json

from factory.spec import TaskSpec
from recipe import steps
from recipe.config import RecipeConfig, check_stages


RECIPE_FILE = "recipe.json"


def _inputs_record(spec: TaskSpec, config: RecipeConfig) -> dict:
    import hashlib

    digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return {"config": config.to_dict(), "task_sha256": digest}


def run_recipe(spec: TaskSpec, config: RecipeConfig, work_dir: str | Path, resume: bool = False) -> dict:
    """Task in, exported student out, in ``work_dir``; returns the paths, test metrics and seconds per step.

    ``resume``: when ``work_dir`` holds a run of the same task and config (``recipe.json``), the slow
    steps that finished there (teacher adaptation, generation, labeling) are reused, not redone; the
    cheap ones and the student are always run, so they reflect the code that runs now.
    """
    check_stages(config)
    work = Path(work_dir)
    record = _inputs_record(spec, config)
    previous = work / RECIPE_FILE
    same = resume and previous.is_file() and json.loads(previous.read_text(encoding="utf-8")) == record
    atomic_write_json(previous, record)

    old_snapshot = (work / "spec.json").read_text(encoding="utf-8") if same and (work / "spec.json").is_file() else None
    spec_path = steps.intake(
        spec, work, pool_cap=config.pool_cap, dev_cap=config.dev_cap, test_cap=config.test_cap, seed=config.seed
    )
    # The finished steps are only valid for the same snapshot: if the capping code changed, redo them.
    same = same and old_snapshot == Path(spec_path).read_text(encoding="utf-8")

    def done(folder: Path) -> bool:
        return same and (folder / steps.STEP_FILE).is_file()

    teacher_dir = (
        str(work / "teacher")
        if done(work / "teacher")
        else steps.adapt_teacher(spec_path, config.teacher, str(work / "teacher"))
    )
    samples = []
    if config.synthetic:
        gen = work / "generator"
        samples = [
            str(gen / "samples.jsonl") if done(gen) else steps.generate_samples(spec_path, config.generator, str(gen))
        ]
    if done(work / "labels") and (work / "labels" / "pool.jsonl").is_file():
        emb = work / "labels" / "teacher-embeddings.json"
        labels = {
            "pool": str(work / "labels" / "pool.jsonl"),
            "synthetic": str(work / "labels" / "synthetic.jsonl"),
            "embeddings": str(emb) if emb.is_file() else None,
            "model_version": f"teacher-{work.name}",
        }
    else:
        labels = steps.label_texts(teacher_dir, spec_path, samples, str(work / "labels"))
    kept = steps.filter_synthetic(spec_path, labels["synthetic"], config.generator, str(work / "labels"))
    synthesis = steps.decide_synthesis(
        spec_path, kept, labels.get("embeddings"), str(work / "synthesis"), config.synthetic_use
    )
    questions = steps.pick_questions(labels["pool"], config.questions, [], str(work / "questions"))
    student_dir = steps.distill_student(
        spec_path,
        [labels["pool"]] + ([synthesis["path"]] if synthesis["path"] else []),
        config.student,
        str(work / "student"),
        config.budget,
        config.max_latency_ms,
        labels.get("embeddings"),
    )
    metrics = steps.evaluate_student(student_dir, spec_path, str(work / "eval"))
    teacher_test = (
        steps.score_teacher(teacher_dir, spec_path, str(work / "teacher-test")) if config.score_teacher else None
    )
    export_dir = steps.export_student(
        student_dir, spec_path, metrics, str(work / "export"), teacher_dir, teacher_test, synthesis
    )
    return {
        "spec": spec_path,
        "teacher": teacher_dir,
        "labels": labels,
        "synthetic_kept": kept,
        "synthesis": synthesis,
        "questions": questions,
        "student": student_dir,
        "export": export_dir,
        "metrics": metrics,
        "stage_seconds": steps.report(work),
    }
