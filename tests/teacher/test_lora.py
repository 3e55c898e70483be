"""LoRA fine-tuning of the LLM member: adapters on the top layers, merged in, saved and loaded as a plain teacher."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from factory.errors import TaskError
from factory.spec import Label
from teacher import Teacher, TeacherConfig, adapt

TEMPLATE = "评论:{text}\n总体评价:"


@pytest.fixture
def binary_spec(sentiment_spec):
    labels = [Label("neg", "negative", verbalizer=("差",)), Label("pos", "positive", verbalizer=("好",))]
    keep = lambda xs: [e for e in xs if e.label in ("neg", "pos")]  # noqa: E731
    return replace(sentiment_spec, labels=labels, gold=keep(sentiment_spec.gold), dev=keep(sentiment_spec.dev), test=[])


def _cfg(model_dir, **kw) -> TeacherConfig:
    settings = dict(epochs=6, lr=2e-2, batch_size=4, warmup_ratio=0.0, train_layers=1)
    return TeacherConfig(
        model=str(model_dir),
        template=TEMPLATE,
        progress=False,
        calibration="none",
        mode="finetune",
        **{**settings, **kw},
    )


def test_lora_trains_adapters_on_the_top_layer_only_and_merges_them(tiny_model_dir, binary_spec, tmp_path):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    spec = replace(binary_spec, dev=binary_spec.gold)  # selected on what it trains on: a trained step wins
    teacher = adapt(spec, _cfg(tiny_model_dir, lora_rank=4, select_dev=None), out_dir=tmp_path / "t")
    rep = teacher.metrics["finetune"][0]
    assert rep["lora_rank"] == 4
    assert 0 < rep["trainable_params"] < sum(p.numel() for p in base.model.layers[1].parameters())
    # The merged weights are the top layer's projections, and nothing below it changed.
    assert teacher.trained and all(
        n.startswith("model.layers.1.") and n.endswith("proj.weight") for n in teacher.trained
    )
    assert not any("lora" in n for n, _ in teacher.model.named_parameters())
    before, after = dict(base.named_parameters()), dict(teacher.model.named_parameters())
    assert torch.equal(
        before["model.layers.0.self_attn.q_proj.weight"], after["model.layers.0.self_attn.q_proj.weight"]
    )
    assert rep["best_step"] > 0 and any(not torch.equal(before[n], after[n]) for n in teacher.trained)
    # Saved as plain tensors: a reload scores like the teacher that was trained.
    texts = [e.text for e in binary_spec.gold]
    again = Teacher.load(tmp_path / "t")
    np.testing.assert_allclose(again.raw_scores(texts), teacher.raw_scores(texts), rtol=1e-4, atol=1e-5)


def test_lora_fits_the_gold_it_trains_on(tiny_model_dir, binary_spec):
    cfg = _cfg(tiny_model_dir, lora_rank=8, epochs=12, select_dev=None)
    teacher = adapt(replace(binary_spec, dev=binary_spec.gold), cfg)  # select on the gold itself: it must fit it
    hist = teacher.metrics["finetune"][0]["history"]
    assert hist[-1]["train_loss"] < hist[1]["train_loss"]
    assert max(h["dev_accuracy"] for h in hist[1:]) > hist[0]["dev_accuracy"]


def test_lora_settings_are_checked():
    with pytest.raises(TaskError, match="lora_rank"):
        TeacherConfig(lora_rank=-1)
    with pytest.raises(TaskError, match="lora_alpha"):
        TeacherConfig(lora_alpha=0)
