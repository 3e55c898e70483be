"""Distillation: the loss, the item weights, config validation and an end-to-end run on a tiny encoder."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from factory.errors import TaskError
from student import DistillConfig, DistillData, SoftExample, StudentArtifact, distill
from student.kd_loss import distill_loss
from student.train import training_items


def test_gold_loss_is_cross_entropy_and_soft_loss_vanishes_when_student_matches_teacher():
    logits = torch.tensor([[2.0, -1.0], [0.3, 0.1]])
    T = 2.0
    target_soft = F.softmax(logits[1:] / T, -1)
    target = torch.cat([torch.tensor([[0.0, 1.0]]), target_soft])
    gold = torch.tensor([True, False])
    ones = torch.ones(2)
    loss = distill_loss(logits, target, gold, ones, T, 1.0)
    assert loss.item() == pytest.approx(F.cross_entropy(logits[:1], torch.tensor([1])).item() / 2, abs=1e-6)
    off = distill_loss(logits, torch.cat([target[:1], torch.tensor([[0.9, 0.1]])]), gold, ones, T, 1.0)
    assert off.item() > loss.item()


def test_training_items_weight_by_confidence_and_balance_classes():
    data = DistillData(
        label_ids=["a", "b"],
        gold=[("x", "a"), ("y", "a"), ("z", "b")],
        soft=[SoftExample("p", (0.9, 0.1)), SoftExample("q", (0.6, 0.4)), SoftExample("r", (0.2, 0.8), weight=0.5)],
    )
    cfg = DistillConfig(gold_weight=1.0, temperature=1.0, min_confidence=0.0)
    items = {it["text"]: it for it in training_items(data, cfg)}
    assert items["z"]["weight"] == pytest.approx(2 * items["x"]["weight"])  # the rarer gold class counts double
    assert items["p"]["weight"] > items["q"]["weight"]  # more confident teacher rows weigh more
    assert items["p"]["target"] == pytest.approx([0.9, 0.1])
    sharp = {it["text"]: it for it in training_items(data, DistillConfig(temperature=2.0))}
    assert sharp["p"]["target"][0] < 0.9  # temperature > 1 softens the teacher's distribution
    dropped = training_items(data, DistillConfig(min_confidence=0.7))
    assert "q" not in {it["text"] for it in dropped}


def test_distill_config_names_the_bad_field_and_the_fix():
    with pytest.raises(TaskError, match="layer_selection.*'first' or 'spread'"):
        DistillConfig(layer_selection="middle")
    with pytest.raises(TaskError, match="unknown"):
        DistillConfig.from_dict({"epochz": 3})
    with pytest.raises(TaskError, match="DistillConfig.layer_indices: expected a non-empty list"):
        DistillConfig(layer_indices=[])
    cfg = DistillConfig()
    with pytest.raises(TaskError, match="DistillConfig.warmup_ratio: expected a value less than 1; found 1.5"):
        cfg.warmup_ratio = 1.5
    assert cfg.warmup_ratio == 0.1 and cfg.replace(epochs=2).epochs == 2 and cfg.epochs == 8


def test_soft_labels_must_follow_the_label_order(eprstmt_spec):
    with pytest.raises(TaskError, match="2 probabilities in label_ids order"):
        DistillData.from_spec(eprstmt_spec, soft=[("text", [0.2, 0.3, 0.5])])
    with pytest.raises(TaskError, match="summing to 1"):
        DistillData.from_spec(eprstmt_spec, soft=[("text", [0.2, 0.3])])


def test_distill_tiny_encoder_writes_artifact_with_history(tiny_bert, eprstmt_spec, tmp_path):
    soft = [(e.text, (0.3, 0.7) if i % 2 else (0.8, 0.2)) for i, e in enumerate(eprstmt_spec.unlabeled[:24])]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)
    data.dev = data.dev[:16]
    cfg = DistillConfig(student=str(tiny_bert), epochs=2, batch_size=16, max_length=48, patience=5)
    art = distill(data, cfg, out_dir=tmp_path / "run")
    assert [h["epoch"] for h in art.history] == [1, 2]
    assert set(art.dev_metrics) == {"accuracy", "macro_f1", "loss"}
    assert art.label_ids == ["Negative", "Positive"] and art.kind == "encoder"
    assert art.params < 110_000_000
    assert art.data_counts["soft"] == 24 and art.data_counts["gold"] == 32
    loaded = StudentArtifact.load(tmp_path / "run")
    assert loaded.model_dir == tmp_path / "run" / "best" and (loaded.model_dir / "model.safetensors").is_file()
    saved = json.loads((tmp_path / "run" / "distill_config.json").read_text())
    assert saved["epochs"] == 2


def test_distill_refuses_to_resume_a_run_made_with_another_config(eprstmt_spec, tmp_path):
    from factory.atomic import atomic_write_json
    from student import prepare_job

    atomic_write_json(tmp_path / "distill_config.json", DistillConfig(epochs=9).to_dict())
    with pytest.raises(TaskError, match="different config"):
        prepare_job(DistillData.from_spec(eprstmt_spec), DistillConfig(epochs=2), tmp_path)


def test_gradient_accumulation_steps_the_optimizer_once_per_accum_batches(tiny_bert, eprstmt_spec, tmp_path):
    soft = [(e.text, (0.3, 0.7) if i % 2 else (0.8, 0.2)) for i, e in enumerate(eprstmt_spec.unlabeled[:24])]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)  # 32 gold + 24 soft = 56 rows = 7 batches of 8
    data.dev = data.dev[:8]
    plain = distill(
        data, DistillConfig(student=str(tiny_bert), epochs=1, batch_size=8, max_length=32), out_dir=tmp_path / "plain"
    )
    accum = distill(
        data,
        DistillConfig(student=str(tiny_bert), epochs=1, batch_size=8, grad_accum=2, max_length=32),
        out_dir=tmp_path / "accum",
    )
    assert plain.history[0]["optimizer_steps"] == 7
    assert accum.history[0]["optimizer_steps"] == 4  # 2+2+2+1: the epoch's last, short group still steps
    with pytest.raises(TaskError, match="grad_accum"):
        DistillConfig(grad_accum=0)


def test_length_grouped_sampler_is_a_seeded_permutation_with_less_padding():
    import random

    from student.train import EpochSampler

    rng = random.Random(0)
    lengths = [rng.randint(5, 200) for _ in range(300)]
    grouped = EpochSampler(len(lengths), seed=3, lengths=lengths, batch_size=16)
    plain = EpochSampler(len(lengths), seed=3)

    def padded(order):
        return sum(
            max(lengths[i] for i in order[k : k + 16]) * len(order[k : k + 16]) for k in range(0, len(order), 16)
        )

    for epoch in (0, 1):
        grouped.use_epoch(epoch)
        plain.use_epoch(epoch)
        order = list(grouped)
        assert sorted(order) == list(range(300))
        assert order == list(grouped)  # same (seed, epoch), same order: a resumed epoch replays it
        assert padded(order) < 0.7 * padded(list(plain))
    grouped.use_epoch(0)
    first = list(grouped)
    grouped.use_epoch(1)
    assert list(grouped) != first


def test_embedding_loss_is_zero_for_aligned_rows_and_ignores_rows_without_a_target():
    from student.kd_loss import embedding_loss, mean_pool

    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    same = embedding_loss(torch.tensor([[3.0, 0.0], [5.0, 5.0]]), target, torch.tensor([True, False]))
    assert same.item() == pytest.approx(0.0, abs=1e-6)  # row 2 is off target but has no embedding
    off = embedding_loss(torch.tensor([[0.0, 3.0], [5.0, 5.0]]), target, torch.tensor([True, False]))
    assert off.item() == pytest.approx(1.0, abs=1e-6)
    assert embedding_loss(torch.ones(2, 2), target, torch.tensor([False, False])).item() == 0.0
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).item() == pytest.approx(2.0)  # padding left out


def test_teacher_embeddings_round_trip_and_refuse_a_changed_matrix(tmp_path):
    import numpy as np

    from student.data import TeacherEmbeddings

    emb = TeacherEmbeddings(["a", "b"], np.eye(2, 3), "embeddinggemma-300m")
    path = emb.save(tmp_path / "teacher-embeddings")
    back = TeacherEmbeddings.load(path)
    assert back.texts == ["a", "b"] and back.vectors.shape == (2, 3) and back.model == "embeddinggemma-300m"
    np.save(tmp_path / "teacher-embeddings.npy", np.zeros((2, 3), dtype=np.float16))
    with pytest.raises(TaskError, match="sha256"):
        TeacherEmbeddings.load(path)
    with pytest.raises(TaskError, match="one row per text"):
        TeacherEmbeddings(["a"], np.eye(2, 3))


def test_distill_with_teacher_embeddings_aligns_the_student_and_saves_only_its_texts(tiny_bert, eprstmt_spec, tmp_path):
    import numpy as np

    from student.data import TeacherEmbeddings

    soft = [(e.text, (0.3, 0.7) if i % 2 else (0.8, 0.2)) for i, e in enumerate(eprstmt_spec.unlabeled[:24])]
    texts = [t for t, _ in soft] + [e.text for e in eprstmt_spec.gold] + ["a text the student never sees"]
    vecs = np.random.default_rng(0).normal(size=(len(texts), 8))
    data = DistillData.from_spec(eprstmt_spec, soft=soft, embeddings=TeacherEmbeddings(texts, vecs))
    data.dev = data.dev[:16]
    cfg = DistillConfig(student=str(tiny_bert), epochs=2, batch_size=16, max_length=48, patience=5, embed_weight=1.0)
    art = distill(data, cfg, out_dir=tmp_path / "run")
    assert art.data_counts["teacher_embeddings"] == 24 + 32  # the texts it trains on
    saved = TeacherEmbeddings.load(tmp_path / "run" / "data" / "teacher-embeddings.json")
    assert len(saved.texts) == 24 + 32 and "a text the student never sees" not in saved.texts
    # The alignment term is part of the loss: the same run without it ends with another training loss.
    plain = distill(data, DistillConfig(**{**cfg.to_dict(), "embed_weight": 0.0}), out_dir=tmp_path / "plain")
    assert art.history[0]["train_loss"] != pytest.approx(plain.history[0]["train_loss"])
