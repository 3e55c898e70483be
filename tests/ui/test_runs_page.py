"""Runs page: every run of a task (deployment or a direct flow call) under its ledger name, progress, log, cancel."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from pipelines import runs
from recipe import steps
from tests.ui.conftest import page

pytestmark = pytest.mark.integration


@pytest.fixture
def prefect_client(prefect_env, tmp_path):
    """A sync Prefect client on the UI tests' server; flows called in this process report there too."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    updates = {PREFECT_API_URL: prefect_env["api"], PREFECT_LOCAL_STORAGE_PATH: str(tmp_path / "results")}
    with temporary_settings(updates=updates), get_client(sync_client=True) as client:
        yield client


def test_runs_page_without_prefect_says_how_to_start_it(app, workspace, eprstmt_small, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    workspace.save_task(replace(eprstmt_small, name="shop"))
    at = page(app, "runs")
    assert any("factory up" in w.value for w in at.warning)


def test_start_run_creates_deployment_run_and_shows_its_failure(app, workspace, eprstmt_small, prefect_env):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    workspace.save_task(replace(eprstmt_small, name="shop"))
    at = page(app, "runs")
    assert any("No runs" in i.value for i in at.info), (
        [w.value for w in at.warning],
        [i.value for i in at.info],
        [e.value for e in at.error],
    )
    at.selectbox(key="budget").set_value(
        next(k for k in at.selectbox(key="budget").options if k.startswith("tiny"))
    ).run()
    at.button(key="start-run").click().run()
    assert not at.exception and not at.error
    run_id = at.session_state["started-run"]
    assert any(run_id in s.value and "/runs/flow-run/" in s.value for s in at.success)

    with temporary_settings(updates={PREFECT_API_URL: prefect_env["api"]}), get_client(sync_client=True) as client:
        from uuid import UUID

        fr = client.read_flow_run(UUID(run_id))
        assert fr.parameters["task_name"] == "shop" and fr.parameters["config"]["pool_cap"] == 40
        # The served deployment picks it up; the task is unknown in the services' workspace, so intake fails.
        deadline = time.monotonic() + 240
        while not (fr.state and fr.state.is_final()) and time.monotonic() < deadline:
            time.sleep(3)
            fr = client.read_flow_run(UUID(run_id))
    assert fr.state.type.value == "FAILED", fr.state
    assert fr.name.startswith("pipeline-production-")  # the served flow renamed its run after the run folder

    at.run()
    assert not at.exception
    expanders = [e.label for e in at.expander]
    assert any(fr.name in label and "Failed" in label for label in expanders)
    errors = "\n".join(e.value for e in at.error)
    assert "The run failed at stage intake" in errors and "no task 'shop'" in errors
    links = [b.proto.url for b in at.get("link_button")]
    assert f"{prefect_env['ui']}/runs/flow-run/{run_id}" in links


def test_runs_page_lists_the_workspace_runs_with_progress_and_models_link_without_prefect(
    app, workspace, eprstmt_small, monkeypatch
):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    workspace.save_task(replace(eprstmt_small, name="shop"))
    first = runs.open_run(workspace, "shop", "production", {"c": 1})
    runs.finish_run(first, version="v1", zip=None)
    live = runs.open_run(workspace, "shop", "production", {"c": 1})  # the first is done: a new run
    steps.report_progress(live / "labels", "teacher-label", 1000, 1000, "texts", eta_s=0)
    steps.report_progress(live / "student" / "small", "distill", 3, 8, "epoch", eta_s=120, kind="small")

    at = page(app, "runs")
    assert any("factory up" in w.value for w in at.warning)
    labels = [e.label for e in at.expander]
    assert any("pipeline-production-2" in x and "Unfinished" in x for x in labels), labels
    assert any("pipeline-production-1" in x and "Completed" in x and "v1" in x for x in labels), labels
    bars = [b.proto.text for b in at.get("progress")]
    assert bars == ["distill (small): epoch 3 of 8, about 2 min left"], bars

    at.button(key="models-pipeline-production-1").click().run()
    assert not at.exception
    assert at.session_state["version-shop"] == "v1" and at.title[0].value == "Models"


def test_run_started_by_calling_the_flow_is_listed_under_its_ledger_name_with_its_log(
    app, workspace, eprstmt_small, prefect_client, prefect_env
):
    from prefect.logging.handlers import APILogWorker

    from pipelines.config import PipelineConfig
    from pipelines.flows import production

    workspace.save_task(replace(eprstmt_small, name="direct"))
    # As `factory run` does: the flow called in this process, no deployment. A bad student config fails intake.
    cfg = {**PipelineConfig.preset("tiny").to_dict(), "student": {"epochs": 0}}
    for _ in range(2):  # the second call resumes the unfinished run: a second attempt, the same name
        with pytest.raises(Exception, match="epochs"):
            production(task_name="direct", config=cfg)
    from prefect.events.worker import EventsWorker

    # Task-run states reach the server as events, sent in the background: deliver them before reading.
    EventsWorker.drain_all(timeout=10)
    APILogWorker.drain_all(timeout=10)
    (ledger,) = runs.task_runs(workspace, "direct")
    fr = prefect_client.read_flow_run(ledger["flow_run_id"])
    assert fr.name == ledger["name"] == "pipeline-production-1" and fr.deployment_id is None

    at = page(app, "runs")
    labels = [e.label for e in at.expander]
    assert [x for x in labels if "pipeline-production-1" in x and "Failed" in x] == [labels[0]], labels  # one card
    assert any("earlier attempts" in c.value for c in at.caption)
    failed = "\n".join(e.value for e in at.error)
    assert "The run failed" in failed and "epochs" in failed, failed  # the reason, in the exception's words
    # The stage comes from the task runs' states; an event the client could not deliver under load leaves it out.
    assert "at stage" not in failed or "at stage intake" in failed, failed
    assert f"{prefect_env['ui']}/runs/flow-run/{fr.id}" in [b.proto.url for b in at.get("link_button")]
    log = "\n".join(c.value for c in at.code)
    assert "pipeline run" in log and "pipeline-production-1" in log, log


def test_cancel_asks_first_then_prefect_cancels_the_running_run(app, workspace, eprstmt_small, prefect_client):
    from prefect.states import Running

    from pipelines.flows import production

    workspace.save_task(replace(eprstmt_small, name="stop"))
    fr = prefect_client.create_flow_run(production, name="pipeline-production-9", parameters={"task_name": "stop"})
    prefect_client.set_flow_run_state(fr.id, Running(), force=True)

    at = page(app, "runs")
    at.button(key=f"cancel-{fr.id}").click().run()
    assert any("Cancel **pipeline-production-9**?" in w.value for w in at.warning)
    assert prefect_client.read_flow_run(fr.id).state.type.value == "RUNNING"  # nothing happens before the yes
    at.button(key=f"cancel-yes-{fr.id}").click().run()
    assert not at.exception
    state = prefect_client.read_flow_run(fr.id).state
    assert state.type.value in ("CANCELLING", "CANCELLED") and "Runs page" in state.message
    assert any(state.name in i.value for i in at.info)
    assert not [b for b in at.button if b.key == f"cancel-{fr.id}"]  # no second cancel


def test_progress_text_counts_down_and_says_when_a_stage_stopped_reporting():
    from ui.runs import progress_text

    p = {"step": "teacher-label", "done": 512, "total": 2000, "unit": "texts", "eta_s": 200, "updated": 1000.0}
    assert progress_text(p, now=1020.0) == "teacher-label: 512 of 2,000 texts, about 3 min left"
    assert progress_text(p, now=1190.0) == "teacher-label: 512 of 2,000 texts, under a minute left"
    assert progress_text(p, now=1900.0).endswith("almost done (last update 15 min ago)")
