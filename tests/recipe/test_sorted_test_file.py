"""A test file sorted by label: the capped test keeps every label, and a one-label student is flagged everywhere.

The issue: a tiny TNEWS run published v1 at 30.0 % because ``test_cap`` took the first 40 rows of a file
sorted by label. Here the recipe's own intake caps such a file, the recipe's own evaluation scores a real
(tiny, random) classifier that always answers one label, and the version published from it carries the
warning on its card and in the metrics the Models page reads.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from factory.spec import Example, Label, TaskSpec
from recipe import steps
from student import StudentArtifact
from student.card import model_card
from student.evaluate import trust_flags

LABELS = ["sports", "finance", "tech"]
ROWS = {"sports": 150, "finance": 90, "tech": 60}  # unequal, so "its share" is more than "a third each"


@pytest.fixture
def sorted_spec() -> TaskSpec:
    """300 test texts grouped by label, as TNEWS's test file is: a head of the file is one label.

    One per test: ``steps.intake`` caps the spec it is given in place (the pipeline hands it a fresh load).
    """
    test = [Example(f"{lab} headline number {i}", lab) for lab in LABELS for i in range(ROWS[lab])]
    gold = [Example(f"{lab} gold example {i}", lab) for lab in LABELS for i in range(4)]
    return TaskSpec("sorted-news", "en", [Label(lab, lab.title()) for lab in LABELS], gold, test=test)


@pytest.fixture(scope="module")
def one_label_student(tmp_path_factory, tiny_bert_classifier) -> StudentArtifact:
    """A real tiny BERT classifier whose head answers ``sports`` for every text (bias 10, no weights)."""
    run = tmp_path_factory.mktemp("one-label-student")
    model = tiny_bert_classifier(run / "model", LABELS, bias=[10.0, 0.0, 0.0])
    art = StudentArtifact(
        run, run / "model", LABELS, sum(p.numel() for p in model.parameters()), "encoder", "tiny-bert"
    )
    art.save()
    return art


def test_capping_a_label_sorted_test_file_keeps_every_label_at_its_share(sorted_spec, tmp_path):
    assert {e.label for e in sorted_spec.test[:30]} == {"sports"}  # what a head of the file would have kept
    spec_path = steps.intake(sorted_spec, tmp_path, pool_cap=None, dev_cap=None, test_cap=30, seed=0)
    capped = steps.load_spec(spec_path).test
    assert Counter(e.label for e in capped) == {"sports": 15, "finance": 9, "tech": 6}
    assert len({e.text for e in capped}) == 30 and {e.text for e in capped} <= {e.text for e in sorted_spec.test}


def test_a_one_label_student_on_the_stratified_sample_is_flagged_near_chance(sorted_spec, one_label_student, tmp_path):
    spec_path = steps.intake(sorted_spec, tmp_path / "run", pool_cap=None, dev_cap=None, test_cap=30, seed=0)
    metrics = steps.evaluate_student(str(one_label_student.run_dir), spec_path, str(tmp_path / "eval"))

    assert metrics["n"] == 30 and metrics["test_total"] == 300
    assert metrics["accuracy"] == pytest.approx(0.5)  # every sports text right, every other one wrong
    near_chance = [f for f in metrics["flags"] if "near chance" in f]
    assert near_chance and "commonest label scores 50.0 %" in near_chance[0]
    assert any("only 30 test texts" in f for f in metrics["flags"])
    assert not any("no texts of" in f for f in metrics["flags"])  # the stratified sample has every label

    card = model_card(steps.load_spec(spec_path), one_label_student, metrics, {})
    cautions = [line for line in card.splitlines() if line.startswith("- **Caution:**")]
    assert len(cautions) == len(metrics["flags"]) and "near chance" in "".join(cautions)
    # The warnings come first under Metrics, before the accuracy they qualify.
    metrics_part = card.split("## Metrics", 1)[1]
    assert metrics_part.index("Caution:") < metrics_part.index("- Accuracy 50.0%")


def test_a_head_of_the_sorted_file_would_have_been_flagged_for_missing_labels(sorted_spec):
    head = [e.label for e in sorted_spec.test[:30]]
    flags = trust_flags(head, ["sports"] * 30, LABELS)  # the old cap: a perfect score on one label
    assert any("no texts of 2 label(s) (finance, tech)" in f for f in flags)


def test_the_published_version_carries_the_flags_to_its_card_and_the_models_page(
    sorted_spec, one_label_student, workspace, tmp_path
):
    from factory.atomic import atomic_write_json
    from ui.artifacts import list_versions

    workspace.save_task(sorted_spec)
    spec_path = steps.intake(sorted_spec, tmp_path / "run", pool_cap=None, dev_cap=None, test_cap=30, seed=0)
    metrics = steps.evaluate_student(str(one_label_student.run_dir), spec_path, str(tmp_path / "eval"))
    # The two files of the export that carry the flags, as export_artifact writes them; its ONNX files and zip
    # would only slow the test down.
    export = tmp_path / "export"
    export.mkdir()
    atomic_write_json(export / "metrics.json", metrics)
    (export / "README.md").write_text(model_card(sorted_spec, one_label_student, metrics, {}), encoding="utf-8")
    version = workspace.publish_model(sorted_spec.name, export, extra={"metrics": metrics, "kind": "production"})

    assert Path(version).name == "v1"
    (v,) = list_versions(workspace, sorted_spec.name)
    assert v.metrics["flags"] == metrics["flags"] and any("near chance" in f for f in v.metrics["flags"])
    assert "**Caution:**" in v.card and "near chance" in v.card
