"""The frozen-prefix cache gives the numbers of the full forward, and fine-tuning with it learns the same."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import teacher.finetune as finetune_mod
from factory.spec import Label
from teacher import TeacherConfig, adapt
from teacher.frozen import lower_states, split_layer, upper_scores
from teacher.scoring import VerbalizerScorer, score_rows, score_states

TEMPLATE = "评论:{text}\n总体评价:"


@pytest.fixture
def binary_spec(sentiment_spec):
    """Two single-token labels (the cache only serves single-token verbalizers)."""
    labels = [Label("neg", "negative", verbalizer=("差",)), Label("pos", "positive", verbalizer=("好",))]
    keep = lambda xs: [e for e in xs if e.label in ("neg", "pos")]  # noqa: E731
    return replace(
        sentiment_spec,
        labels=labels,
        gold=keep(sentiment_spec.gold),
        dev=keep(sentiment_spec.dev),
        test=keep(sentiment_spec.test),
    )


def _cfg(model_dir, **kw) -> TeacherConfig:
    return TeacherConfig(model=str(model_dir), template=TEMPLATE, progress=False, calibration="none", **kw)


def test_upper_layers_on_cached_states_match_the_full_forward(tiny_model_dir, binary_spec):
    teacher = adapt(binary_spec, _cfg(tiny_model_dir, mode="zero-shot"))
    scorer = teacher.scorer
    rows = teacher.rows(
        ["很好用", "物流慢不满意", "好评推荐", "差"]
    )  # different lengths: left padding differs per batch
    split = split_layer(scorer, train_layers=1, freeze_embeddings=True)
    assert split == 1
    states = lower_states(scorer, rows, split, batch_size=3)
    assert [s.shape[0] for s in states] == [len(r) for r in rows]
    with torch.inference_mode():
        full = scorer.scores(rows)
        cached = upper_scores(scorer, states, split)
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-5)


def test_batched_scoring_on_cached_states_matches_scoring_the_prompts(tiny_model_dir, binary_spec):
    teacher = adapt(binary_spec, _cfg(tiny_model_dir, mode="zero-shot"))
    scorer = teacher.scorer
    rows = teacher.rows(["很好用", "物流慢不满意", "好评推荐", "差", "一般般吧"])
    split = split_layer(scorer, train_layers=1, freeze_embeddings=True)
    states = lower_states(scorer, rows, split, batch_size=2)
    scorer.model.train()
    # Batches run longest first: the scores must come back in the rows' order, the model's mode as it was.
    by_rows = score_rows(scorer, rows, batch_size=2)
    by_states = score_states(scorer, states, split, batch_size=2)
    assert by_rows.shape == (len(rows), 2) and scorer.model.training
    np.testing.assert_allclose(by_states, by_rows, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(by_rows[3:4], score_rows(scorer, rows[3:4], batch_size=2), rtol=1e-4, atol=1e-5)


def test_cache_is_not_used_for_multi_token_labels_or_trained_embeddings(tiny_model_dir, sentiment_spec, binary_spec):
    multi = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot"))
    assert split_layer(multi.scorer, train_layers=1, freeze_embeddings=True) is None
    single = adapt(binary_spec, _cfg(tiny_model_dir, mode="zero-shot"))
    assert split_layer(single.scorer, train_layers=1, freeze_embeddings=False) is None
    assert split_layer(single.scorer, train_layers=None, freeze_embeddings=True) is None
    assert (
        split_layer(single.scorer, train_layers=2, freeze_embeddings=True) is None
    )  # every layer trained: nothing to cache


def test_finetune_with_the_cache_follows_the_uncached_run(tiny_model_dir, binary_spec, monkeypatch):
    cfg = _cfg(tiny_model_dir, mode="finetune", epochs=4, lr=3e-3, batch_size=4, warmup_ratio=0.0, train_layers=1)
    cached = adapt(binary_spec, cfg)
    monkeypatch.setattr(finetune_mod, "split_layer", lambda *a, **k: None)
    plain = adapt(binary_spec, cfg)
    rep_c, rep_p = cached.metrics["finetune"][0], plain.metrics["finetune"][0]
    assert rep_c["frozen_prefix_cache"] and not rep_p["frozen_prefix_cache"]
    for a, b in zip(rep_c["history"], rep_p["history"]):
        assert a["step"] == b["step"]
        np.testing.assert_allclose(a["dev_nll"], b["dev_nll"], rtol=1e-3)
        if a["train_loss"] is not None:
            np.testing.assert_allclose(a["train_loss"], b["train_loss"], rtol=1e-3)
    texts = [e.text for e in binary_spec.gold]
    np.testing.assert_allclose(cached.raw_scores(texts), plain.raw_scores(texts), rtol=1e-3, atol=1e-4)


def test_scorer_built_for_cache_has_no_shared_prefix(tiny_model_dir, binary_spec):
    teacher = adapt(binary_spec, _cfg(tiny_model_dir, mode="icl", icl_shots=1))
    scorer = VerbalizerScorer(teacher.model, teacher.builder.label_token_ids, pad_id=0)
    scorer.set_prefix(teacher.builder.prefix_ids)
    # An in-context prefix lives in a KV cache the upper layers alone cannot see.
    assert split_layer(scorer, train_layers=1, freeze_embeddings=True) is None
