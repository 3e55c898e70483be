"""The teacher configs: bad values fail before any model loads, naming the field, with a fix in the message."""

from __future__ import annotations

import pytest

from factory.errors import TaskError
from teacher import CommitteeConfig, EmbeddingTeacherConfig, TeacherConfig


def test_config_rejects_template_without_text_placeholder():
    with pytest.raises(TaskError, match=r"\{text\}") as e:
        TeacherConfig(template="评论:\n总体评价:")
    assert e.value.where == "TeacherConfig.template"


@pytest.mark.parametrize(
    "field,value",
    [
        ("mode", "few-shot"),
        ("aggregate", "max"),
        ("calibration", "platt"),
        ("chat", "yes"),
        ("dtype", "int8"),
        ("epochs", 0),
        ("icl_shots", -1),
        ("lr", 2.0),
        ("warmup_ratio", 1.0),
        ("eval_every", 0),
        ("train_layers", 0),
        ("select_dev", 0),
        ("max_length", "long"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(TaskError, match="Fix:") as e:
        TeacherConfig(**{field: value})
    assert e.value.where == f"TeacherConfig.{field}"


def test_a_bad_assignment_is_refused_and_the_old_value_kept():
    cfg = TeacherConfig()
    with pytest.raises(TaskError) as e:
        cfg.epochs = 0
    assert e.value.where == "TeacherConfig.epochs" and cfg.epochs == 12
    with pytest.raises(TaskError, match=r"\{text\}"):
        cfg.template = "no placeholder"
    assert cfg.template is None
    with pytest.raises(TaskError, match="epoch"):  # a misspelt field is refused, not silently added
        cfg.epoch = 3


def test_replace_is_a_checked_copy():
    cfg = TeacherConfig(mode="zero-shot")
    assert cfg.replace(epochs=2).epochs == 2 and cfg.epochs == 12
    with pytest.raises(TaskError, match="TeacherConfig.lr"):
        cfg.replace(lr=0)


def test_config_round_trips_through_json_and_refuses_unknown_keys():
    cfg = TeacherConfig(mode="icl", icl_shots=3, template="Text: {text}\nLabel:")
    assert TeacherConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TaskError, match=r"unknown \['epoch'\]") as e:
        TeacherConfig.from_dict({**cfg.to_dict(), "epoch": 3})
    assert "epochs" in e.value.expected  # the known fields are listed, so the typo is easy to spot


def test_embedding_config_names_the_field_and_round_trips():
    with pytest.raises(TaskError) as e:
        EmbeddingTeacherConfig(setfit_iterations=-1)
    assert e.value.where == "EmbeddingTeacherConfig.setfit_iterations"
    with pytest.raises(TaskError, match="leave C=None") as e:
        EmbeddingTeacherConfig(C=0.0)
    assert e.value.where == "EmbeddingTeacherConfig.C"
    with pytest.raises(TaskError, match=r"unknown \['batchsize'\]"):
        EmbeddingTeacherConfig.from_dict({"batchsize": 8})
    cfg = EmbeddingTeacherConfig(C=3.0, prompt=None, progress=False)
    with pytest.raises(TaskError) as e:
        cfg.batch_size = 0
    assert e.value.where == "EmbeddingTeacherConfig.batch_size" and cfg.batch_size == 16
    assert EmbeddingTeacherConfig.from_dict(cfg.to_dict()) == cfg


def test_committee_config_checks_its_members_and_round_trips():
    with pytest.raises(TaskError) as e:
        CommitteeConfig(combine="max")
    assert e.value.where == "CommitteeConfig.combine"
    # A member's bad field is reported by the member's own config, naming that field.
    with pytest.raises(TaskError) as e:
        CommitteeConfig(llm={"epochs": 0})
    assert e.value.where == "TeacherConfig.epochs"
    with pytest.raises(TaskError) as e:
        CommitteeConfig(embedding={"C": -1.0})
    assert e.value.where == "EmbeddingTeacherConfig.C"
    cfg = CommitteeConfig(llm={"mode": "zero-shot", "progress": False}, embedding={"prompt": None})
    with pytest.raises(TaskError) as e:
        cfg.llm = {"mode": "few-shot"}
    assert e.value.where == "TeacherConfig.mode" and cfg.llm == {"mode": "zero-shot", "progress": False}
    with pytest.raises(TaskError) as e:
        cfg.self_train_rounds = -1
    assert e.value.where == "CommitteeConfig.self_train_rounds"
    with pytest.raises(TaskError, match="at least one committee member"):
        cfg.replace(llm=None, embedding=None)
    assert CommitteeConfig.from_dict(cfg.to_dict()) == cfg
    assert CommitteeConfig.from_dict(None) == CommitteeConfig()


def test_selection_sample_caps_dev_and_keeps_every_label():
    from teacher.teacher import selection_sample

    y = [0] * 90 + [1] * 9 + [2]
    idx = selection_sample(y, 20, seed=0)
    assert len(idx) <= 21 and len(set(idx)) == len(idx)
    assert {y[i] for i in idx} == {0, 1, 2}
    assert selection_sample(y, 20, seed=0) == idx
    assert selection_sample(y, None, seed=0) == list(range(100))


def test_tuned_body_needs_one_more_dev_text_or_a_clearly_lower_nll():
    from teacher.embedding import NLL_MARGIN, tuned_body_wins

    frozen = {"n": 32, "accuracy": 0.75, "nll": 0.50}
    assert tuned_body_wins(frozen, {"n": 32, "accuracy": 0.78125, "nll": 0.60})  # one more text right
    assert not tuned_body_wins(frozen, {"n": 32, "accuracy": 0.75, "nll": 0.50 - NLL_MARGIN / 2})  # a tie
    assert tuned_body_wins(frozen, {"n": 32, "accuracy": 0.75, "nll": 0.50 - 2 * NLL_MARGIN})
    assert not tuned_body_wins(frozen, {"n": 32, "accuracy": 0.71875, "nll": 0.1})  # one fewer right
    assert not tuned_body_wins(None, {"n": 32, "accuracy": 1.0, "nll": 0.0})  # no dev: the frozen body


def test_embedding_body_choice_is_validated():
    assert EmbeddingTeacherConfig().body == "auto"  # "dev" on a GPU, "frozen" on a CPU
    with pytest.raises(TaskError) as e:
        EmbeddingTeacherConfig(body="warm")
    assert e.value.where == "EmbeddingTeacherConfig.body"
