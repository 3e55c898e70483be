"""The committee pools calibrated members on dev; a worse member can never drag the best one down."""

from __future__ import annotations

import numpy as np
import pytest

from factory.errors import TaskError
from factory.spec import Label
from teacher.committee import CommitteeConfig, fit_weights, pool
from teacher.teacher import verbalizer_sets


def _probs(pred, n_labels, conf):
    p = np.full((len(pred), n_labels), (1 - conf) / (n_labels - 1))
    p[np.arange(len(pred)), pred] = conf
    return p


def test_pooling_rows_are_distributions_and_weight_one_is_the_member_alone():
    a = _probs([0, 1, 2], 3, 0.7)
    b = _probs([1, 1, 0], 3, 0.9)
    for how in ("loglinear", "mean"):
        out = pool([a, b], [0.5, 0.5], how)
        np.testing.assert_allclose(out.sum(1), 1.0)
        np.testing.assert_allclose(pool([a, b], [1.0, 0.0], how), a, atol=1e-9)


def test_weights_drop_a_member_that_only_hurts_on_dev():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    good = _probs(y, 2, 0.8)
    noise = _probs(1 - y, 2, 0.95)  # confidently wrong everywhere
    w, acc, _ = fit_weights([good, noise], y, "loglinear")
    assert w == (1.0, 0.0) and acc == 1.0


def test_two_complementary_members_beat_either_alone():
    y = np.array([0, 1, 0, 1, 0, 1])
    a = _probs([0, 1, 0, 0, 1, 1], 2, 0.6)  # right on 0-2, confident nowhere
    a[3] = [0.55, 0.45]
    b = _probs([1, 0, 1, 1, 0, 1], 2, 0.9)  # right on 3 and 5 only, confident
    b[3], b[5] = [0.05, 0.95], [0.05, 0.95]
    _, acc, _ = fit_weights([a, b], y, "loglinear")
    assert acc > max((a.argmax(1) == y).mean(), (b.argmax(1) == y).mean())


def test_config_rejects_no_members_and_flat_llm_fields():
    with pytest.raises(TaskError, match="at least one committee member"):
        CommitteeConfig.from_dict({"llm": None, "embedding": None})
    with pytest.raises(TaskError, match="put LLM settings under 'llm'"):
        CommitteeConfig.from_dict({"epochs": 3})
    with pytest.raises(TaskError, match="TeacherConfig"):
        CommitteeConfig.from_dict({"llm": {"epoch": 3}})


def test_verbalizer_sets_take_the_kth_word_of_every_label():
    labels = [
        Label("n", "Negative", verbalizer=("差", "负面")),
        Label("p", "Positive", verbalizer=("好", "正面")),
        Label("m", "mixed"),
    ]
    sets = verbalizer_sets(labels)
    assert [[lab.words()[0] for lab in s] for s in sets] == [["差", "好", "mixed"], ["负面", "正面", "mixed"]]
    assert sets[1][0].words() == ("负面", "差")  # the other words stay, after the chosen one
    assert len(verbalizer_sets([Label("a", "a"), Label("b", "b")])) == 1


def test_llm_member_is_left_out_when_the_task_has_more_labels_than_a_prompt_can_list(tmp_path):
    from dataclasses import replace

    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from intake.benchmark_data import load_benchmark_task
    from factory.models import resolve_model
    from teacher.committee import adapt_committee

    body_dir = tmp_path / "bert"
    BertModel(
        BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(body_dir)
    AutoTokenizer.from_pretrained(resolve_model("all-minilm-l6-v2").source).save_pretrained(body_dir)
    body = models.Transformer(str(body_dir), max_seq_length=32)
    SentenceTransformer(modules=[body, models.Pooling(body.get_embedding_dimension(), "mean")], device="cpu").save(
        str(tmp_path / "st")
    )
    spec = load_benchmark_task("banking77", split=0, shots=5)
    spec = replace(spec, dev=spec.dev[:40], test=[], unlabeled=[])
    # The LLM named here does not exist: building it would fail, so the run passing shows it was never built.
    cfg = CommitteeConfig(
        llm={"model": str(tmp_path / "no-such-llm")},
        embedding={"model": str(tmp_path / "st"), "prompt": None, "progress": False},
    )
    c = adapt_committee(spec, cfg)
    assert list(c.members) == ["embedding"] and c.weights == {"embedding": 1.0}
    assert "77 labels > llm_max_labels=32" in c.metrics["skipped"]["llm"]
    with pytest.raises(TaskError, match="llm_max_labels"):
        CommitteeConfig(llm_max_labels=1)
