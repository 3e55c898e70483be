"""``factory doctor``: packages, services and (integration) the three bundled models loading offline."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import diagnostics
from cli.doctor import doctor

runner = CliRunner()
app = typer.Typer()
app.command()(doctor)


def test_doctor_reports_packages_services_and_workspace(workspace):
    res = runner.invoke(app, ["--json", "--skip-models"])
    report = json.loads(res.stdout)
    versions = {p["name"]: p["version"] for p in report["packages"]}
    assert versions["torch"].startswith("2.13.0")
    assert versions["prefect"].startswith("3.") and versions["label-studio-sdk"].startswith("2.")
    assert report["workspace"]["root"] == str(workspace.root) and report["workspace"]["ok"]
    assert {s["name"] for s in report["services"]} == {"label-studio", "prefect", "streamlit", "chromium"}
    assert report["models"] == []
    assert report["runtime"]["ok"] and report["runtime"]["cpu_count"] >= 1
    assert report["runtime"]["cuda"] == (len(report["runtime"]["devices"]) > 0)
    assert res.exit_code == (0 if report["ok"] else 1)


def test_doctor_says_when_label_studio_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(diagnostics, "project_root", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("FACTORY_LABEL_STUDIO_BIN", raising=False)
    row = next(s for s in diagnostics.check_services() if s["name"] == "label-studio")
    assert row["ok"] is False and "make setup" in row["detail"]


def test_doctor_fails_a_model_that_cannot_resolve():
    row = diagnostics.check_model("not-a-model")
    assert row["ok"] is False and "ModelResolutionError" in row["error"]


@pytest.mark.integration
def test_doctor_loads_the_three_bundled_models_offline(workspace):
    res = runner.invoke(app, ["--json"])
    report = json.loads(res.stdout)
    models = {m["name"]: m for m in report["models"]}
    assert set(models) == {"gemma-3-270m", "smollm2-135m-instruct", "all-minilm-l6-v2"}
    for m in models.values():
        assert m["ok"], m["error"]
        assert m["seconds"] > 0
    assert 260e6 < models["gemma-3-270m"]["params"] < 280e6
    assert 130e6 < models["smollm2-135m-instruct"]["params"] < 140e6
    assert 20e6 < models["all-minilm-l6-v2"]["params"] < 25e6
    assert report["offline"] is True
    assert res.exit_code == 0, res.output
