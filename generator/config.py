"""The generator's one typed config, checked when it is built."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field

from factory.atomic import atomic_write_json
from factory.config import StageConfig
from factory.errors import TaskError
from factory.spec import TaskSpec

ChatMode = Literal["auto", "always", "never"]
CHAT_MODES = get_args(ChatMode)
DEFAULT_PER_LABEL = 20


class GeneratorConfig(StageConfig):
    """How many samples to write, with which model and sampling settings, and how hard to filter.

    The budget is the number of *candidates generated* (before filtering): either
    ``per_label`` for every label or ``total`` split as evenly as possible across
    labels. Set at most one; with neither, ``per_label`` is 20.
    """

    model: str | None = None  # None: the bundled default generator for the task's language
    per_label: int | None = Field(None, ge=1)
    total: int | None = Field(None, ge=1)
    seed: int = 0
    # prompting
    shots: int = Field(4, ge=1)  # gold examples of the intended label in every prompt (rotating subsets)
    text_name: str | None = None  # what a text is called in the prompt, e.g. "商品评论"; default 文本/text
    chat_template: ChatMode = "auto"  # auto: use the tokenizer's chat template when it has one
    # sampling
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.95, ge=0, le=1)
    max_new_tokens: int = Field(64, ge=1)
    batch_size: int = Field(8, ge=1)
    # sample only tokens that occur in the task's texts and prompts (gold, up to 2,000 pool texts)
    domain_vocab: bool = True
    # filters
    min_chars: int = Field(4, ge=1)
    max_chars: int | None = None  # None: twice the longest gold text (at least 32)
    min_distinct_ngrams: float = Field(0.4, ge=0, le=1)  # degenerate: distinct/total char 3-grams below this
    language_ratio: float = Field(0.6, ge=0, le=1)  # share of letters in the task's script
    gold_overlap: float = Field(0.7, ge=0, le=1)  # near-copy of gold: char n-gram overlap coefficient at or above this
    dup_threshold: float = Field(0.7, ge=0, le=1)  # near duplicates: char n-gram Jaccard at or above this
    # keep when the teacher's prob of the intended label is at least this
    teacher_threshold: float = Field(0.5, ge=0, le=1)

    def check(self) -> None:
        """One budget at most, and ``max_chars`` not below ``min_chars``."""
        if self.per_label is not None and self.total is not None:
            raise TaskError(
                "either per_label or total as the budget",
                f"per_label={self.per_label} and total={self.total}",
                "set one of them and leave the other None",
                where="GeneratorConfig",
            )
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise TaskError(
                "max_chars >= min_chars",
                f"max_chars={self.max_chars}, min_chars={self.min_chars}",
                "raise max_chars or leave it None",
                where="GeneratorConfig.max_chars",
            )

    def check_budget(self, spec: TaskSpec) -> None:
        """Raise :class:`TaskError` when ``total`` cannot give every label of ``spec`` one candidate."""
        if self.total is not None and self.total < len(spec.labels):
            raise TaskError(
                f"a total of at least one sample per label ({len(spec.labels)})",
                f"total={self.total}",
                f"raise total to {len(spec.labels)} or more, or use per_label",
                where="GeneratorConfig.total",
            )

    def budget(self, label_ids: list[str]) -> dict[str, int]:
        """Candidates to generate for every label; sums exactly to the configured budget."""
        if self.total is None:
            n = self.per_label or DEFAULT_PER_LABEL
            return {lab: n for lab in label_ids}
        base, extra = divmod(self.total, len(label_ids))
        return {lab: base + (1 if i < extra else 0) for i, lab in enumerate(label_ids)}

    def save(self, path: str | Path) -> Path:
        """Write the config as JSON (atomically); :meth:`load` reads it back."""
        return atomic_write_json(path, self.to_dict())
