"""Runs page: a production run started in the UI is a real Prefect deployment run, watched to its end."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.ui.conftest import page

pytestmark = pytest.mark.integration


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

    at.run()
    assert not at.exception
    expanders = [e.label for e in at.expander]
    assert any(fr.name in label and "Failed" in label for label in expanders)
    errors = "\n".join(e.value for e in at.error)
    assert "The run failed at stage intake" in errors and "no task 'shop'" in errors
    links = [b.proto.url for b in at.get("link_button")]
    assert f"{prefect_env['ui']}/runs/flow-run/{run_id}" in links
