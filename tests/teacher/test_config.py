"""TeacherConfig validation: bad values fail before any model loads, with a fix in the message."""

from __future__ import annotations

import pytest

from factory.errors import TaskError
from teacher import TeacherConfig


def test_config_rejects_template_without_text_placeholder():
    with pytest.raises(TaskError, match=r"\{text\}"):
        TeacherConfig(template="评论:\n总体评价:").validate()


@pytest.mark.parametrize(
    "field,value",
    [
        ("mode", "few-shot"),
        ("aggregate", "max"),
        ("calibration", "platt"),
        ("epochs", 0),
        ("lr", 2.0),
        ("train_layers", 0),
        ("select_dev", 0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(TaskError, match="Fix:"):
        TeacherConfig(**{field: value}).validate()


def test_config_round_trips_through_json_and_refuses_unknown_keys():
    cfg = TeacherConfig(mode="icl", icl_shots=3, template="Text: {text}\nLabel:")
    assert TeacherConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TaskError, match="unknown"):
        TeacherConfig.from_dict({**cfg.to_dict(), "epoch": 3})


def test_selection_sample_caps_dev_and_keeps_every_label():
    from teacher.teacher import selection_sample

    y = [0] * 90 + [1] * 9 + [2]
    idx = selection_sample(y, 20, seed=0)
    assert len(idx) <= 21 and len(set(idx)) == len(idx)
    assert {y[i] for i in idx} == {0, 1, 2}
    assert selection_sample(y, 20, seed=0) == idx
    assert selection_sample(y, None, seed=0) == list(range(100))
