"""``evaluate``: quality (accuracy, macro-F1, per-class report, confusion matrix, every test prediction) and CPU
speed of a student."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

from factory.atomic import atomic_write_json, atomic_write_jsonl
from factory.errors import TaskError
from factory.spec import Example
from student.artifact import StudentArtifact


def measure_speed(
    predict: Callable[[list[str]], object], texts: Sequence[str], batch_size: int = 32, latency_n: int = 20
) -> dict:
    """Throughput (texts/s in batches) and median single-text latency of ``predict`` on ``texts``."""
    texts = list(texts)
    if not texts:
        return {}
    predict(texts[:2])  # warm-up: first calls pay for allocation and graph setup
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        predict(texts[i : i + batch_size])
    total = time.perf_counter() - t0
    lat = []
    for t in texts[:latency_n]:
        s = time.perf_counter()
        predict([t])
        lat.append(time.perf_counter() - s)
    lat.sort()
    return {
        "texts_per_second": round(len(texts) / total, 2),
        "seconds": round(total, 3),
        "latency_ms_per_text": round(1000 * lat[len(lat) // 2], 2),
        "speed_texts": len(texts),
    }


def plot_confusion(y_true, y_pred, labels: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(2 + 0.5 * len(labels), 2 + 0.5 * len(labels)))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, ax=ax, colorbar=False, xticks_rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_learning_curve(history: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if any("dev_accuracy" in h for h in history):
        ax2 = ax.twinx()
        ax2.plot(epochs, [h.get("dev_accuracy") for h in history], "s-", color="tab:green", label="dev accuracy")
        ax2.set_ylabel("dev accuracy")
        ax2.legend(loc="lower right")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def trust_flags(y_true: Sequence[str], y_pred: Sequence[str], label_ids: Sequence[str]) -> list[str]:
    """Reasons not to trust the test figures: labels missing from the sample, a score near chance, too few texts."""
    from collections import Counter

    flags = []
    counts = Counter(y_true)
    missing = [lab for lab in label_ids if counts.get(lab, 0) == 0]
    if missing:
        flags.append(
            f"the test sample has no texts of {len(missing)} label(s) ({', '.join(missing[:5])}): its scores say nothing about them"
        )
    n = len(y_true)
    majority = max(counts.values()) / n if n else 0.0
    acc = sum(a == b for a, b in zip(y_true, y_pred)) / n if n else 0.0
    if n and acc <= max(majority, 1 / max(len(label_ids), 1)) + 0.02:
        flags.append(
            f"accuracy {100 * acc:.1f} % is near chance (always answering the commonest label scores {100 * majority:.1f} %)"
        )
    if n < 50:
        flags.append(
            f"only {n} test texts: accuracy is uncertain by about ±{100 * (0.25 / max(n, 1)) ** 0.5 * 2:.0f} points"
        )
    return flags


def prediction_rows(texts: Sequence[str], y_true: Sequence[str], probs, label_ids: Sequence[str]) -> list[dict]:
    """One row per text: the gold and predicted label, the prediction's confidence and every label's probability."""
    rows = []
    for text, gold, p in zip(texts, y_true, probs):
        best = int(p.argmax())
        rows.append(
            {
                "text": text,
                "gold": gold,
                "predicted": label_ids[best],
                "confidence": round(float(p[best]), 6),
                # Four decimals keep the file small on big test sets; the ranking of confident mistakes survives.
                "probs": {lab: round(float(q), 4) for lab, q in zip(label_ids, p)},
            }
        )
    return rows


def evaluate(
    art: StudentArtifact | str | Path,
    examples: Sequence[Example] | Sequence[tuple[str, str]],
    out_dir: str | Path,
    *,
    backend: str = "torch",
    speed_texts: int = 200,
) -> dict:
    """Score the student on labeled ``examples``; write PNGs, ``predictions.jsonl`` and ``metrics.json`` to ``out_dir``.

    ``predictions.jsonl`` has one row per example, in order: ``text``, ``gold``, ``predicted``, ``confidence``
    (the predicted label's probability) and ``probs`` (every label's); ``metrics["predictions_jsonl"]`` names it.

    ``art`` is a :class:`StudentArtifact` (its best model, torch backend) or a
    path :func:`student.load_student` accepts (e.g. the exported zip, scored
    with onnxruntime when ``backend`` is ``"onnx"``).
    """
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    from student.runtime import load_student

    pairs = [(e.text, e.label) if isinstance(e, Example) else (e[0], e[1]) for e in examples]
    if not pairs:
        raise TaskError(
            "labeled examples to evaluate on", "none", "pass spec.test (or dev) with labels", where="evaluate"
        )
    history = []
    if isinstance(art, StudentArtifact):
        clf = load_student(art.model_dir, backend="torch")
        history = art.history
    else:
        clf = load_student(art, backend=backend)
    texts, y_true = [t for t, _ in pairs], [y for _, y in pairs]
    unknown = sorted(set(y_true) - set(clf.label_ids))
    if unknown:
        raise TaskError(
            f"labels among {clf.label_ids}",
            f"{unknown}",
            "evaluate on the task the student was trained for",
            where="evaluate",
        )
    # The scores are computed from the saved rows, so predictions.jsonl is exactly what was scored.
    rows = prediction_rows(texts, y_true, clf.predict_proba(texts), clf.label_ids)
    y_pred = [r["predicted"] for r in rows]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictions = atomic_write_jsonl(out / "predictions.jsonl", rows)
    metrics = {
        "n": len(pairs),
        "backend": clf.backend,
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=clf.label_ids, average="macro", zero_division=0),
        "per_class": {
            k: v
            for k, v in classification_report(
                y_true, y_pred, labels=clf.label_ids, output_dict=True, zero_division=0
            ).items()
            if k in clf.label_ids
        },
        "confusion_matrix_png": str(plot_confusion(y_true, y_pred, clf.label_ids, out / "confusion_matrix.png")),
        "predictions_jsonl": str(predictions),
    }
    metrics["flags"] = trust_flags(y_true, y_pred, clf.label_ids)
    if history:
        metrics["learning_curve_png"] = str(plot_learning_curve(history, out / "learning_curve.png"))
    if speed_texts:
        metrics.update(measure_speed(clf.predict, texts[:speed_texts]))
    atomic_write_json(out / "metrics.json", metrics)
    return metrics
