"""Per-task prompt settings shared by every benchmark (one place, so all stages see the same teacher).

Templates were picked on dev_0 in the teacher sweep; tasks not listed use the
teacher's language defaults. ``TEXT_NAMES`` is what a text is called in the
generator's few-shot lines.
"""

from __future__ import annotations

from dataclasses import replace

from factory.spec import TaskSpec

TEMPLATES = {
    "eprstmt": "评论:{text}\n总体评价:",
    "tnews": "新闻标题:{text}\n新闻类别:",
}
TEXT_NAMES = {"eprstmt": "商品评论", "tnews": "新闻标题", "sst2": "movie review", "banking77": "customer message"}
# Verbalizer words replacing the label names of the data, per task and label id.
# TNEWS: 房产 and 电竞 are two Gemma tokens each; the one-token 房子 and 游戏 score the
# same zero-shot on dev_0 (49.2 vs 50.4 %, 240 texts) and let every label be read from
# one position, so labeling skips the continuation pass and fine-tuning runs only the
# trained layers (teacher/frozen.py): 1.8x faster zero-shot labeling of dev_0.
VERBALIZERS: dict[str, dict[str, tuple[str, ...]]] = {
    # Qwen reads 房产 and 电竞 as one token each: kept as second words, picked on dev per model.
    "tnews": {"106": ("房子", "房产"), "116": ("游戏", "电竞")},
}


def template(spec: TaskSpec) -> str | None:
    """The teacher prompt for ``spec`` (None = the teacher's default for its language)."""
    return TEMPLATES.get(spec.name)


def with_task_settings(spec: TaskSpec) -> TaskSpec:
    """``spec`` with the settings a user would give at ``factory task create``: text name and label words."""
    spec = with_verbalizers(spec)
    name = TEXT_NAMES.get(spec.name)
    return replace(spec, text_name=spec.text_name or name) if name else spec


def with_verbalizers(spec: TaskSpec) -> TaskSpec:
    """``spec`` with this module's verbalizer words for its labels (unchanged for tasks not listed)."""
    words = VERBALIZERS.get(spec.name)
    if not words:
        return spec
    return replace(spec, labels=[replace(lab, verbalizer=words.get(lab.id, lab.verbalizer)) for lab in spec.labels])
