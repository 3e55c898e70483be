"""``evaluate`` saves every test prediction beside its metrics: the rows the Models page lists mistakes from."""

from __future__ import annotations

import json

import pytest

from factory.atomic import read_jsonl
from student import evaluate, load_student


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, eprstmt_spec, tiny_bert_classifier):
    """A tiny untrained BERT classifier over the task's labels: evaluate needs a student, not a good one."""
    root = tmp_path_factory.mktemp("tiny-classifier")
    tiny_bert_classifier(root, eprstmt_spec.label_ids)
    return root


def test_evaluate_writes_one_prediction_per_test_text_matching_its_accuracy(classifier_dir, eprstmt_spec, tmp_path):
    test = eprstmt_spec.test[:30]
    metrics = evaluate(classifier_dir, test, tmp_path, backend="torch", speed_texts=0)

    assert metrics["predictions_jsonl"] == str(tmp_path / "predictions.jsonl")
    assert json.loads((tmp_path / "metrics.json").read_text())["predictions_jsonl"] == metrics["predictions_jsonl"]
    rows = read_jsonl(tmp_path / "predictions.jsonl")
    assert [(r["text"], r["gold"]) for r in rows] == [(e.text, e.label) for e in test]
    assert sum(r["gold"] == r["predicted"] for r in rows) / len(rows) == pytest.approx(metrics["accuracy"])
    # The saved labels are the student's own answers, and each row's confidence is its predicted label's probability.
    student = load_student(classifier_dir, backend="torch")
    assert [r["predicted"] for r in rows] == [p["label"] for p in student.predict([e.text for e in test])]
    for r in rows:
        assert set(r["probs"]) == set(eprstmt_spec.label_ids) and sum(r["probs"].values()) == pytest.approx(1, abs=1e-3)
        assert r["confidence"] == pytest.approx(max(r["probs"].values()), abs=1e-4)
        assert r["probs"][r["predicted"]] == pytest.approx(r["confidence"], abs=1e-4)
    support = {lab: c["support"] for lab, c in metrics["per_class"].items()}
    assert support == {lab: sum(r["gold"] == lab for r in rows) for lab in eprstmt_spec.label_ids}
