"""Labeling with the tiny model: probabilities, multi-token verbalizers, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from teacher import LabelResult, Teacher, TeacherConfig, adapt
from teacher.scoring import VerbalizerScorer

TEMPLATE = "评论:{text}\n总体评价:"


def _cfg(model_dir, **kw) -> TeacherConfig:
    return TeacherConfig(model=str(model_dir), template=TEMPLATE, progress=False, **kw)


def test_label_probabilities_sum_to_one_and_follow_label_order(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot"))
    texts = [e.text for e in sentiment_spec.unlabeled]
    res = teacher.label(texts, batch_size=4)
    assert isinstance(res, LabelResult)
    assert res.probs.shape == (len(texts), 3)
    np.testing.assert_allclose(res.probs.sum(1), 1.0, atol=1e-9)
    assert (res.probs >= 0).all()
    assert set(res.labels) <= set(sentiment_spec.label_ids)
    assert res.labels == [sentiment_spec.label_ids[i] for i in res.probs.argmax(1)]
    np.testing.assert_allclose(res.confidence, res.probs.max(1))


def test_label_of_no_texts_is_empty(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot", calibration="none"))
    res = teacher.label([])
    assert res.probs.shape == (0, 3) and res.labels == []


def _reference_scores(model, rows, label_seqs, aggregate):
    """Naive teacher forcing: run prompt + verbalizer as one sequence per (text, label)."""
    out = np.zeros((len(rows), len(label_seqs)))
    with torch.no_grad():
        for i, r in enumerate(rows):
            for j, seq in enumerate(label_seqs):
                ids = torch.tensor([r + seq])
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
                lp = sum(float(logp[len(r) - 1 + t, tok]) for t, tok in enumerate(seq))
                out[i, j] = lp / len(seq) if aggregate == "mean" else lp
    return out


@pytest.mark.parametrize("aggregate", ["mean", "sum"])
def test_multi_token_verbalizer_matches_full_teacher_forcing(tiny_model_dir, sentiment_spec, aggregate):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot", aggregate=aggregate, calibration="none"))
    seqs = teacher.builder.label_token_ids
    assert [len(s) for s in seqs] == [1, 1, 2]
    texts = ["很好用", "物流慢不满意", "一般"]  # different lengths: padding must not change scores
    got = teacher.raw_scores(texts, batch_size=3)
    want = _reference_scores(teacher.model, teacher.rows(texts), seqs, aggregate)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # Softmax over the labels of the exact scores is the teacher's (uncalibrated) output.
    res = teacher.label(texts)
    np.testing.assert_allclose(res.probs, torch.softmax(torch.tensor(want), -1).numpy(), atol=1e-4)


def test_in_context_prefix_cache_matches_prepended_demonstrations(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="icl", icl_shots=1, calibration="none"))
    assert len(teacher.builder.demos) == 3 and teacher._cached_prefix
    texts = ["很好用", "质量差", "一般"]
    cached = teacher.raw_scores(texts, batch_size=3)
    prepended = [teacher.builder.prefix_ids + teacher.builder.text_ids(t) for t in texts]
    want = _reference_scores(teacher.model, prepended, teacher.builder.label_token_ids, "mean")
    np.testing.assert_allclose(cached, want, atol=1e-4)


def test_scorer_is_differentiable_for_fine_tuning(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot", calibration="none"))
    scorer = VerbalizerScorer(teacher.model, teacher.builder.label_token_ids, pad_id=0)
    for p in teacher.model.parameters():
        p.requires_grad_(True)
    scores = scorer.scores(teacher.rows(["很好用", "一般"]))
    torch.nn.functional.cross_entropy(scores, torch.tensor([1, 2])).backward()
    layer = teacher.model.model.layers[0].mlp.up_proj.weight
    assert layer.grad is not None and layer.grad.abs().sum() > 0


def test_finetune_learns_separable_gold_set(tiny_model_dir, sentiment_spec):
    cfg = _cfg(
        tiny_model_dir, mode="finetune", epochs=30, lr=3e-3, batch_size=4, warmup_ratio=0.0, freeze_embeddings=False
    )
    teacher = adapt(sentiment_spec, cfg)
    res = teacher.label([e.text for e in sentiment_spec.gold])
    acc = np.mean([p == e.label for p, e in zip(res.labels, sentiment_spec.gold)])
    assert acc >= 0.9, teacher.metrics
    hist = teacher.metrics["finetune"][0]["history"]
    assert hist[0]["step"] == 0 and hist[-1]["step"] == teacher.metrics["finetune"][0]["steps"]


def test_save_load_round_trip_gives_identical_probabilities(tiny_model_dir, sentiment_spec, tmp_path):
    cfg = _cfg(tiny_model_dir, mode="finetune", epochs=2, lr=1e-3, batch_size=4)
    teacher = adapt(sentiment_spec, cfg, out_dir=tmp_path / "t")
    assert (tmp_path / "t" / "teacher.safetensors").is_file() and (tmp_path / "t" / "teacher.json").is_file()
    assert teacher.trained, "fine-tuning must record which tensors it changed"
    texts = [e.text for e in sentiment_spec.unlabeled]
    before = teacher.label(texts)
    loaded = Teacher.load(tmp_path / "t")
    after = loaded.label(texts)
    np.testing.assert_allclose(after.probs, before.probs, atol=1e-6)
    assert loaded.calibration == teacher.calibration
    assert loaded.metrics["dev"]["n"] == len(sentiment_spec.dev)
    assert loaded.params == teacher.params > 0


def test_load_rejects_folder_without_teacher(tmp_path):
    from factory.errors import TaskError

    with pytest.raises(TaskError, match="teacher.json"):
        Teacher.load(tmp_path)
