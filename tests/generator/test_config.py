from __future__ import annotations

import pytest

from factory.errors import TaskError
from generator import GeneratorConfig


def test_config_rejects_both_budgets_at_once():
    with pytest.raises(TaskError, match="either per_label or total"):
        GeneratorConfig(per_label=5, total=10)


@pytest.mark.parametrize(
    "field,value",
    [
        ("per_label", 0),
        ("total", -3),
        ("shots", 0),
        ("top_p", 1.5),
        ("teacher_threshold", -0.1),
        ("temperature", 0.0),
        ("chat_template", "sometimes"),
        ("batch_size", "eight"),
    ],
)
def test_config_rejects_bad_values_naming_the_field_with_a_fix(field, value):
    with pytest.raises(TaskError, match="Fix:") as e:
        GeneratorConfig(**{field: value})
    assert e.value.where == f"GeneratorConfig.{field}" and field in e.value.fix


def test_max_chars_below_min_chars_is_refused_on_build_and_on_assignment():
    with pytest.raises(TaskError, match="max_chars >= min_chars"):
        GeneratorConfig(min_chars=10, max_chars=5)
    cfg = GeneratorConfig(max_chars=8)
    with pytest.raises(TaskError, match="max_chars >= min_chars"):
        cfg.min_chars = 9
    assert cfg.min_chars == 4  # the refused value is not kept


def test_a_bad_assignment_names_the_field_and_keeps_the_old_value():
    cfg = GeneratorConfig(per_label=3)
    with pytest.raises(TaskError) as e:
        cfg.shots = 0
    assert e.value.where == "GeneratorConfig.shots" and cfg.shots == 4
    with pytest.raises(TaskError, match="either per_label or total"):
        cfg.total = 10
    assert cfg.total is None
    assert cfg.replace(per_label=None, total=10).total == 10


def test_total_budget_is_split_exactly_across_labels():
    b = GeneratorConfig(total=11).budget(["a", "b", "c"])
    assert b == {"a": 4, "b": 4, "c": 3} and sum(b.values()) == 11
    assert GeneratorConfig(per_label=3).budget(["a", "b"]) == {"a": 3, "b": 3}
    assert GeneratorConfig().budget(["a"]) == {"a": 20}


def test_total_below_one_per_label_is_refused(zh_spec):
    GeneratorConfig(total=len(zh_spec.labels)).check_budget(zh_spec)
    with pytest.raises(TaskError, match="at least one sample per label"):
        GeneratorConfig(total=1).check_budget(zh_spec)


def test_config_round_trips_through_json_and_refuses_unknown_fields(tmp_path):
    cfg = GeneratorConfig(per_label=7, text_name="商品评论", temperature=0.7)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    assert GeneratorConfig.load(cfg.save(tmp_path / "g.json")) == cfg
    with pytest.raises(TaskError, match=r"unknown \['temprature'\]") as e:
        GeneratorConfig.from_dict({"per_label": 3, "temprature": 0.5})
    assert "temperature" in e.value.expected  # the known fields are listed beside the typo
