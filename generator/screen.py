"""The filter chain: every candidate passes the filters in order; removals are counted per filter.

Order: cheap per-text checks first, then duplicates, then the teacher (the only
expensive step), which therefore only labels texts that survived everything else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from factory.spec import TaskSpec
from generator import filters
from generator.config import GeneratorConfig
from generator.dedup import dedup

FILTER_ORDER = (
    "too_short",
    "too_long",
    "degenerate",
    "wrong_language",
    "gold_copy",
    "duplicate_exact",
    "duplicate_near",
    "teacher",
)


def max_chars_for(spec: TaskSpec, cfg: GeneratorConfig) -> int:
    """``cfg.max_chars``, or twice the longest gold text (at least 32 characters)."""
    if cfg.max_chars is not None:
        return cfg.max_chars
    return max(32, 2 * max((len(e.text) for e in spec.gold), default=0))


def screen(
    spec: TaskSpec,
    cfg: GeneratorConfig,
    texts: Sequence[str],
    labels: Sequence[str],
    teacher=None,
    existing: Sequence[str] = (),
) -> dict:
    """Run the chain over candidate ``(text, label)`` pairs.

    Returns ``{"keep": indices kept, "probs": {index: teacher probs}, "reasons":
    {index: filter that removed it}, "filters": [per-filter counts],
    "teacher_seconds": float}``. ``existing`` texts (already accepted earlier)
    count as duplicates for the new ones.
    """
    lang = spec.language
    n = len(texts)
    alive = list(range(n))
    reasons: dict[int, str] = {}
    rows: list[dict] = []

    def apply(name: str, mask: Sequence[bool]) -> None:
        nonlocal alive
        kept = []
        for i, ok in zip(alive, mask):
            if ok:
                kept.append(i)
            else:
                reasons[i] = name
        rows.append(
            {
                "filter": name,
                "removed": len(alive) - len(kept),
                "remaining": len(kept),
                "acceptance": len(kept) / n if n else None,
            }
        )
        alive = kept

    def current() -> list[str]:
        return [texts[i] for i in alive]

    apply("too_short", filters.length(current(), cfg.min_chars, 10**9))
    apply("too_long", filters.length(current(), 0, max_chars_for(spec, cfg)))
    apply("degenerate", filters.degenerate(current(), cfg.min_distinct_ngrams))
    apply("wrong_language", filters.language(current(), lang, cfg.language_ratio))
    apply("gold_copy", filters.gold_copies(current(), [e.text for e in spec.gold], lang, cfg.gold_overlap))
    verdict = dedup(current(), lang, cfg.dup_threshold, existing=existing)
    apply("duplicate_exact", [v != "exact" for v in verdict])
    apply("duplicate_near", [v is None for v in verdict if v != "exact"])

    probs: dict[int, list[float]] = {}
    t0 = time.perf_counter()
    if teacher is not None and alive:
        p = np.asarray(teacher.label(current()).probs, dtype=float)
        if p.shape != (len(alive), len(spec.labels)):
            raise ValueError(
                f"expected teacher probabilities of shape ({len(alive)}, {len(spec.labels)}) (one column per label of "
                f"{spec.name}); found {p.shape}. Fix: use a teacher adapted on this task's labels"
            )
        intended = [spec.label_index(labels[i]) for i in alive]
        mask = filters.teacher_agreement(p, intended, cfg.teacher_threshold)
        probs = {i: [float(x) for x in row] for i, row in zip(alive, p)}
        apply("teacher", mask)
    elif teacher is not None:
        apply("teacher", [])
    return {
        "keep": alive,
        "probs": probs,
        "reasons": reasons,
        "filters": rows,
        "teacher_seconds": time.perf_counter() - t0,
    }
