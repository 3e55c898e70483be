"""``factory run --config`` takes a preset name or a .json/.yaml file; ``--tiny`` is the tiny preset."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import services
from recipe import RecipeConfig

runner = CliRunner()


@pytest.fixture
def ran(monkeypatch, workspace):
    """The config each ``factory run`` would hand the production flow (the flow itself is not started)."""
    seen: list[dict] = []

    def fake(ws, task, cfg, resume):
        seen.append(cfg)
        return {"version": "v1", "zip": "m.zip"}

    monkeypatch.setattr(services, "_run_production", fake)
    app = typer.Typer()
    app.command()(services.run)
    return app, seen


def test_a_preset_name_a_yaml_file_a_json_file_and_tiny(ran, tmp_path):
    app, seen = ran
    (tmp_path / "mine.yaml").write_text("# mine\nquestions: 3\nstudent: {epochs: 2}\n", encoding="utf-8")
    (tmp_path / "mine.json").write_text(json.dumps({"pool_cap": 50}), encoding="utf-8")
    for args in (
        ["--config", "demo"],
        ["--config", str(tmp_path / "mine.yaml")],
        ["--config", str(tmp_path / "mine.json")],
    ):
        res = runner.invoke(app, ["t", *args])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["t", "--tiny", "--student-budget", "fastest"])
    assert res.exit_code == 0, res.output
    assert seen[0] == RecipeConfig.preset("demo").to_dict()
    assert (seen[1]["questions"], seen[1]["student"], seen[2]["pool_cap"]) == (3, {"epochs": 2}, 50)
    assert seen[3] == RecipeConfig.preset("tiny").replace(budget="fastest").to_dict()


def test_an_unknown_preset_or_a_bad_file_is_a_clear_error(ran, tmp_path):
    app, seen = ran
    res = runner.invoke(app, ["t", "--config", "tinyy"])
    assert res.exit_code == 1 and "'tiny'" in res.output and "'demo'" in res.output
    (tmp_path / "bad.yaml").write_text("questions: -2\n", encoding="utf-8")
    res = runner.invoke(app, ["t", "--config", str(tmp_path / "bad.yaml")])
    assert res.exit_code == 1 and "RecipeConfig.questions" in res.output
    assert seen == []
