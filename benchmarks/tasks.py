"""Per-task prompt settings shared by every benchmark (one place, so all stages see the same teacher).

Each task's settings are a file, ``configs/tasks/<task>.yaml``: ``template``
(the teacher prompt, picked on dev_0 in the teacher sweep; null = the teacher's
language default), ``text_name`` (what a text is called in the teacher's and
generator's prompts) and ``verbalizers`` (label words replacing the data's, per
label id). Tasks without a file use the defaults.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from factory.config import CONFIGS_DIR, StageConfig, read_config_file
from factory.errors import TaskError
from factory.spec import TaskSpec

TASKS_DIR = CONFIGS_DIR / "tasks"


class TaskSettings(StageConfig):
    """One task's benchmark prompt settings (``configs/tasks/<task>.yaml``)."""

    template: str | None = None  # the teacher prompt with {text}; None = the teacher's default for the language
    text_name: str | None = None  # what a text is called in prompts ("商品评论"); None = the stages' default
    verbalizers: dict[str, list[str]] = Field(default_factory=dict)  # label id -> words, best first

    def check(self) -> None:
        """A template must hold the text; every listed label needs at least one word."""
        if self.template is not None and "{text}" not in self.template:
            raise TaskError(
                "a template containing {text}",
                repr(self.template),
                "put {text} where the text goes, or set template: null",
                where="TaskSettings.template",
            )
        empty = sorted(k for k, words in self.verbalizers.items() if not words)
        if empty:
            raise TaskError(
                "at least one word per listed label",
                f"no words for label ids {empty}",
                "list the words or drop those label ids",
                where="TaskSettings.verbalizers",
            )


def task_settings(name: str) -> TaskSettings:
    """The settings file of task ``name``, or the defaults when it has none."""
    path = TASKS_DIR / f"{name}.yaml"
    return TaskSettings.from_dict(read_config_file(path)) if path.is_file() else TaskSettings()


def template(spec: TaskSpec) -> str | None:
    """The teacher prompt for ``spec`` (None = the teacher's default for its language)."""
    return task_settings(spec.name).template


def text_name(spec: TaskSpec) -> str | None:
    """What a text of ``spec`` is called in the generator's and teacher's prompts (None = their default)."""
    return task_settings(spec.name).text_name


def with_task_settings(spec: TaskSpec) -> TaskSpec:
    """``spec`` with the settings a user would give at ``factory task create``: text name and label words."""
    spec = with_verbalizers(spec)
    name = text_name(spec)
    return replace(spec, text_name=spec.text_name or name) if name else spec


def with_verbalizers(spec: TaskSpec) -> TaskSpec:
    """``spec`` with its settings file's verbalizer words for its labels (unchanged for tasks not listed)."""
    words = task_settings(spec.name).verbalizers
    if not words:
        return spec
    return replace(
        spec, labels=[replace(lab, verbalizer=tuple(words.get(lab.id, lab.verbalizer))) for lab in spec.labels]
    )
