"""The whole recipe in one call: what ``factory bench`` runs, step for step what the flows run.

The production flow (:mod:`pipelines.flows`) calls the same :mod:`recipe.steps`
functions as Prefect tasks, adding only what needs services: pushing the
questions to Label Studio and publishing the version in the workspace.
"""

from __future__ import annotations

from pathlib import Path

from factory.spec import TaskSpec
from recipe import steps
from recipe.config import RecipeConfig, check_stages


def run_recipe(spec: TaskSpec, config: RecipeConfig, work_dir: str | Path) -> dict:
    """Task in, exported student out, in ``work_dir``; returns the paths, test metrics and seconds per step."""
    check_stages(config)
    work = Path(work_dir)
    spec_path = steps.intake(spec, work, pool_cap=config.pool_cap, dev_cap=config.dev_cap, test_cap=config.test_cap, seed=config.seed)
    teacher_dir = steps.adapt_teacher(spec_path, config.teacher, str(work / "teacher"))
    samples = [steps.generate_samples(spec_path, config.generator, str(work / "generator"))] if config.synthetic else []
    labels = steps.label_texts(teacher_dir, spec_path, samples, str(work / "labels"))
    kept = steps.filter_synthetic(spec_path, labels["synthetic"], config.generator, str(work / "labels"))
    questions = steps.pick_questions(labels["pool"], config.questions, [], str(work / "questions"))
    student_dir = steps.distill_student(spec_path, [labels["pool"], kept], config.student, str(work / "student"), config.budget, config.max_latency_ms)
    metrics = steps.evaluate_student(student_dir, spec_path, str(work / "eval"))
    export_dir = steps.export_student(student_dir, spec_path, metrics, str(work / "export"), teacher_dir)
    return {
        "spec": spec_path,
        "teacher": teacher_dir,
        "labels": labels,
        "synthetic_kept": kept,
        "questions": questions,
        "student": student_dir,
        "export": export_dir,
        "metrics": metrics,
        "stage_seconds": steps.report(work),
    }
