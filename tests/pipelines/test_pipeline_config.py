"""PipelineConfig validation and the pipeline run ledger that makes re-runs resume."""

from __future__ import annotations

import pytest

from factory.errors import TaskError
from pipelines import runs
from pipelines.config import PipelineConfig


def test_config_rejects_unknown_fields_with_the_known_ones():
    with pytest.raises(TaskError, match="unknown \\['epochs'\\]"):
        PipelineConfig.from_dict({"epochs": 3})


def test_config_rejects_negative_question_budget():
    with pytest.raises(TaskError, match="RecipeConfig.questions: expected a value greater than or equal to 0"):
        PipelineConfig.from_dict({"questions": -1})


def test_config_rejects_stage_config_that_is_not_a_dict():
    with pytest.raises(TaskError, match="RecipeConfig.student"):
        PipelineConfig.from_dict({"student": "fast"})


def test_config_round_trips_through_json_dict():
    cfg = PipelineConfig.preset("tiny")
    assert PipelineConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.teacher["llm"]["mode"] == "zero-shot" and cfg.student["epochs"] == 1 and cfg.generator["per_label"] == 2


def test_unfinished_run_is_resumed_and_a_finished_one_is_not(workspace, eprstmt_small):
    workspace.save_task(eprstmt_small)
    cfg = PipelineConfig.preset("tiny").to_dict()
    first = runs.open_run(workspace, "eprstmt", "production", cfg)
    assert runs.open_run(workspace, "eprstmt", "production", cfg) == first
    runs.finish_run(first, version="v1")
    second = runs.open_run(workspace, "eprstmt", "production", cfg)
    assert second != first and second.name.endswith("-2")


def test_changed_config_or_fresh_flag_starts_a_new_run(workspace, eprstmt_small):
    workspace.save_task(eprstmt_small)
    cfg = PipelineConfig.preset("tiny").to_dict()
    first = runs.open_run(workspace, "eprstmt", "production", cfg)
    assert runs.open_run(workspace, "eprstmt", "production", {**cfg, "questions": 7}) != first
    last = runs.latest_runs(workspace, "eprstmt", "production")[-1]["dir"]
    assert runs.open_run(workspace, "eprstmt", "production", {**cfg, "questions": 7}, resume=False) != last
