"""The recipe's dev test for synthetic samples: the student gets them only where they help on dev."""

from __future__ import annotations

import json

import numpy as np

from factory.atomic import atomic_write_json, atomic_write_jsonl
from factory.spec import Example, Label, TaskSpec
from recipe import steps
from student.data import TeacherEmbeddings
from teacher.embedding import samples_help

# Two labels apart on one of 40 axes: two gold vectors a label leave the head fitting noise, so samples can help.
MEANS = np.zeros((2, 40))
MEANS[0, 0], MEANS[1, 0] = 1.5, -1.5


def _draw(rng, label: int, n: int) -> np.ndarray:
    return MEANS[label] + rng.normal(0, 1.0, (n, MEANS.shape[1]))


def _task(tmp_path, flipped: bool, dev: bool = True):
    """Two labels on 40-d vectors: 2 gold a label, 60 dev, 30 samples a label (labeled right, or swapped)."""
    rng = np.random.default_rng(0)
    texts, vecs = [], []

    def add(prefix, label, n):
        out = []
        for i, v in enumerate(_draw(rng, label, n)):
            texts.append(f"{prefix}-{label}-{i}")
            vecs.append(v)
            out.append(texts[-1])
        return out

    gold = [Example(t, lab) for lab in ("pos", "neg") for t in add("gold", ("pos", "neg").index(lab), 2)]
    dev_rows = [Example(t, lab) for lab in ("pos", "neg") for t in add("dev", ("pos", "neg").index(lab), 60)]
    kept = []
    for k, lab in enumerate(("pos", "neg")):
        written_for = ("neg", "pos")[k] if flipped else lab
        kept += [{"text": t, "label": written_for, "probs": [0.5, 0.5]} for t in add("syn", k, 30)]
    spec = TaskSpec("t", "en", [Label("pos", "positive"), Label("neg", "negative")], gold, dev_rows if dev else [])
    atomic_write_json(tmp_path / "spec.json", spec.to_dict())
    kept_path = atomic_write_jsonl(tmp_path / "kept.jsonl", kept)
    emb = TeacherEmbeddings(texts, np.stack(vecs), "test").save(tmp_path / "emb")
    return str(tmp_path / "spec.json"), str(kept_path), str(emb)


def test_samples_help_when_they_are_labeled_like_the_data_and_not_when_swapped():
    rng = np.random.default_rng(1)
    gold = (np.concatenate([_draw(rng, 0, 2), _draw(rng, 1, 2)]), np.array([0, 0, 1, 1]))
    dev = (np.concatenate([_draw(rng, 0, 60), _draw(rng, 1, 60)]), np.array([0] * 60 + [1] * 60))
    xs = np.concatenate([_draw(rng, 0, 30), _draw(rng, 1, 30)])
    good = samples_help(gold, (xs, np.array([0] * 30 + [1] * 30)), dev, 2)
    bad = samples_help(gold, (xs, np.array([1] * 30 + [0] * 30)), dev, 2)
    assert good["helps"] and not bad["helps"]
    assert bad["with_samples"]["accuracy"] < 0.5 < bad["gold_only"]["accuracy"]
    assert good["dev_n"] == 120 and good["needed"] == 2 and good["gained"] >= 2


def test_a_gain_of_one_dev_text_or_of_nll_alone_is_noise_and_keeps_the_gold_alone():
    from teacher.embedding import SAMPLES_MIN_TEXTS

    rng = np.random.default_rng(3)
    gold = (np.concatenate([_draw(rng, 0, 8), _draw(rng, 1, 8)]), np.array([0] * 8 + [1] * 8))
    dev = (np.concatenate([_draw(rng, 0, 60), _draw(rng, 1, 60)]), np.array([0] * 60 + [1] * 60))
    # Samples that repeat what the gold already says: the head barely moves, whatever the NLL does.
    same = samples_help(gold, gold, dev, 2)
    assert same["gained"] < SAMPLES_MIN_TEXTS and not same["helps"]


def test_decide_synthesis_leaves_out_samples_that_hurt_on_dev_and_says_why(tmp_path):
    spec, kept, emb = _task(tmp_path, flipped=True)
    out = steps.decide_synthesis(spec, kept, emb, str(tmp_path / "synthesis"))
    assert out["use"] is False and out["path"] is None and out["kept"] == 60
    assert out["reason"].startswith("left out: on 120 dev texts")
    saved = json.loads((tmp_path / "synthesis" / steps.SYNTHESIS_FILE).read_text(encoding="utf-8"))
    assert saved["use"] is False and saved["reason"] == out["reason"]
    assert "synthesis" in steps.report(tmp_path)


def test_decide_synthesis_uses_samples_that_help_on_dev(tmp_path):
    spec, kept, emb = _task(tmp_path, flipped=False)
    out = steps.decide_synthesis(spec, kept, emb, str(tmp_path / "synthesis"))
    assert out["use"] is True and out["path"] == kept and out["reason"].startswith("used:")


def test_decide_synthesis_without_dev_or_vectors_uses_the_samples_and_says_so(tmp_path):
    spec, kept, emb = _task(tmp_path, flipped=True, dev=False)
    out = steps.decide_synthesis(spec, kept, emb, str(tmp_path / "a"))
    assert out["use"] is True and "no dev set" in out["reason"]
    spec, kept, _ = _task(tmp_path, flipped=True)
    out = steps.decide_synthesis(spec, kept, None, str(tmp_path / "b"))
    assert out["use"] is True and "no teacher embeddings" in out["reason"]
    out = steps.decide_synthesis(spec, kept, emb, str(tmp_path / "c"), rule="always")
    assert out["use"] is True and "always" in out["reason"]


def test_decide_synthesis_with_no_samples_uses_none(tmp_path):
    spec, _, emb = _task(tmp_path, flipped=False)
    empty = atomic_write_jsonl(tmp_path / "none.jsonl", [])
    out = steps.decide_synthesis(spec, str(empty), emb, str(tmp_path / "s"))
    assert out["use"] is False and out["path"] is None and out["kept"] == 0


def test_the_card_says_whether_the_samples_were_used():
    from student.card import _synthesis_line

    line = _synthesis_line({"use": False, "kept": 12, "reason": "left out: on 32 dev texts …"})
    assert line.startswith("- Synthetic samples: 12 kept by the filters, left out")
    assert _synthesis_line(None) == ""
