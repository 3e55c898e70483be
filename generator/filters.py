"""Per-sample filters: each takes texts and returns a keep mask (True = keep).

They are small and independent so every one can be tested on fixtures and its
removals counted separately in the generation report. Duplicate removal lives
in :mod:`generator.dedup`; the teacher check is here because it only needs the
teacher's probability matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from generator.text import char_ngrams, normalize, overlap, script_ratio, shingles


def degenerate(texts: Sequence[str], min_distinct: float = 0.4, n: int = 3) -> list[bool]:
    """Drop repetitive text ("哈哈哈哈", "good good good"): distinct/total char n-grams below ``min_distinct``."""
    keep = []
    for t in texts:
        grams = char_ngrams(normalize(t), n)
        keep.append(bool(grams) and len(set(grams)) / len(grams) >= min_distinct)
    return keep


def length(texts: Sequence[str], min_chars: int, max_chars: int) -> list[bool]:
    """Keep texts whose stripped length lies in ``[min_chars, max_chars]``."""
    return [min_chars <= len(t.strip()) <= max_chars for t in texts]


def language(texts: Sequence[str], lang: str, min_ratio: float = 0.6) -> list[bool]:
    """Keep texts whose letters are mostly in the task's script (CJK for zh, ASCII for en)."""
    return [script_ratio(t, lang) >= min_ratio for t in texts]


def gold_copies(texts: Sequence[str], gold: Sequence[str], lang: str, max_overlap: float = 0.7) -> list[bool]:
    """Drop near-copies of a gold example: char n-gram overlap with any gold text at or above ``max_overlap``.

    The overlap coefficient (not Jaccard) also catches a sample that is a
    fragment of a longer gold text, a common failure of few-shot prompting.
    """
    gold_sh = [shingles(g, lang) for g in gold]
    keep = []
    for t in texts:
        s = shingles(t, lang)
        keep.append(all(overlap(s, g) < max_overlap for g in gold_sh))
    return keep


def teacher_agreement(probs: np.ndarray, intended: Sequence[int], threshold: float = 0.5) -> list[bool]:
    """Keep a sample when the teacher's probability of its intended label is at least ``threshold``.

    ``probs`` is the teacher's n × L matrix (columns in ``spec.label_ids`` order),
    ``intended`` the column index of each sample's intended label.
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[0] != len(intended):
        raise ValueError(
            f"expected a teacher probability matrix with one row per sample ({len(intended)} rows); "
            f"found shape {probs.shape}. Fix: pass teacher.label(texts).probs for exactly these texts"
        )
    picked = probs[np.arange(len(intended)), np.asarray(intended, dtype=int)]
    return [bool(p >= threshold) for p in picked]
