"""The whole factory on a benchmark task, beside its baselines, in one run.

Systems (DESIGN.md names): ``tfidf-lr``, ``teacher-finetuned`` (the teacher
alone), ``student-gold`` (the student on the gold set alone),
``factory-student-no-synthetic`` (gold + teacher soft labels on the pool),
``factory-student`` (that plus filtered synthetic samples) and, for English,
``setfit`` with the student's backbone. Model selection only ever looks at
dev; test is scored once per system at the end.

``--quick`` caps the unlabeled pool, the synthetic budget, the epochs and the
test set so EPRSTMT finishes in minutes on a 2-core CPU.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.baselines import setfit_baseline, tfidf_lr
from benchmarks.record import result_row
from benchmarks.tasks import TEXT_NAMES, template, with_verbalizers
from factory.spec import TaskSpec


@dataclass
class BenchBudget:
    """Caps for one benchmark run; ``quick`` and full presets below."""

    test: int | None
    dev: int | None  # model selection set cap (seeded sample): SST-2 and BANKING77 ship 872 and 1,540 dev texts
    pool: int
    synthetic_per_label: int
    synthetic_cap: int | None  # most candidates in all; many-label tasks get total=cap spread over labels
    teacher_epochs: int
    student_epochs: int
    setfit_iterations: int


QUICK = BenchBudget(test=600, dev=300, pool=400, synthetic_per_label=12, synthetic_cap=60, teacher_epochs=6, student_epochs=6, setfit_iterations=10)
FULL = BenchBudget(test=None, dev=None, pool=3000, synthetic_per_label=64, synthetic_cap=None, teacher_epochs=8, student_epochs=10, setfit_iterations=20)


def _split_seconds(t0: float) -> float:
    return round(time.perf_counter() - t0, 2)


def _student_row(system: str, art, test, out_dir: Path, seconds: float, **extra) -> dict:
    from student import evaluate

    m = evaluate(art, test, out_dir)
    return result_row(
        system,
        accuracy=m["accuracy"],
        macro_f1=m["macro_f1"],
        params=art.params,
        seconds=seconds,
        texts_per_second=m.get("texts_per_second"),
        dev_accuracy=art.dev_metrics.get("accuracy"),
        **extra,
    )


def run(spec: TaskSpec, *, quick: bool, seed: int, budget: BenchBudget | None = None, workdir: str | Path | None = None) -> dict:
    """Run every system on ``spec``; returns ``{"results": rows, "stage_seconds": ..., ...}``."""
    spec = with_verbalizers(spec)
    from generator import GeneratorConfig, generate
    from student import DistillConfig, DistillData, distill
    from teacher import Teacher, TeacherConfig, adapt

    b = budget or (QUICK if quick else FULL)
    rng = random.Random(seed)
    # Seeded samples, not heads: BANKING77's files are sorted by label (its first 600 test rows hold 15 of 77).
    test = list(spec.test)
    if b.test and len(test) > b.test:
        test = random.Random(seed + 2).sample(test, b.test)
    pool = list(spec.unlabeled)
    rng.shuffle(pool)
    pool = pool[: b.pool]
    dev = list(spec.dev)
    if b.dev and len(dev) > b.dev:
        dev = random.Random(seed + 1).sample(dev, b.dev)
    spec_run = replace(spec, unlabeled=pool, dev=dev)
    work = Path(workdir or tempfile.mkdtemp(prefix=f"bench-{spec.name}-"))
    rows: list[dict] = []
    stage_seconds: dict[str, float] = {}

    rows.append(tfidf_lr(spec_run, test))

    # Teacher: prompt-based fine-tuning on gold, selection and calibration on dev.
    t0 = time.perf_counter()
    if (work / "teacher" / "teacher.json").is_file():  # a rerun in the same --workdir reuses its adapted teacher
        teacher = Teacher.load(work / "teacher")
        stage_seconds["teacher_adapt"] = round(teacher.metrics.get("adapt_seconds", 0.0), 2)
    else:
        teacher = adapt(spec_run, TeacherConfig(mode="finetune", template=template(spec), epochs=b.teacher_epochs, seed=seed, progress=False), out_dir=work / "teacher")
        stage_seconds["teacher_adapt"] = _split_seconds(t0)
    t0 = time.perf_counter()
    res = teacher.label([e.text for e in test])
    label_s = time.perf_counter() - t0
    from sklearn.metrics import accuracy_score, f1_score

    from teacher.calibration import expected_calibration_error

    y = [e.label for e in test]
    rows.append(
        result_row(
            "teacher-finetuned",
            accuracy=float(accuracy_score(y, res.labels)),
            macro_f1=float(f1_score(y, res.labels, average="macro")),
            ece=float(expected_calibration_error(res.probs, np.array([spec.label_index(v) for v in y]))),
            params=teacher.params,
            seconds=stage_seconds["teacher_adapt"] + label_s,
            texts_per_second=len(test) / label_s,
        )
    )

    # Teacher labels the pool: soft labels for distillation.
    t0 = time.perf_counter()
    pool_res = teacher.label([e.text for e in pool])
    stage_seconds["teacher_label_pool"] = _split_seconds(t0)
    soft_pool = [(e.text, p.tolist()) for e, p in zip(pool, pool_res.probs)]

    # Generator: label-conditioned samples kept only when the teacher agrees.
    t0 = time.perf_counter()
    # Generation is the slowest stage per sample on CPU; a cap keeps 15- and 77-label quick runs in minutes.
    capped = b.synthetic_cap is not None and b.synthetic_per_label * len(spec.labels) > b.synthetic_cap
    gen_cfg = GeneratorConfig(
        per_label=None if capped else b.synthetic_per_label,
        total=max(b.synthetic_cap, len(spec.labels)) if capped else None,  # at least one per label (BANKING77: 77)
        seed=seed,
        text_name=TEXT_NAMES.get(spec.name),
        # Binary: keep when the teacher's top label agrees; many labels: a looser bar.
        teacher_threshold=0.5 if len(spec.labels) == 2 else 0.3,
    )
    gen = generate(spec_run, gen_cfg, teacher=teacher, progress=False)
    stage_seconds["generator"] = _split_seconds(t0)
    soft_syn = [(s.text, s.probs) for s in gen.samples if s.probs is not None]
    del teacher

    scfg = DistillConfig(epochs=b.student_epochs, seed=seed)
    variants = [
        ("student-gold", []),
        ("factory-student-no-synthetic", soft_pool),
        ("factory-student", soft_pool + soft_syn),
    ]
    for system, soft in variants:
        t0 = time.perf_counter()
        art = distill(DistillData.from_spec(spec_run, soft=soft), scfg, out_dir=work / system)
        secs = _split_seconds(t0)
        stage_seconds[f"distill:{system}"] = secs
        rows.append(_student_row(system, art, test, work / system / "eval", secs, soft_examples=len(soft)))

    if spec.language == "en":
        rows.append(setfit_baseline(spec_run, test=test, seed=seed, num_iterations=b.setfit_iterations))

    extra = {
        "stage_seconds": stage_seconds,
        "pool": len(pool),
        "test_rows": len(test),
        "dev_rows": len(dev),
        "synthetic": {"kept": len(gen.samples), "report": gen.report},
    }
    return {"results": rows, **extra}
