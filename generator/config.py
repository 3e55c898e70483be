"""The generator's one typed config, validated up front."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from factory.atomic import atomic_write_json
from factory.errors import TaskError
from factory.spec import TaskSpec

CHAT_MODES = ("auto", "always", "never")
DEFAULT_PER_LABEL = 20


@dataclass
class GeneratorConfig:
    """How many samples to write, with which model and sampling settings, and how hard to filter.

    The budget is the number of *candidates generated* (before filtering): either
    ``per_label`` for every label or ``total`` split as evenly as possible across
    labels. Set at most one; with neither, ``per_label`` is 20.
    """

    model: str | None = None  # None: the bundled default generator for the task's language
    per_label: int | None = None
    total: int | None = None
    seed: int = 0
    # prompting
    shots: int = 4  # gold examples of the intended label in every prompt (rotating subsets)
    text_name: str | None = None  # what a text is called in the prompt, e.g. "商品评论"; default 文本/text
    chat_template: str = "auto"  # auto: use the tokenizer's chat template when it has one
    # sampling
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 64
    batch_size: int = 8
    # sample only tokens that occur in the task's texts and prompts (gold, up to 2,000 pool texts)
    domain_vocab: bool = True
    # filters
    min_chars: int = 4
    max_chars: int | None = None  # None: twice the longest gold text (at least 32)
    min_distinct_ngrams: float = 0.4  # degenerate: distinct/total char 3-grams below this
    language_ratio: float = 0.6  # share of letters in the task's script
    gold_overlap: float = 0.7  # near-copy of gold: char n-gram overlap coefficient at or above this
    dup_threshold: float = 0.7  # near duplicates: char n-gram Jaccard at or above this
    teacher_threshold: float = 0.5  # keep when the teacher's prob of the intended label is at least this

    def validate(self, spec: TaskSpec | None = None) -> "GeneratorConfig":
        """Raise :class:`TaskError` on the first bad field; returns ``self``."""
        if self.per_label is not None and self.total is not None:
            raise TaskError(
                "either per_label or total as the budget",
                f"per_label={self.per_label} and total={self.total}",
                "set one of them and leave the other None",
                where="GeneratorConfig",
            )
        for name in ("per_label", "total"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise TaskError(
                    "a positive integer", f"{name}={v!r}", f"set {name} to 1 or more", where="GeneratorConfig"
                )
        positive = {
            "shots": self.shots,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "min_chars": self.min_chars,
        }
        for name, v in positive.items():
            if not isinstance(v, int) or v < 1:
                raise TaskError(
                    "a positive integer", f"{name}={v!r}", f"set {name} to 1 or more", where="GeneratorConfig"
                )
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise TaskError(
                "max_chars >= min_chars",
                f"max_chars={self.max_chars}, min_chars={self.min_chars}",
                "raise max_chars or leave it None",
                where="GeneratorConfig",
            )
        if self.chat_template not in CHAT_MODES:
            raise TaskError(
                f"chat_template one of {CHAT_MODES}",
                repr(self.chat_template),
                "use 'auto' unless you need to force it",
                where="GeneratorConfig",
            )
        if not self.temperature > 0:
            raise TaskError(
                "temperature > 0 (sampling)", repr(self.temperature), "use e.g. 0.9", where="GeneratorConfig"
            )
        for name in (
            "top_p",
            "min_distinct_ngrams",
            "language_ratio",
            "gold_overlap",
            "dup_threshold",
            "teacher_threshold",
        ):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:
                raise TaskError(
                    "a value between 0 and 1", f"{name}={v!r}", f"set {name} within [0, 1]", where="GeneratorConfig"
                )
        if spec is not None and self.total is not None and self.total < len(spec.labels):
            raise TaskError(
                f"a total of at least one sample per label ({len(spec.labels)})",
                f"total={self.total}",
                f"raise total to {len(spec.labels)} or more, or use per_label",
                where="GeneratorConfig",
            )
        return self

    def budget(self, label_ids: list[str]) -> dict[str, int]:
        """Candidates to generate for every label; sums exactly to the configured budget."""
        if self.total is None:
            n = self.per_label or DEFAULT_PER_LABEL
            return {lab: n for lab in label_ids}
        base, extra = divmod(self.total, len(label_ids))
        return {lab: base + (1 if i < extra else 0) for i, lab in enumerate(label_ids)}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise TaskError(
                f"generator config fields among {sorted(known)}",
                f"unknown {unknown}",
                "remove or rename them",
                where="GeneratorConfig",
            )
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "GeneratorConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
