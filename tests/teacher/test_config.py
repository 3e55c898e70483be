"""TeacherConfig validation: bad values fail before any model loads, with a fix in the message."""

from __future__ import annotations

import pytest

from factory.errors import TaskError
from teacher import TeacherConfig


def test_config_rejects_template_without_text_placeholder():
    with pytest.raises(TaskError, match=r"\{text\}"):
        TeacherConfig(template="评论:\n总体评价:").validate()


@pytest.mark.parametrize("field,value", [("mode", "few-shot"), ("aggregate", "max"), ("calibration", "platt"), ("epochs", 0), ("lr", 2.0), ("train_layers", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(TaskError, match="Fix:"):
        TeacherConfig(**{field: value}).validate()


def test_config_round_trips_through_json_and_refuses_unknown_keys():
    cfg = TeacherConfig(mode="icl", icl_shots=3, template="Text: {text}\nLabel:")
    assert TeacherConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TaskError, match="unknown"):
        TeacherConfig.from_dict({**cfg.to_dict(), "epoch": 3})
