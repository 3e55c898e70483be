"""Exact and near-duplicate removal among samples (and against texts already kept).

Exact duplicates are caught by hashing the normalised text. Near duplicates are
pairs whose character n-gram sets have Jaccard similarity at or above a
threshold. Small sets are compared pairwise and exactly; large ones (a buffer
that grew over many rounds) go through MinHash with LSH banding to find
candidate pairs, which are then checked with the exact Jaccard, so a reported
duplicate is always a real one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from generator.text import jaccard, normalize, shingles

EXACT_PAIRWISE_LIMIT = 2000
_PRIME = (1 << 31) - 1  # 31-bit values keep a*h+b inside int64


def _hash31(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little") % _PRIME


class MinHasher:
    """MinHash signatures of shingle sets: ``bands × rows`` universal hashes (a·h + b) mod (2^31 − 1)."""

    def __init__(self, bands: int = 32, rows: int = 4, seed: int = 0):
        self.bands, self.rows = bands, rows
        rng = np.random.default_rng(seed)
        n = bands * rows
        self._a = rng.integers(1, _PRIME, size=n, dtype=np.int64)
        self._b = rng.integers(0, _PRIME, size=n, dtype=np.int64)

    def signature(self, sh: frozenset[str]) -> tuple[int, ...]:
        if not sh:
            return tuple([0] * len(self._a))
        hs = np.fromiter((_hash31(s) for s in sh), dtype=np.int64, count=len(sh))
        return tuple(((self._a[:, None] * hs[None, :] + self._b[:, None]) % _PRIME).min(axis=1).tolist())

    def band_keys(self, sig: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
        return [(i, sig[i * self.rows : (i + 1) * self.rows]) for i in range(self.bands)]


def near_duplicate_pairs(
    sets: Sequence[frozenset], threshold: float, exact_limit: int = EXACT_PAIRWISE_LIMIT
) -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, whose Jaccard similarity is at least ``threshold``."""
    n = len(sets)
    pairs: set[tuple[int, int]] = set()
    if n <= exact_limit:
        for j in range(n):
            for i in range(j):
                if jaccard(sets[i], sets[j]) >= threshold:
                    pairs.add((i, j))
        return pairs
    mh = MinHasher()
    buckets: dict[tuple, list[int]] = {}
    for j, s in enumerate(sets):
        for key in mh.band_keys(mh.signature(s)):
            buckets.setdefault(key, []).append(j)
    for members in buckets.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                i, j = members[a], members[b]
                if (i, j) not in pairs and jaccard(sets[i], sets[j]) >= threshold:
                    pairs.add((i, j))
    return pairs


def dedup(
    texts: Sequence[str],
    language: str,
    threshold: float = 0.7,
    existing: Sequence[str] = (),
    exact_limit: int = EXACT_PAIRWISE_LIMIT,
) -> list[str | None]:
    """Why each text is a duplicate: ``None`` (keep), ``"exact"`` or ``"near"``.

    The first of every group of exact or near duplicates survives. Texts in
    ``existing`` (e.g. samples already in the buffer) always win: a new text
    that duplicates one of them is dropped.
    """
    verdict: list[str | None] = [None] * len(texts)
    seen = {normalize(t) for t in existing}
    for i, t in enumerate(texts):
        key = normalize(t)
        if key in seen:
            verdict[i] = "exact"
        else:
            seen.add(key)
    survivors = [i for i in range(len(texts)) if verdict[i] is None]
    pool = list(existing) + [texts[i] for i in survivors]
    sets = [shingles(t, language) for t in pool]
    offset = len(existing)
    dropped: set[int] = set()
    # Walk pairs in order of their later member: by then every earlier text's
    # fate is settled, so a text goes only when it resembles a surviving one.
    for i, j in sorted(near_duplicate_pairs(sets, threshold, exact_limit), key=lambda p: (p[1], p[0])):
        if j < offset or j in dropped or i in dropped:
            continue
        dropped.add(j)
    for j in dropped:
        verdict[survivors[j - offset]] = "near"
    return verdict
