"""The embedding teacher and the committee with the real bundled EmbeddingGemma-300M (EPRSTMT slice)."""

from __future__ import annotations

import numpy as np
import pytest

from teacher import (
    Committee,
    CommitteeConfig,
    EmbeddingTeacher,
    EmbeddingTeacherConfig,
    adapt_committee,
    adapt_embedding,
    load_labeler,
)

pytestmark = pytest.mark.integration


def test_embedding_teacher_learns_from_gold_and_round_trips_without_pickle(eprstmt_small, tmp_path):
    cfg = EmbeddingTeacherConfig(body="frozen", progress=False)
    t = adapt_embedding(eprstmt_small, cfg, out_dir=tmp_path / "emb")
    texts = [e.text for e in eprstmt_small.test]
    y = np.array([eprstmt_small.label_index(e.label) for e in eprstmt_small.test])
    res = t.label(texts)
    np.testing.assert_allclose(res.probs.sum(1), 1.0, atol=1e-9)
    assert (res.probs.argmax(1) == y).mean() >= 0.7  # frozen EmbeddingGemma + LR: ~86 % on all of test_public
    assert t.metrics["C"] in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0) and t.calibration.kind == "temperature"
    assert sorted(p.name for p in (tmp_path / "emb").iterdir()) == ["embedding-teacher.json"]  # JSON head, no body copy
    loaded = load_labeler(tmp_path / "emb")
    assert isinstance(loaded, EmbeddingTeacher)
    np.testing.assert_allclose(loaded.label(texts[:8]).probs, res.probs[:8], atol=1e-5)
    # The labeling step keeps the member's vectors for the student's embedding-alignment loss.
    from recipe.steps import save_embeddings
    from student.data import TeacherEmbeddings

    first = list(dict.fromkeys(texts[:8]))
    saved = TeacherEmbeddings.load(save_embeddings(loaded, first + first[:2], tmp_path / "labels"))
    assert saved.texts == first
    np.testing.assert_allclose(saved.vectors, loaded.embed(first), atol=2e-3)


def test_committee_of_gemma_and_embedding_is_pooled_on_dev_and_reloads(eprstmt_small, tmp_path):
    cfg = CommitteeConfig(
        llm={"model": "gemma-3-270m", "mode": "zero-shot", "template": "评论:{text}\n总体评价:"},
        embedding={"body": "frozen"},
    )
    c = adapt_committee(eprstmt_small, cfg, out_dir=tmp_path / "committee")
    assert set(c.members) == {"llm", "embedding"} and abs(sum(c.weights.values()) - 1) < 1e-9
    best_member = max(m["dev"]["accuracy"] for m in c.metrics["members"].values())
    assert c.metrics["dev"]["accuracy"] >= best_member  # every member alone is on the weight grid
    texts = [e.text for e in eprstmt_small.test[:12]]
    again = load_labeler(tmp_path / "committee")
    assert isinstance(again, Committee)
    np.testing.assert_allclose(again.label(texts).probs, c.label(texts).probs, atol=1e-5)


def test_setfit_tuned_body_is_saved_and_reloaded_with_the_head(eprstmt_small, tmp_path):
    from dataclasses import replace

    spec = replace(eprstmt_small, gold=eprstmt_small.gold[:4] + eprstmt_small.gold[-4:], dev=eprstmt_small.dev[:8])
    cfg = EmbeddingTeacherConfig(body="tuned", setfit_iterations=1, setfit_max_steps=2, batch_size=8, progress=False)
    t = adapt_embedding(spec, cfg, out_dir=tmp_path / "tuned")
    assert (tmp_path / "tuned" / "body" / "model.safetensors").is_file()
    assert t.metrics["body"]["chosen"] == "tuned" and t.metrics["body"]["frozen_dev"]["n"] == 8
    texts = [e.text for e in spec.test[:6]]
    again = EmbeddingTeacher.load(tmp_path / "tuned")
    np.testing.assert_allclose(again.label(texts).probs, t.label(texts).probs, atol=1e-5)


def test_self_training_round_is_kept_only_when_dev_says_so(eprstmt_small, tmp_path):
    cfg = CommitteeConfig(llm=None, embedding={"body": "frozen"}, self_train_rounds=1, self_train_per_label=8)
    c = adapt_committee(eprstmt_small, cfg)
    (round1,) = c.metrics["self_train"]
    assert round1["pseudo_labeled"] == 16 and isinstance(round1["kept"], bool)
    if not round1["kept"]:
        assert round1["dev_accuracy_gain"] <= 0


def test_body_choice_on_dev_keeps_the_frozen_body_unless_the_tuned_one_wins(eprstmt_small, tmp_path):
    from dataclasses import replace

    spec = replace(eprstmt_small, gold=eprstmt_small.gold[:4] + eprstmt_small.gold[-4:], dev=eprstmt_small.dev[:8])
    cfg = EmbeddingTeacherConfig(body="dev", setfit_iterations=1, setfit_max_steps=2, batch_size=8, progress=False)
    t = adapt_embedding(spec, cfg, out_dir=tmp_path / "dev")
    body = t.metrics["body"]
    assert body["rule"] == "dev" and {body["frozen_dev"]["n"], body["tuned_dev"]["n"]} == {8}
    from teacher.embedding import tuned_body_wins

    assert body["chosen"] == ("tuned" if tuned_body_wins(body["frozen_dev"], body["tuned_dev"]) else "frozen")
    assert (tmp_path / "dev" / "body").is_dir() == (body["chosen"] == "tuned")
    assert t.metrics["dev"] == body[f"{body['chosen']}_dev"]
