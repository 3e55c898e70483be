"""The typed task specification every stage reads.

A ``TaskSpec`` is the whole description of a few-shot classification task: its
labels (with optional descriptions and verbalizer words for the teacher), the
gold few-shot examples, optional dev/test sets and an unlabeled pool. Readers
in :mod:`intake.readers` build one; :func:`validate_task` checks it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from factory.errors import TaskError

Language = Literal["zh", "en"]
LANGUAGES = ("zh", "en")
TASK_NAME_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
)  # matched whole (fullmatch): "$" would let a trailing newline in
DEFAULT_WATER_LEVEL = 20


@dataclass(frozen=True)
class Label:
    """One class. ``id`` is what data files use; ``name`` is what people read."""

    id: str
    name: str
    description: str | None = None
    verbalizer: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        """Verbalizer words the teacher scores for this label (falls back to the name)."""
        return self.verbalizer or (self.name,)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "verbalizer": list(self.verbalizer)}

    @classmethod
    def from_dict(cls, d: dict) -> "Label":
        return cls(
            str(d["id"]), d["name"], description=d.get("description"), verbalizer=tuple(d.get("verbalizer") or ())
        )


@dataclass(frozen=True)
class Example:
    """A text with an optional label id (``None`` for unlabeled pool items)."""

    text: str
    label: str | None = None
    id: str | None = None


@dataclass
class TaskSpec:
    name: str
    language: Language
    labels: list[Label]
    gold: list[Example]
    dev: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)
    unlabeled: list[Example] = field(default_factory=list)
    water_level: int = DEFAULT_WATER_LEVEL
    # Prompt settings stored with the task: what a text is called ("商品评论"), and the LLM teacher's prompt
    # (the user turn for chat models, with {text} and optionally {options}); None = the teacher's defaults.
    text_name: str | None = None
    prompt: str | None = None

    # -- convenience -------------------------------------------------------
    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def label_names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def label_index(self, label_id: str) -> int:
        return self.label_ids.index(label_id)

    def counts(self) -> dict[str, int]:
        return {
            "labels": len(self.labels),
            "gold": len(self.gold),
            "dev": len(self.dev),
            "test": len(self.test),
            "unlabeled": len(self.unlabeled),
        }

    # -- (de)serialisation: plain JSON, never pickle -----------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        for lab in d["labels"]:
            lab["verbalizer"] = list(lab["verbalizer"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TaskSpec":
        def ex(rows):
            return [Example(text=r["text"], label=r.get("label"), id=r.get("id")) for r in rows]

        return cls(
            name=d["name"],
            language=d["language"],
            labels=[Label.from_dict(lab) for lab in d["labels"]],
            gold=ex(d["gold"]),
            dev=ex(d.get("dev", [])),
            test=ex(d.get("test", [])),
            unlabeled=ex(d.get("unlabeled", [])),
            water_level=int(d.get("water_level", DEFAULT_WATER_LEVEL)),
            text_name=d.get("text_name"),
            prompt=d.get("prompt"),
        )


def validate_task_name(name: str) -> str:
    """Task names become directory names: refuse anything path-like."""
    if not isinstance(name, str) or not TASK_NAME_RE.fullmatch(name) or ".." in name:
        raise TaskError(
            "a task name of 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
            f"{name!r}",
            "choose a plain name such as 'eprstmt' or 'reviews-v2' (no '/', '..' or spaces)",
            where="task name",
        )
    return name


def validate_task(spec: TaskSpec) -> TaskSpec:
    """Check a spec as a whole; raise :class:`TaskError` on the first problem."""
    validate_task_name(spec.name)
    if spec.language not in LANGUAGES:
        raise TaskError(
            f"language one of {LANGUAGES}", repr(spec.language), "pass --language zh or --language en", where="language"
        )
    ids = [lab.id for lab in spec.labels]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise TaskError("unique label ids", f"duplicates {dup}", "give every label its own id", where="labels")
    if len(ids) < 2:
        raise TaskError(
            "at least 2 classes",
            f"{len(ids)} class ({ids})",
            "a classifier needs examples of at least two labels in the gold file",
            where="labels",
        )
    if spec.prompt is not None and "{text}" not in spec.prompt:
        raise TaskError(
            "a prompt containing '{text}'",
            repr(spec.prompt),
            "write the prompt with a {text} placeholder, e.g. '判断这条评论的情感。\\n评论：{text}'",
            where="prompt",
        )
    if spec.water_level < 1:
        raise TaskError(
            "a water level >= 1",
            str(spec.water_level),
            "set water_level to the number of new answers that triggers an iteration",
            where="water_level",
        )
    known = set(ids)
    for split in ("gold", "dev", "test"):
        for i, e in enumerate(getattr(spec, split)):
            if e.label not in known:
                raise TaskError(
                    f"a label in {sorted(known)}",
                    f"{e.label!r} in {split} row {i + 1}",
                    "correct the label or add it to the label set",
                    where=split,
                )
    used = {e.label for e in spec.gold}
    missing = [lab.id for lab in spec.labels if lab.id not in used]
    if missing:
        raise TaskError(
            "at least one gold example for every label",
            f"no gold example for {missing}",
            "add examples for these labels to the training file or drop them from the label set",
            where="gold",
        )
    return spec
