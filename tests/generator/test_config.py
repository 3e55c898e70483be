from __future__ import annotations

import pytest

from factory.errors import TaskError
from generator import GeneratorConfig


def test_config_rejects_both_budgets_at_once():
    with pytest.raises(TaskError, match="either per_label or total"):
        GeneratorConfig(per_label=5, total=10).validate()


@pytest.mark.parametrize(
    "field,value",
    [("per_label", 0), ("shots", 0), ("top_p", 1.5), ("temperature", 0.0), ("chat_template", "sometimes")],
)
def test_config_rejects_bad_values_with_a_fix(field, value):
    with pytest.raises(TaskError, match="Fix:"):
        GeneratorConfig(**{field: value}).validate()


def test_total_budget_is_split_exactly_across_labels():
    b = GeneratorConfig(total=11).budget(["a", "b", "c"])
    assert b == {"a": 4, "b": 4, "c": 3} and sum(b.values()) == 11
    assert GeneratorConfig(per_label=3).budget(["a", "b"]) == {"a": 3, "b": 3}
    assert GeneratorConfig().budget(["a"]) == {"a": 20}


def test_total_below_one_per_label_is_refused(zh_spec):
    with pytest.raises(TaskError, match="at least one sample per label"):
        GeneratorConfig(total=1).validate(zh_spec)


def test_config_round_trips_through_json_and_refuses_unknown_fields(tmp_path):
    cfg = GeneratorConfig(per_label=7, text_name="商品评论", temperature=0.7)
    assert GeneratorConfig.load(cfg.save(tmp_path / "g.json")) == cfg
    with pytest.raises(TaskError, match="unknown"):
        GeneratorConfig.from_dict({"per_label": 3, "temprature": 0.5})
