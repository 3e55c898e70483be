"""Diversity statistics of a set of texts: distinct-n and self-similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from generator.text import words


def distinct_n(texts: Sequence[str], n: int, language: str) -> float | None:
    """Distinct n-grams / all n-grams over ``texts`` (characters for zh, words for en); None when empty."""
    total, seen = 0, set()
    for t in texts:
        toks = words(t, language)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def self_similarity(texts: Sequence[str]) -> float | None:
    """Mean pairwise cosine similarity of character 1-3-gram count vectors; None for fewer than 2 texts.

    1.0 means every text is the same; unrelated texts score near the cosine of
    their shared common characters.
    """
    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        return None
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    x = CountVectorizer(analyzer="char", ngram_range=(1, 3), lowercase=True).fit_transform(texts)
    sim = cosine_similarity(x)
    n = len(texts)
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1)))


def diversity(texts: Sequence[str], language: str) -> dict:
    """``{"n", "distinct_1", "distinct_2", "self_similarity"}`` for one group of texts."""
    return {
        "n": len(texts),
        "distinct_1": distinct_n(texts, 1, language),
        "distinct_2": distinct_n(texts, 2, language),
        "self_similarity": self_similarity(texts),
    }
