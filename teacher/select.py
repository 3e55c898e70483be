"""Pick the pool items whose human answers help most: uncertain first, no near-duplicates."""

from __future__ import annotations

import numpy as np


def uncertainty(probs: np.ndarray, strategy: str = "margin") -> np.ndarray:
    """Higher = less sure. ``margin``: 1 - (top1 - top2); ``entropy``: Shannon entropy of the row."""
    p = np.asarray(probs, dtype=np.float64)
    if strategy == "margin":
        top = np.sort(p, axis=1)[:, ::-1]
        second = top[:, 1] if p.shape[1] > 1 else np.zeros(len(p))
        return 1.0 - (top[:, 0] - second)
    if strategy == "entropy":
        return -(p * np.log(np.clip(p, 1e-12, None))).sum(1)
    raise ValueError(f"expected strategy 'margin' or 'entropy'; found {strategy!r}. Fix: pass one of those two")


def _ngrams(text: str, n: int) -> set[str]:
    t = "".join(text.lower().split())
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


def select_questions(
    probs: np.ndarray,
    texts: list[str],
    k: int,
    strategy: str = "margin",
    diversity: bool = True,
    max_similarity: float = 0.6,
    ngram: int = 2,
) -> list[int]:
    """Indices of up to ``k`` texts to ask humans about, most useful first.

    Items are ranked by uncertainty (``margin`` or ``entropy`` of ``probs``);
    with ``diversity`` an item whose character n-gram Jaccard similarity to an
    already chosen one exceeds ``max_similarity`` is skipped, so one ambiguous
    template does not fill the whole queue.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) != len(texts):
        raise ValueError(
            f"expected probs of shape (len(texts), labels) = ({len(texts)}, L); found {probs.shape}. Fix: pass LabelResult.probs for the same texts"
        )
    if k <= 0 or len(texts) == 0:
        return []
    # Stable sort: ties keep pool order, so the choice is deterministic.
    order = np.argsort(-uncertainty(probs, strategy), kind="stable")
    if not diversity:
        return [int(i) for i in order[:k]]
    chosen: list[int] = []
    grams: list[set[str]] = []
    for i in order:
        g = _ngrams(texts[i], ngram)
        if any(len(g & h) / max(1, len(g | h)) > max_similarity for h in grams):
            continue
        chosen.append(int(i))
        grams.append(g)
        if len(chosen) == k:
            break
    return chosen
