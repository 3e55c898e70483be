"""Teacher stage benchmark: zero-shot, in-context and fine-tuned teacher on test_public.

Called by ``factory bench --task eprstmt --stage teacher [--quick] [--json]``.
Each mode is adapted on gold (train_k), selected/calibrated on dev (dev_k) and
scored on the test set; ``seconds`` / ``texts_per_second`` time labeling of the
test set only (adapting is reported as ``adapt_seconds``).
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace

import numpy as np
from sklearn.metrics import f1_score

from benchmarks.record import result_row
from benchmarks.tasks import template, with_verbalizers
from factory.spec import TaskSpec
from recipe.steps import seeded_cap
from teacher import TeacherConfig, adapt
from teacher.calibration import expected_calibration_error

# Per-task fine-tuning settings that measured best on dev_0 (GPU sweep, fp32).
FINETUNE = {"tnews": {"lr": 4e-5, "epochs": 4}}
QUICK_TEST = 600  # seeded sample of test_public (EPRSTMT has 610, TNEWS 2,010)
QUICK_DEV = 300
QUICK_STEPS = 60  # optimizer steps at most in --quick (shared 2-core CPUs)
BASELINE_TEXTS = 8


def configs(spec: TaskSpec, quick: bool, seed: int) -> list[tuple[str, TeacherConfig]]:
    """(system name, config) for every mode the benchmark reports."""
    base = dict(template=template(spec), seed=seed)
    ft = TeacherConfig(mode="finetune", **base, **FINETUNE.get(spec.name, {}))
    if quick:
        per_epoch = -(-len(spec.gold) // ft.batch_size)
        ft = ft.replace(epochs=max(1, min(ft.epochs, QUICK_STEPS // per_epoch)), eval_every=min(per_epoch, 15))
    return [
        ("teacher-zero-shot", TeacherConfig(mode="zero-shot", **base)),
        ("teacher-icl", TeacherConfig(mode="icl", icl_shots=2 if len(spec.labels) <= 4 else 1, **base)),
        ("teacher-finetuned", ft),
    ]


def full_logit_seconds(teacher, texts: list[str]) -> float:
    """Seconds a text for the naive way: one text at a time, logits at every position over the whole vocabulary."""
    import torch

    t0 = time.perf_counter()
    with torch.inference_mode():
        for t in texts:
            ids = torch.tensor([teacher.builder.query_ids(t)], device=teacher.scorer.device)
            _ = teacher.model(input_ids=ids).logits
    return (time.perf_counter() - t0) / max(1, len(texts))


def run(spec: TaskSpec, *, quick: bool, seed: int) -> list[dict]:
    """Benchmark rows (benchmarks.record.result_row) for the three teacher modes on ``spec.test``."""
    spec = with_verbalizers(spec)
    if quick:
        # Seeded samples, not heads: some benchmark files are sorted by label.
        spec = replace(
            spec, test=seeded_cap(spec.test, QUICK_TEST, seed + 2), dev=seeded_cap(spec.dev, QUICK_DEV, seed + 1)
        )
    texts = [e.text for e in spec.test]
    y = np.array([spec.label_index(e.label) for e in spec.test])
    rows = []
    baseline = None
    for system, cfg in configs(spec, quick, seed):
        t0 = time.perf_counter()
        teacher = adapt(spec, cfg)
        adapt_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = teacher.label(texts)
        secs = time.perf_counter() - t1
        if baseline is None:
            # Measured in the same process and minute as the rows, so the ratio survives a busy machine.
            baseline = full_logit_seconds(teacher, texts[:BASELINE_TEXTS])
        pred = res.probs.argmax(1)
        rows.append(
            result_row(
                system,
                accuracy=float((pred == y).mean()),
                macro_f1=float(f1_score(y, pred, average="macro", labels=list(range(len(spec.labels))))),
                ece=expected_calibration_error(res.probs, y),
                params=teacher.params,
                seconds=secs,
                texts_per_second=len(texts) / secs if secs > 0 else None,
                adapt_seconds=adapt_s,
                dev_accuracy=teacher.metrics.get("dev", {}).get("accuracy"),
                calibration=teacher.calibration.kind,
                n_test=len(texts),
                full_logit_seconds_per_text=baseline,
                speedup_vs_full_logits=(baseline * len(texts) / secs) if secs > 0 else None,
            )
        )
        del teacher, res
        gc.collect()
    return rows
