"""Label Studio goes down in the middle of a push and a pull: the tasks retry, nothing is lost or doubled."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from factory.atomic import atomic_write_json, atomic_write_jsonl
from pipelines import labelstudio, lsserver, procs, queue
from pipelines import tasks as t
from pipelines.annotator import SimulatedAnnotator

pytestmark = pytest.mark.integration


def test_push_and_pull_retry_through_a_label_studio_restart(ls_task, services_ws, prefect_api, tmp_path):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    rows = [{"text": e.text, "probs": [0.4 + 0.02 * i, 0.6 - 0.02 * i]} for i, e in enumerate(ls_task.unlabeled[:6])]
    spec_path = atomic_write_json(tmp_path / "spec.json", ls_task.to_dict())
    both = atomic_write_jsonl(tmp_path / "q2.jsonl", rows)
    labelstudio.push_questions(ls_task, rows[:3], "teacher-fault")
    SimulatedAnnotator({r["text"]: ls_task.label_ids[0] for r in rows[:3]}).answer(ls_task.name, n=2)

    fast = dict(retries=30, retry_delay_seconds=2)

    @flow
    def push_then_pull():
        pushed = t.push_questions.with_options(**fast)(str(spec_path), str(both), "teacher-fault")
        answers = t.pull_answers.with_options(**fast)(ls_task.name)
        return pushed, answers

    port = procs.read_state(services_ws)[lsserver.NAME].port
    assert lsserver.stop(services_ws)
    result: dict = {}
    # Threads start with an empty context: carry over the settings that point at the test server.
    ctx = contextvars.copy_context()
    worker = threading.Thread(target=lambda: ctx.run(lambda: result.update(state=push_then_pull(return_state=True))))
    worker.start()
    time.sleep(8)  # the push has failed at least once by now
    lsserver.start(services_ws, port=port)
    worker.join(timeout=300)
    assert not worker.is_alive()

    state = result["state"]
    pushed, answers = state.result()
    assert (pushed["pushed"], pushed["skipped"]) == (3, 3)
    assert len(answers) == 2 and len(queue.read_answers(services_ws, ls_task.name)) == 2
    client = labelstudio.ls_client()
    tasks = list(client.tasks.list(project=labelstudio.find_project(client, ls_task.name)))
    assert len(tasks) == 6 and len({x.data["factory_id"] for x in tasks}) == 6
    # Pushing the first batch again after the restart changes nothing either.
    assert labelstudio.push_questions(ls_task, rows[:3], "teacher-fault")["pushed"] == 0

    with get_client(sync_client=True) as pc:
        flt = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        task_runs = {
            tr.name.rsplit("-", 1)[0]: tr
            for tr in pc.read_task_runs(flow_run_filter=flt, sort=TaskRunSort.EXPECTED_START_TIME_DESC, limit=20)
        }
    assert task_runs["push-questions"].run_count > 1, (
        "the push should have failed while Label Studio was down and been retried"
    )


def test_a_prefect_server_killed_and_restarted_mid_flow_does_no_step_twice(
    services_ws, prefect_api, eprstmt_small, monkeypatch, tmp_path
):
    """The flow either finishes or fails with Prefect's error; run again, nothing already done is redone."""
    import os
    import signal
    from dataclasses import replace

    from prefect import flow, task

    from pipelines import services

    monkeypatch.setenv("FACTORY_HOME", str(services_ws.root))
    name = "t-prefect-restart"
    services_ws.save_task(replace(eprstmt_small, name=name), overwrite=True)
    export = tmp_path / "export"
    (export / "model").mkdir(parents=True)
    (export / "model" / "weights.bin").write_bytes(b"\0" * 1024)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    mid_flow, restarted = threading.Event(), threading.Event()

    @task(name="wait-for-restart")
    def wait_for_restart(spec_path: str) -> str:
        # Stands where a long training step runs: the server goes away and comes back meanwhile.
        mid_flow.set()
        assert restarted.wait(timeout=180)
        return spec_path

    @flow
    def intake_then_publish():
        spec_path = t.intake(name, {}, str(run_dir))
        spec_path = wait_for_restart(spec_path)
        return t.publish(name, str(export), {"spec": spec_path})

    def run_once() -> dict:
        out: dict = {}
        ctx = contextvars.copy_context()
        worker = threading.Thread(
            target=lambda: ctx.run(lambda: out.update(state=intake_then_publish(return_state=True)))
        )
        worker.start()
        return {"worker": worker, "out": out}

    first = run_once()
    assert mid_flow.wait(timeout=120)
    rec = procs.read_state(services_ws)[services.PREFECT]
    os.kill(rec.pid, signal.SIGKILL)
    for _ in range(100):
        if procs.port_free(rec.port):
            break
        time.sleep(0.1)
    state = procs.read_state(services_ws)
    state.pop(services.PREFECT)
    procs.write_state(services_ws, state)
    again = services.start_prefect(services_ws, port=rec.port)
    assert again.port == rec.port and again.pid != rec.pid
    restarted.set()
    first["worker"].join(timeout=300)
    assert not first["worker"].is_alive()

    first_state = first["out"]["state"]
    assert first_state.is_completed() or first_state.is_failed() or first_state.is_crashed(), first_state
    print("first run through the restart:", first_state.type.value, first_state.message)
    snapshot = (run_dir / "spec.json").stat().st_mtime_ns
    second = run_once()
    second["worker"].join(timeout=300)
    assert second["out"]["state"].is_completed(), second["out"]["state"]
    versions = services_ws.model_versions(name)
    assert [v.name for v in versions] == ["v1"], "publish ran twice"
    assert second["out"]["state"].result() == str(versions[0])
    assert (run_dir / "spec.json").stat().st_mtime_ns == snapshot, "intake ran twice"
