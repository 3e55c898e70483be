"""Per-task benchmark prompt settings apply to the labels they name and leave other tasks alone."""

from __future__ import annotations

from benchmarks import tasks
from factory.spec import Example, Label, TaskSpec


def _spec(name: str) -> TaskSpec:
    labels = [Label("106", "news_house", verbalizer=("房产",)), Label("107", "news_car", verbalizer=("汽车",))]
    return TaskSpec(name=name, language="zh", labels=labels, gold=[Example("买房", "106"), Example("买车", "107")])


def test_with_verbalizers_replaces_only_the_listed_labels(monkeypatch):
    monkeypatch.setitem(tasks.VERBALIZERS, "demo", {"106": ("房子",)})
    spec = tasks.with_verbalizers(_spec("demo"))
    assert [lab.verbalizer for lab in spec.labels] == [("房子",), ("汽车",)]
    assert [lab.name for lab in spec.labels] == ["news_house", "news_car"]


def test_tasks_without_settings_keep_their_spec_and_the_default_template():
    spec = _spec("unlisted-task")
    assert tasks.with_verbalizers(spec) is spec
    assert tasks.template(spec) is None
    assert "{text}" in tasks.template(_spec("eprstmt"))
