"""The student ladder: budgets name kinds, the published kind is the best on dev within the latency bound."""

from __future__ import annotations

import json

import pytest

import student.ladder as ladder
from factory.errors import TaskError
from student import DistillConfig, DistillData

ROWS = [
    {"kind": "static", "dev_accuracy": 0.70, "latency_ms_per_text": 0.2},
    {"kind": "small", "dev_accuracy": 0.80, "latency_ms_per_text": 9.0},
    {"kind": "base", "dev_accuracy": 0.80, "latency_ms_per_text": 30.0},
]


def test_pick_takes_the_best_dev_accuracy_and_the_faster_on_a_tie():
    assert ladder.pick(ROWS, None)["kind"] == "small"


def test_a_small_dev_set_keeps_the_default_kind_unless_another_is_clearly_better():
    rows = [
        {"kind": "small", "dev_accuracy": 0.75, "latency_ms_per_text": 9.0},
        {"kind": "base", "dev_accuracy": 0.78, "latency_ms_per_text": 30.0},
    ]
    assert ladder.pick(rows, None, n_dev=32)["kind"] == "small"  # 1 text of 32: noise
    assert ladder.pick(rows, None, n_dev=20000)["kind"] == "base"  # 3 points on 20k texts: real
    far = [rows[0], {"kind": "base", "dev_accuracy": 0.97, "latency_ms_per_text": 30.0}]
    assert ladder.pick(far, None, n_dev=32)["kind"] == "base"
    assert ladder.pick(rows, 10.0, n_dev=20000)["kind"] == "small"  # base is over the latency bound


def test_pick_respects_the_latency_bound_and_falls_back_to_the_fastest():
    assert ladder.pick(ROWS, 5.0)["kind"] == "static"
    assert ladder.pick(ROWS[1:], 1.0)["kind"] == "small"


def test_unknown_budget_names_the_choices():
    with pytest.raises(TaskError, match="balanced"):
        ladder.kinds_for("cheap")


def test_recipe_config_rejects_an_unknown_budget_before_any_work():
    from recipe.config import RecipeConfig, check_stages

    with pytest.raises(TaskError, match="budget"):
        check_stages(RecipeConfig.from_dict({"budget": "cheap"}))
    with pytest.raises(TaskError, match="max_latency_ms"):
        RecipeConfig.from_dict({"max_latency_ms": -1})


def test_ladder_trains_each_kind_and_records_them(tiny_bert, tiny_gemma, eprstmt_spec, tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer, models

    body = models.Transformer(str(tiny_gemma), max_seq_length=64)
    st_dir = tmp_path / "st"
    SentenceTransformer(modules=[body, models.Pooling(body.get_embedding_dimension(), "mean")], device="cpu").save(
        str(st_dir)
    )
    monkeypatch.setitem(ladder.BUDGETS, "balanced", ("static", "small"))
    monkeypatch.setattr(
        ladder,
        "KINDS",
        {
            "static": {"student": "static", "static_from": str(st_dir), "static_dims": 8},
            "small": {"student": str(tiny_bert)},
        },
    )
    soft = [(e.text, (0.2, 0.8) if "好" in e.text else (0.8, 0.2)) for e in eprstmt_spec.unlabeled[:48]]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)
    data.dev = data.dev[:16]
    art = ladder.distill_ladder(
        data,
        DistillConfig(epochs=1, batch_size=16, max_length=48),
        tmp_path / "student",
        budget="balanced",
        max_latency_ms=1e6,
    )
    rec = json.loads((tmp_path / "student" / "ladder.json").read_text())
    assert [r["kind"] for r in rec["kinds"]] == ["static", "small"]
    assert rec["published"] in ("static", "small") and rec["fits_budget"]
    assert art.run_dir == tmp_path / "student" / rec["published"]
    assert all(r["latency_ms_per_text"] > 0 and r["params"] > 0 for r in rec["kinds"])
    assert ladder.read_ladder(art.run_dir)["published"] == rec["published"]
