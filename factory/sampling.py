"""Seeded samples that keep every label: the one helper behind every dev/test cap (recipe, teacher selection)."""

from __future__ import annotations

import random
from typing import Hashable, Sequence


def stratified_indices(labels: Sequence[Hashable], cap: int | None, seed: int) -> list[int]:
    """At most about ``cap`` indices, each label in proportion to its share (at least one each), in file order.

    A plain head or an unstratified sample of a file sorted by label can miss labels entirely (TNEWS's
    test file: the first 40 rows are one class); this keeps the label mix of the whole split.
    """
    if cap is None or len(labels) <= cap:
        return list(range(len(labels)))
    rng = random.Random(seed)
    by_label: dict[Hashable, list[int]] = {}
    for i, k in enumerate(labels):
        by_label.setdefault(k, []).append(i)
    chosen: list[int] = []
    for _, idx in sorted(by_label.items(), key=lambda kv: kv[0]):
        idx = list(idx)
        rng.shuffle(idx)
        chosen += idx[: max(1, round(cap * len(idx) / len(labels)))]
    return sorted(chosen)
