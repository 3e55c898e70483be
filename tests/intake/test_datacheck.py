"""Data checks: each warning fires on the data it describes, with a fix, and stays quiet on clean data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from intake.datacheck import data_warnings, label_name_warnings, resolve_conflicts
from factory.errors import TaskError
from factory.spec import Example, Label, TaskSpec


def _spec(gold=None, dev=(), test=(), unlabeled=(), language="en") -> TaskSpec:
    gold = gold or [Example(f"good text number {i}", "a", f"a{i}") for i in range(5)] + [
        Example(f"bad words here {i}", "b", f"b{i}") for i in range(5)
    ]
    return TaskSpec(
        "t",
        language,
        [Label("a", "positive"), Label("b", "negative")],
        list(gold),
        list(dev),
        list(test),
        list(unlabeled),
    )


def _checks(spec) -> set[str]:
    return {w["check"] for w in data_warnings(spec)}


def test_clean_data_has_no_warnings():
    assert data_warnings(_spec()) == []


def test_few_gold_and_imbalance_are_named_with_counts():
    gold = [Example(f"good text number {i}", "a", f"a{i}") for i in range(10)] + [Example("bad words", "b", "b0")]
    w = {x["check"]: x for x in data_warnings(_spec(gold))}
    assert w["few-gold"]["labels"] == {"b": 1} and "add gold" in w["few-gold"]["fix"]
    assert "a has 10" in w["imbalance"]["message"] and "b has 1" in w["imbalance"]["message"]


def test_near_duplicates_under_two_labels_are_flagged():
    gold = _spec().gold + [Example("The service was great!!", "a", "x1"), Example("the service was great", "b", "x2")]
    assert "near-duplicates" in _checks(_spec(gold))


def test_long_texts_and_pool_overlap_with_test():
    long = [Example("word " * 200, None, f"u{i}") for i in range(3)]
    test = [Example("held out text", "a", "t1")]
    w = _checks(_spec(test=test, unlabeled=long + [Example("held out text", None, "u9")]))
    assert {"long-texts", "pool-overlap"} <= w


def test_conflicts_warn_by_default_drop_on_request_refuse_when_asked():
    spec = _spec(test=[Example("good text number 1", "b", "t1"), Example("fine", "a", "t2")])
    kept, notes = resolve_conflicts(spec, "warn")
    assert len(kept.test) == 2 and notes[0]["check"] == "label-conflicts" and notes[0]["count"] == 1
    dropped, notes = resolve_conflicts(spec, "drop")
    assert [e.text for e in dropped.test] == ["fine"] and notes[0]["count"] == 1
    with pytest.raises(TaskError, match="labeled 'a' in gold"):
        resolve_conflicts(spec, "refuse")
    with pytest.raises(TaskError, match="warn"):
        resolve_conflicts(spec, "ignore")


class _Encoder:
    """Returns fixed vectors per name: the check's arithmetic, not a model, is under test here."""

    def __init__(self, table):
        self.table = table

    def encode(self, names, normalize_embeddings=True):
        return [self.table[n] for n in names]


def test_label_names_the_encoder_cannot_tell_apart():
    spec = _spec()
    assert label_name_warnings(spec, _Encoder({"positive": [1.0, 0.0], "negative": [0.0, 1.0]})) == []
    w = label_name_warnings(spec, _Encoder({"positive": [1.0, 0.0], "negative": [0.995, 0.0998]}))
    assert w[0]["check"] == "similar-label-names" and w[0]["pairs"][0][:2] == ["positive", "negative"]


def test_task_create_prints_warnings_and_task_check_lists_them(tmp_path):
    from cli.main import app

    (tmp_path / "train.csv").write_text(
        "text,label\n" + "".join(f"good {i},a\n" for i in range(6)) + "bad one,b\n", encoding="utf-8"
    )
    (tmp_path / "test.csv").write_text("text,label\ngood 1,b\n", encoding="utf-8")
    ws = str(tmp_path / "ws")
    res = CliRunner().invoke(
        app,
        [
            "task",
            "create",
            "t",
            "--train",
            str(tmp_path / "train.csv"),
            "--test",
            str(tmp_path / "test.csv"),
            "--workspace",
            ws,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    checks = {w["check"] for w in json.loads(res.stdout)["warnings"]}
    assert {"label-conflicts", "few-gold", "imbalance"} <= checks
    again = CliRunner().invoke(app, ["task", "check", "t", "--workspace", ws, "--json"])
    assert again.exit_code == 0 and {w["check"] for w in json.loads(again.stdout)["warnings"]} == checks


@pytest.mark.integration
def test_real_encoder_flags_synonym_labels_but_not_distinct_ones():
    spec = TaskSpec(
        "t",
        "en",
        [Label("h", "happy"), Label("g", "glad"), Label("w", "weather"), Label("n", "negative")],
        [Example("x", "h")],
    )
    from teacher.embedding import EmbeddingTeacherConfig, load_encoder

    cfg = EmbeddingTeacherConfig(progress=False)
    w = label_name_warnings(spec, load_encoder(cfg.model, cfg))
    assert len(w) == 1 and [p[:2] for p in w[0]["pairs"]] == [["happy", "glad"]]


def test_dev_equal_to_gold_and_the_train_file_passed_as_pool_are_flagged():
    spec = _spec()
    w = _checks(_spec(dev=spec.gold, unlabeled=[Example(e.text, None, f"u{i}") for i, e in enumerate(spec.gold)]))
    assert {"dev-is-gold", "pool-is-gold"} <= w


@pytest.mark.integration
def test_real_encoder_flags_labels_it_confuses_zero_shot_on_the_gold():
    from intake.datacheck import label_confusion_warnings
    from teacher.embedding import EmbeddingTeacherConfig, load_encoder

    cfg = EmbeddingTeacherConfig(progress=False)
    enc = load_encoder(cfg.model, cfg)
    gold = [
        Example(t, "w", f"w{i}") for i, t in enumerate(["rain all day tomorrow", "sunny and warm", "a storm is coming"])
    ]
    gold += [
        Example(t, "s", f"s{i}") for i, t in enumerate(["the match ended 2-1", "she won the final", "the league table"])
    ]
    clear = TaskSpec("t", "en", [Label("w", "weather"), Label("s", "sports")], gold)
    assert label_confusion_warnings(clear, enc) == []
    # "sports" renamed to something that reads like weather: its gold now lands on "weather" zero-shot.
    murky = TaskSpec("t", "en", [Label("w", "weather"), Label("s", "climate forecast")], gold)
    w = label_confusion_warnings(murky, enc)
    assert w and w[0]["check"] == "confused-labels"
