"""The whole factory on a benchmark task, beside its baselines, in one run — through the recipe.

The factory's rows come from :func:`recipe.run_recipe`, the same steps the
production flow runs as Prefect tasks; the ablations and baselines reuse its
files (the spec with its seeded caps, the committee, the soft labels):

- ``tfidf-lr`` and ``setfit`` (the best bundled backbone for the language) on the same gold and test;
- one row per committee member (``teacher-embedding``, ``teacher-llm``) and ``teacher-committee``;
- ``student-gold`` (gold alone), ``factory-student-no-synthetic`` (gold + the pool's soft labels),
  ``factory-student`` (the recipe's published student: that plus the filtered synthetic samples where
  dev says they help, :func:`recipe.steps.decide_synthesis`; otherwise the same student as the row above).

Model selection only ever looks at dev; test is scored once per system at the end.
Budgets are files: ``configs/bench-quick.yaml`` (``--quick``) and ``configs/bench-full.yaml``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from pydantic import Field

from benchmarks.baselines import setfit_baseline, tfidf_lr
from benchmarks.record import result_row
from benchmarks.tasks import with_task_settings
from factory.config import CONFIGS_DIR, StageConfig
from factory.spec import TaskSpec
from recipe import RecipeConfig, run_recipe
from recipe import steps


class BenchPreset(StageConfig):
    """A benchmark budget, ``configs/bench-<name>.yaml``: the recipe's caps and stage settings plus the baselines'."""

    recipe: dict  # RecipeConfig fields
    setfit_iterations: int = Field(ge=1)  # SetFit's pair iterations
    setfit_max_steps: int | None = Field(ge=1)  # caps SetFit's contrastive steps; None = no cap
    pool_ladder: list[int]  # extra no-synthetic students on the first n soft-labeled pool texts


def bench_preset(quick: bool) -> BenchPreset:
    """``configs/bench-quick.yaml`` (``--quick``) or ``configs/bench-full.yaml``."""
    return BenchPreset.load(CONFIGS_DIR / f"bench-{'quick' if quick else 'full'}.yaml")


SETFIT_BACKBONE = {"zh": "embeddinggemma-300m", "en": "embeddinggemma-300m"}


def _probs_row(
    system: str, probs: np.ndarray, test, spec: TaskSpec, params: int, seconds: float, label_seconds: float, **extra
) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    from teacher.calibration import expected_calibration_error

    y = np.array([spec.label_index(e.label) for e in test])
    pred = probs.argmax(1)
    return result_row(
        system,
        accuracy=float(accuracy_score(y, pred)),
        macro_f1=float(f1_score(y, pred, average="macro")),
        ece=float(expected_calibration_error(probs, y)),
        params=params,
        seconds=round(seconds + label_seconds, 2),
        texts_per_second=round(len(test) / max(label_seconds, 1e-9), 2),
        **extra,
    )


def _student_row(
    system: str, spec_path: str, student_dir: str, work: Path, metrics: dict | None = None, **extra
) -> dict:
    from student import StudentArtifact

    m = metrics or steps.evaluate_student(student_dir, spec_path, str(work / f"eval-{system}"))
    art = StudentArtifact.load(student_dir)
    secs = steps.report(Path(student_dir).parent).get("distill")
    from student.ladder import read_ladder

    ladder = read_ladder(student_dir) or {}
    extra.setdefault("kind", ladder.get("published"))
    return result_row(
        system,
        accuracy=m["accuracy"],
        macro_f1=m["macro_f1"],
        params=art.params,
        seconds=secs,
        texts_per_second=m.get("texts_per_second"),
        dev_accuracy=art.dev_metrics.get("accuracy"),
        **extra,
    )


def run(
    spec: TaskSpec, *, quick: bool, seed: int, workdir: str | Path | None = None, preset: BenchPreset | None = None
) -> dict:
    """Run every system on ``spec``; returns ``{"results": rows, "stage_seconds": ..., ...}``."""
    from teacher import Committee

    p = preset or bench_preset(quick)
    spec = with_task_settings(spec)
    cfg = RecipeConfig.from_dict({**p.recipe, "seed": seed})
    work = Path(workdir or tempfile.mkdtemp(prefix=f"bench-{spec.name}-"))
    t0 = time.perf_counter()
    # With --workdir a rerun of the same task and preset reuses the finished teacher, generation and labels.
    out = run_recipe(spec, cfg, work, resume=workdir is not None)
    recipe_s = time.perf_counter() - t0
    run_spec = steps.load_spec(out["spec"])
    test = run_spec.test
    rows: list[dict] = [tfidf_lr(run_spec, test)]

    from teacher.committee import pool

    # Each member labels test once; the committee row pools those same probabilities with its dev-fitted weights.
    committee = Committee.load(out["teacher"], all_members=True)
    member_s = {k: v.get("seconds", 0.0) for k, v in committee.metrics.get("members", {}).items()}
    texts = [e.text for e in test]
    probs, label_s = {}, {}
    for kind, member in committee.members.items():
        t1 = time.perf_counter()
        probs[kind] = member.label(texts).probs
        label_s[kind] = time.perf_counter() - t1
        rows.append(
            _probs_row(
                f"teacher-{kind}",
                probs[kind],
                test,
                run_spec,
                member.params,
                member_s.get(kind, 0.0),
                label_s[kind],
                model=member.metrics.get("model"),
                weight=committee.weights.get(kind),
                dev_accuracy=(member.metrics.get("dev") or {}).get("accuracy"),
            )
        )
    for kind, why in committee.metrics.get("skipped", {}).items():  # a member the budget left out gets a row saying why
        rows.append(result_row(f"teacher-{kind}", skipped=why))
    active = [k for k in probs if committee.weights.get(k, 0) > 0]
    pooled = pool([probs[k] for k in active], [committee.weights[k] for k in active], committee.combine)
    rows.append(
        _probs_row(
            "teacher-committee",
            pooled,
            test,
            run_spec,
            committee.params,
            committee.metrics.get("adapt_seconds", 0.0),
            sum(label_s[k] for k in active),
            weights=committee.weights,
            combine=committee.combine,
            dev_accuracy=(committee.metrics.get("dev") or {}).get("accuracy"),
        )
    )

    # Ablations publish by the same budget as the recipe and learn from the same teacher embeddings,
    # so each row is the student a user would have got.
    emb = out["labels"].get("embeddings")
    gold_dir = steps.distill_student(
        out["spec"], [], cfg.student, str(work / "student-gold"), cfg.budget, cfg.max_latency_ms, emb
    )
    rows.append(_student_row("student-gold", out["spec"], gold_dir, work, soft_examples=0))
    synthesis = out["synthesis"]
    # Where dev left the samples out, the recipe's student already is the no-synthetic one: not trained twice.
    pool_dir = (
        steps.distill_student(
            out["spec"],
            [out["labels"]["pool"]],
            cfg.student,
            str(work / "student-no-synthetic"),
            cfg.budget,
            cfg.max_latency_ms,
            emb,
        )
        if synthesis["use"]
        else out["student"]
    )
    rows.append(
        _student_row(
            "factory-student-no-synthetic",
            out["spec"],
            pool_dir,
            work,
            metrics=None if synthesis["use"] else out["metrics"],
            soft_examples=len(run_spec.unlabeled),
            pool_size=len(run_spec.unlabeled),
        )
    )
    from factory.atomic import atomic_write_jsonl, read_jsonl

    # Accuracy against pool size: the same student on the first n soft-labeled pool texts (a seeded sample already).
    pool_rows = read_jsonl(out["labels"]["pool"])
    for n in [n for n in p.pool_ladder if n < len(pool_rows)]:
        sub = atomic_write_jsonl(work / f"pool-{n}" / "pool.jsonl", pool_rows[:n])
        d = steps.distill_student(
            out["spec"], [str(sub)], cfg.student, str(work / f"student-pool-{n}"), cfg.budget, cfg.max_latency_ms, emb
        )
        rows.append(
            _student_row(f"factory-student-no-synthetic-pool{n}", out["spec"], d, work, soft_examples=n, pool_size=n)
        )
    kept = len(read_jsonl(out["synthetic_kept"]))
    rows.append(
        _student_row(
            "factory-student",
            out["spec"],
            out["student"],
            work,
            metrics=out["metrics"],
            soft_examples=len(run_spec.unlabeled) + (kept if synthesis["use"] else 0),
            synthetic=kept if synthesis["use"] else 0,
            synthesis=synthesis["reason"],
        )
    )

    backbone = SETFIT_BACKBONE.get(spec.language, "embeddinggemma-300m")
    rows.append(
        setfit_baseline(
            run_spec,
            backbone=backbone,
            test=test,
            seed=seed,
            num_iterations=p.setfit_iterations,
            max_steps=p.setfit_max_steps,
        )
    )
    return {
        "results": rows,
        "recipe_seconds": round(recipe_s, 1),
        "stage_seconds": steps.report(work),
        "pool": len(run_spec.unlabeled),
        "test_rows": len(test),
        "dev_rows": len(run_spec.dev),
        "committee": {
            "weights": committee.weights,
            "combine": committee.combine,
            "dev": committee.metrics.get("dev"),
            "pooling": committee.metrics.get("pooling"),
        },
        "synthesis": {k: synthesis.get(k) for k in ("use", "kept", "reason", "dev")},
        "config": cfg.to_dict(),
    }
