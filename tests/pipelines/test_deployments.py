"""Deployments, the water-level event and the work-pool template against a real Prefect server."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from pipelines import deployments, queue, waterlevel

pytestmark = pytest.mark.integration
TEMPLATES = Path(__file__).resolve().parents[2] / "pipelines" / "templates"


def _events(api: str, task: str) -> list[dict]:
    body = {
        "filter": {"event": {"name": [waterlevel.EVENT]}, "any_resource": {"id": [f"factory.task.{task}"]}},
        "limit": 50,
    }
    r = httpx.post(f"{api}/events/filter", json=body, timeout=30)
    r.raise_for_status()
    return r.json()["events"]


def test_water_level_event_is_emitted_once_per_level(prefect_api, workspace, eprstmt_small):
    workspace.save_task(replace(eprstmt_small, name="wl", water_level=2))
    rows = [
        {"factory_id": f"q{i}", "ls_task_id": i, "text": f"t{i}", "label": "Positive", "annotated_at": str(i)}
        for i in range(3)
    ]
    queue.write_answers(workspace, "wl", rows[:1])
    assert "emitted" not in waterlevel.check_and_emit("wl", workspace)
    queue.write_answers(workspace, "wl", rows[:2])
    assert waterlevel.check_and_emit("wl", workspace)["emitted"] is True
    queue.write_answers(workspace, "wl", rows)
    assert "emitted" not in waterlevel.check_and_emit("wl", workspace)  # same level, already announced
    deadline = time.monotonic() + 60
    while not (events := _events(prefect_api, "wl")) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(events) == 1
    assert events[0]["resource"]["factory.task"] == "wl" and events[0]["payload"]["new"] == 2


def test_iteration_deployment_carries_the_water_level_trigger():
    prod, it, sync = deployments.build(sync_interval=7)
    assert (prod.name, it.name, sync.name) == ("production", "iteration", "sync-queues")
    (trigger,) = it.triggers
    assert trigger.expect == {waterlevel.EVENT}
    assert trigger.parameters == {"task_name": "{{ event.resource['factory.task'] }}"}
    assert it.parameters["config"]["questions"] == 20
    assert sync.schedules and not prod.triggers


def test_kubernetes_gpu_template_is_accepted_by_a_prefect_server(prefect_api):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    template = json.loads((TEMPLATES / "kubernetes-gpu.json").read_text())
    assert "nvidia.com/gpu" in json.dumps(template["job_configuration"])
    with get_client(sync_client=True) as c:
        pool = c.create_work_pool(
            WorkPoolCreate(name="factory-gpu-test", type="kubernetes", base_job_template=template), overwrite=True
        )
        assert pool.base_job_template["variables"]["properties"]["gpu_count"]["default"] == 1
        local = c.create_work_pool(WorkPoolCreate(name="factory-local-test", type="process"), overwrite=True)
        assert local.type == "process"


def test_run_states_keep_finished_runs_behind_a_wall_of_scheduled_sync_runs(prefect_api):
    """The sync schedule queues many future runs; the run list must still show what ran."""
    from datetime import datetime, timedelta, timezone

    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Scheduled

    _prod, _it, sync = deployments.build(sync_interval=5)
    dep_id = sync.apply()
    with get_client(sync_client=True) as c:
        done = c.create_flow_run_from_deployment(dep_id, state=Scheduled())
        c.set_flow_run_state(done.id, Completed(), force=True)
        soon = datetime.now(timezone.utc) + timedelta(minutes=1)
        for i in range(12):
            c.create_flow_run_from_deployment(dep_id, state=Scheduled(scheduled_time=soon + timedelta(seconds=5 * i)))
    states = deployments.flow_run_states(limit=10)
    assert any(s["id"] == str(done.id) and s["state"] == "COMPLETED" and s["flow"] == "sync-queues" for s in states)
    assert all(s["state"] != "SCHEDULED" for s in states if s["flow"] == "sync-queues")


def test_flow_called_directly_takes_its_ledger_run_name_and_keeps_it_when_resumed(
    prefect_api, workspace, eprstmt_small
):
    """`factory run` calls the flow without a deployment: Prefect's run still carries the run folder's name."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker

    from pipelines import runs
    from pipelines.config import PipelineConfig
    from pipelines.flows import production

    workspace.save_task(replace(eprstmt_small, name="named"))
    cfg = {**PipelineConfig.preset("tiny").to_dict(), "student": {"epochs": 0}}  # fails at intake, right after open-run
    for _ in range(2):
        with pytest.raises(Exception, match="epochs"):
            production(task_name="named", config=cfg)
    APILogWorker.drain_all(timeout=10)  # the flow's last log lines, while the session's server is up
    (ledger,) = runs.task_runs(workspace, "named")  # the second call resumed the unfinished run
    assert ledger["name"] == "pipeline-production-1" and len(ledger["flow_run_ids"]) == 2
    assert ledger["flow_run_id"] == ledger["flow_run_ids"][-1]
    with get_client(sync_client=True) as c:
        names = {c.read_flow_run(i).name for i in ledger["flow_run_ids"]}
    assert names == {"pipeline-production-1"}


def test_idle_queue_sync_never_contacts_label_studio(prefect_api, workspace, eprstmt_small, monkeypatch):
    """A sync run with no open question anywhere decides from the workspace and returns: no Label Studio call."""
    from prefect.logging.handlers import APILogWorker

    from pipelines import labelstudio
    from pipelines import tasks as t
    from pipelines.flows import sync_queues

    def no_label_studio(*_a, **_k):
        raise AssertionError("Label Studio contacted")

    monkeypatch.setattr(labelstudio, "ls_client", no_label_studio)
    # Without retries, so the wired-up check below fails at once instead of backing off for minutes.
    monkeypatch.setattr(t, "pull_answers", t.pull_answers.with_options(retries=0))
    workspace.save_task(replace(eprstmt_small, name="idle"))
    queue.record_pushed(workspace, "idle", [{"factory_id": "q0", "text": "t0"}])
    queue.write_answers(workspace, "idle", [{"factory_id": "q0", "ls_task_id": 1, "text": "t0", "label": "Positive"}])
    (workspace.models_dir("idle") / "v1").mkdir(parents=True)
    assert sync_queues() == {}  # idle: the Label Studio client above raises if anything reaches for it
    # The same task with a question open again does reach Label Studio (so the check above is wired up).
    queue.write_answers(workspace, "idle", [])
    with pytest.raises(AssertionError, match="Label Studio contacted"):
        sync_queues()
    APILogWorker.drain_all(timeout=10)  # the failed run's log lines, while the session's server is up


def test_queue_sync_runs_every_five_minutes_by_default():
    *_, sync = deployments.build()
    (schedule,) = sync.schedules
    assert schedule.schedule.interval.total_seconds() == deployments.SYNC_INTERVAL == 300
