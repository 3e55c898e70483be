"""Per-task benchmark prompt settings come from configs/tasks/<task>.yaml, apply to the labels they name and leave
other tasks alone."""

from __future__ import annotations

import pytest

from benchmarks import tasks
from factory.errors import TaskError
from factory.spec import Example, Label, TaskSpec


def _spec(name: str) -> TaskSpec:
    labels = [Label("106", "news_house", verbalizer=("房产",)), Label("107", "news_car", verbalizer=("汽车",))]
    return TaskSpec(name=name, language="zh", labels=labels, gold=[Example("买房", "106"), Example("买车", "107")])


def test_with_verbalizers_replaces_only_the_listed_labels(monkeypatch, tmp_path):
    (tmp_path / "demo.yaml").write_text('# probe\nverbalizers:\n  "106": [房子]\n', encoding="utf-8")
    monkeypatch.setattr(tasks, "TASKS_DIR", tmp_path)
    spec = tasks.with_verbalizers(_spec("demo"))
    assert [lab.verbalizer for lab in spec.labels] == [("房子",), ("汽车",)]
    assert [lab.name for lab in spec.labels] == ["news_house", "news_car"]


def test_tasks_without_settings_keep_their_spec_and_the_default_template():
    spec = _spec("unlisted-task")
    assert tasks.with_verbalizers(spec) is spec
    assert tasks.template(spec) is None and tasks.text_name(spec) is None
    assert "{text}" in tasks.template(_spec("eprstmt"))


def test_the_task_files_hold_the_settings_the_benchmarks_were_measured_with():
    assert tasks.template(_spec("eprstmt")) == "评论:{text}\n总体评价:"
    assert tasks.template(_spec("tnews")) == "新闻标题:{text}\n新闻类别:"
    names = {t: tasks.text_name(_spec(t)) for t in ("eprstmt", "tnews", "sst2", "banking77")}
    assert names == {
        "eprstmt": "商品评论",
        "tnews": "新闻标题",
        "sst2": "movie review",
        "banking77": "customer message",
    }
    tnews = tasks.with_task_settings(_spec("tnews"))
    assert tnews.labels[0].verbalizer == ("房子", "房产") and tnews.text_name == "新闻标题"


def test_a_bad_settings_file_names_the_field(monkeypatch, tmp_path):
    monkeypatch.setattr(tasks, "TASKS_DIR", tmp_path)
    (tmp_path / "demo.yaml").write_text('template: "no placeholder"\n', encoding="utf-8")
    with pytest.raises(TaskError, match="TaskSettings.template"):
        tasks.template(_spec("demo"))
    (tmp_path / "demo.yaml").write_text("verbaliser: {}\n", encoding="utf-8")
    with pytest.raises(TaskError, match=r"unknown \['verbaliser'\]"):
        tasks.template(_spec("demo"))
