"""Baselines that run beside the factory in the same benchmark: TF-IDF + LR and SetFit."""

from __future__ import annotations

import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline

from benchmarks.record import result_row
from factory.spec import TaskSpec


def _scores(y_true, y_pred) -> dict:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }


def tfidf_lr(spec: TaskSpec, test=None) -> dict:
    """Character n-gram TF-IDF + logistic regression (C chosen on dev) — works for zh and en alike."""
    test = test if test is not None else spec.test
    t0 = time.perf_counter()
    xs = [e.text for e in spec.gold]
    ys = [e.label for e in spec.gold]
    best = None
    for c in (0.3, 1.0, 3.0, 10.0, 30.0):
        clf = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
            LogisticRegression(C=c, max_iter=2000, class_weight="balanced"),
        )
        clf.fit(xs, ys)
        dev_acc = (
            accuracy_score([e.label for e in spec.dev], clf.predict([e.text for e in spec.dev])) if spec.dev else 0.0
        )
        if best is None or dev_acc > best[0]:
            best = (dev_acc, c, clf)
    dev_acc, c, clf = best
    train_s = time.perf_counter() - t0
    texts = [e.text for e in test]
    t1 = time.perf_counter()
    pred = clf.predict(texts)
    infer_s = time.perf_counter() - t1
    params = int(sum(np.prod(a.shape) for a in (clf[-1].coef_, clf[-1].intercept_)))
    return result_row(
        "tfidf-lr",
        **_scores([e.label for e in test], pred),
        params=params,
        seconds=train_s + infer_s,
        texts_per_second=len(texts) / max(infer_s, 1e-9),
        dev_accuracy=dev_acc,
        C=c,
    )


def setfit_baseline(
    spec: TaskSpec,
    backbone: str = "embeddinggemma-300m",
    test=None,
    seed: int = 0,
    num_iterations: int = 20,
    max_steps: int | None = None,
) -> dict:
    """SetFit (contrastive fine-tuning + LR head) at its recommended settings (20 pair iterations, 1 epoch).

    ``max_steps`` caps the contrastive steps where a CPU budget needs it (BANKING77's 385 gold make 15,400 pairs);
    the record says when it did.
    """
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from factory.models import resolve_model

    test = test if test is not None else spec.test
    t0 = time.perf_counter()
    path = resolve_model(backbone).source
    model = SetFitModel.from_pretrained(path, labels=spec.label_ids)
    train = Dataset.from_dict(
        {"text": [e.text for e in spec.gold], "label": [spec.label_index(e.label) for e in spec.gold]}
    )
    extra = {"max_steps": max_steps} if max_steps else {}
    args = TrainingArguments(
        batch_size=16, num_epochs=1, num_iterations=num_iterations, seed=seed, report_to="none", max_length=128, **extra
    )
    trainer = Trainer(model=model, args=args, train_dataset=train)
    trainer.train()
    train_s = time.perf_counter() - t0
    texts = [e.text for e in test]
    t1 = time.perf_counter()
    pred_idx = model.predict(texts, as_numpy=True)
    infer_s = time.perf_counter() - t1
    pred = [p if isinstance(p, str) else spec.label_ids[int(p)] for p in pred_idx]
    params = sum(p.numel() for p in model.model_body.parameters())
    return result_row(
        "setfit",
        **_scores([e.label for e in test], pred),
        params=int(params),
        seconds=train_s + infer_s,
        texts_per_second=len(texts) / max(infer_s, 1e-9),
        backbone=backbone,
        pair_iterations=num_iterations,
        max_steps=max_steps,
    )
