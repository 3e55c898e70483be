"""Checks across the rows of a split, and language detection.

Row-level problems (empty text, bad label, malformed line) are caught by the
readers, which know line numbers; these checks need the whole split: repeated
ids, the same text with two different labels. :func:`check_spec` runs them
together with :func:`factory.spec.validate_task`.
"""

from __future__ import annotations

from factory.errors import TaskError
from factory.spec import Example, TaskSpec, validate_task

SPLIT_NAMES = ("gold", "dev", "test", "unlabeled")


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def check_split(examples: list[Example], split: str) -> None:
    """Raise :class:`TaskError` on duplicate ids or conflicting duplicate texts in one split.

    Exact duplicates with the same label are allowed (the public benchmarks
    have a few); the same text with two labels is a contradiction.
    """
    seen_ids: dict[str, int] = {}
    for i, e in enumerate(examples, 1):
        if e.id is None:
            continue
        if e.id in seen_ids:
            raise TaskError(
                "a unique id per row",
                f"id {e.id!r} on rows {seen_ids[e.id]} and {i}",
                "give every row its own id, or drop the id column to number rows automatically",
                where=split,
            )
        seen_ids[e.id] = i
    by_text: dict[str, Example] = {}
    for e in examples:
        if e.label is None:
            continue
        prev = by_text.setdefault(e.text, e)
        if prev.label != e.label:
            raise TaskError(
                "one label per distinct text",
                f"text {_short(e.text)} labeled {prev.label!r} (id {prev.id}) and {e.label!r} (id {e.id})",
                "decide which label is right and remove or fix the other row",
                where=split,
            )


def check_across_splits(spec: TaskSpec) -> None:
    """The same text must not carry different labels in gold, dev and test."""
    seen: dict[str, tuple[str, Example]] = {}
    for split in ("gold", "dev", "test"):
        for e in getattr(spec, split):
            prev_split, prev = seen.setdefault(e.text, (split, e))
            if prev.label != e.label:
                raise TaskError(
                    "one label per distinct text across gold, dev and test",
                    f"text {_short(e.text)} labeled {prev.label!r} in {prev_split} (id {prev.id}) and {e.label!r} in {split} (id {e.id})",
                    "fix the wrong label in one of the files",
                    where=split,
                )


def check_spec(spec: TaskSpec, across: bool = True) -> TaskSpec:
    """Full validation: :func:`validate_task`, :func:`check_split` on every split and, with ``across``,
    :func:`check_across_splits` (intake leaves that to :func:`intake.datacheck.resolve_conflicts`)."""
    validate_task(spec)
    folded: dict[str, str] = {}
    for lab in spec.labels:
        other = folded.setdefault(" ".join(lab.id.casefold().split()), lab.id)
        if other != lab.id:
            raise TaskError(
                "label ids that differ by more than case or spacing",
                f"{other!r} and {lab.id!r}",
                "write each label one way in every file (one label, not two)",
                where="labels",
            )
    for split in SPLIT_NAMES:
        check_split(getattr(spec, split), split)
    if across:
        check_across_splits(spec)
    return spec


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def detect_language(texts: list[str], sample: int = 300) -> str:
    """``"zh"`` when CJK characters make up at least a fifth of the letters, else ``"en"``.

    The threshold tolerates Chinese reviews full of Latin brand names and
    English texts with the odd Chinese word.
    """
    cjk = latin = 0
    for t in texts[:sample]:
        for ch in t:
            if _is_cjk(ch):
                cjk += 1
            elif ch.isascii() and ch.isalpha():
                latin += 1
    if cjk + latin == 0:
        raise TaskError(
            "texts with letters from which to detect the language",
            "no Chinese or Latin letters in the sampled texts",
            "pass --language zh or --language en",
            where="language",
        )
    return "zh" if cjk / (cjk + latin) >= 0.2 else "en"
