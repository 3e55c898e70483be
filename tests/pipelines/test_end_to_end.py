"""The factory floor end to end on real services and real bundled models (tiny budgets).

One module-scoped scenario on a small EPRSTMT slice whose unlabeled pool hides
labeled texts of fold 1 (the oracle):

1. `factory run` is killed mid-flow (after the teacher labeled the pool);
2. the served production deployment re-runs it: finished tasks come back
   Cached, v1 is published;
3. the simulated annotator answers through Label Studio, the sync deployment
   pulls, the water level is reached, the trigger runs the iteration, and v2
   appears with its metrics next to v1's — no manual step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from factory.spec import Example
from pipelines import deployments, queue, services
from pipelines.annotator import SimulatedAnnotator, oracle_examples
from pipelines.config import PipelineConfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

TASK = "e2e-eprstmt"
LEVEL = 4


def _wait(pred, timeout, what, every=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _task_states(flow_run_id: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort
    from uuid import UUID

    with get_client(sync_client=True) as c:
        flt = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
        return {
            tr.name.rsplit("-", 1)[0]: tr.state.name
            for tr in c.read_task_runs(flow_run_filter=flt, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=50)
        }


def _finished(run_id: str) -> dict | None:
    (st,) = deployments.flow_run_states(flow_run_ids=[run_id])
    if st["state"] in ("FAILED", "CRASHED", "CANCELLED"):
        raise AssertionError(f"flow run {run_id} ended {st['state_name']}")
    return st if st["state"] == "COMPLETED" else None


@pytest.fixture(scope="module")
def scenario(services_ws, label_studio, prefect_api, eprstmt_spec):
    ws = services_ws
    old_home = os.environ.get("FACTORY_HOME")
    os.environ["FACTORY_HOME"] = str(ws.root)
    oracle = oracle_examples("eprstmt", splits=(1,))[:40]
    spec = replace(
        eprstmt_spec,
        name=TASK,
        water_level=LEVEL,
        unlabeled=[Example(e.text) for e in oracle],  # labels hidden from the factory
    )
    ws.save_task(spec, overwrite=True)
    cfg = PipelineConfig.preset("tiny").to_dict()
    cfg_path = ws.root / "tiny.json"
    cfg_path.write_text(json.dumps(cfg))
    env = {**os.environ, **services.prefect_env(ws)}
    log = open(ws.root / "factory-run.log", "wb")
    out: dict = {"oracle": oracle, "config": cfg}
    try:
        # 1. a crash: the CLI flow process is killed once the teacher has labeled the pool
        t0 = time.monotonic()
        # `factory run` (its command function, not the whole CLI, which mounts other packages' commands)
        code = f"from cli.services import run; run({TASK!r}, {str(cfg_path)!r}, False, False, {str(ws.root)!r})"
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        rdir = ws.task_dir(TASK) / "runs" / "pipeline-production-1"
        _wait(
            lambda: (rdir / "questions" / "questions.jsonl").is_file() or proc.poll() is not None,
            1200,
            "the killed run to reach question selection",
        )
        if proc.poll() is not None:
            log.flush()
            tail = Path(log.name).read_text(errors="replace")[-4000:]
            raise AssertionError(f"factory run ended early (rc {proc.returncode}); the end of its log:\n{tail}")
        teacher_mtime = (rdir / "teacher" / "committee.json").stat().st_mtime
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        out["killed_after_s"] = time.monotonic() - t0
        out["teacher_mtime"] = teacher_mtime
        out["run_dir"] = rdir

        # 2. the served deployments take over
        # Not faster: under load a sync run takes seconds, and a backlog of due syncs at the runner's limit of two
        # runs at once would starve the iteration the water level triggers.
        services.start_deployments(ws, config=cfg, sync_interval=20)
        t1 = time.monotonic()
        run_id = deployments.start_production_run(TASK, config=cfg)
        _wait(lambda: _finished(run_id), 1200, "the resumed production run")
        out["resumed_s"] = time.monotonic() - t1
        out["production_run"] = run_id

        # 3. humans (simulated) answer through Label Studio; the trigger does the rest
        t2 = time.monotonic()
        answered = SimulatedAnnotator.from_examples(oracle).answer(TASK, n=LEVEL, ws=ws)
        out["answered"] = answered
        _wait(
            lambda: len(ws.model_versions(TASK)) >= 2,
            1500,
            "the iteration triggered by the water level to publish v2",
            every=5,
        )
        out["iteration_s"] = time.monotonic() - t2
        _wait(
            lambda: any(
                s["flow"] == "iteration" and s["state"] == "COMPLETED" for s in deployments.flow_run_states(TASK)
            ),
            120,
            "the iteration run to complete",
        )
        out["states"] = deployments.flow_run_states(TASK)
        yield out
    finally:
        log.close()
        services.down(ws, (services.SERVE,))
        if old_home is None:
            os.environ.pop("FACTORY_HOME", None)
        else:
            os.environ["FACTORY_HOME"] = old_home


def test_killed_production_run_resumes_from_finished_tasks(scenario, services_ws):
    states = _task_states(scenario["production_run"])
    for name in ("intake", "teacher-adapt", "generate", "teacher-label"):
        assert states.get(name) == "Cached", f"{name} should come from the persisted result, got {states.get(name)}"
    assert states.get("distill") == "Completed"
    # Same run directory, teacher not retrained.
    ledger = json.loads((scenario["run_dir"] / "pipeline.json").read_text())
    assert ledger["status"] == "done" and ledger["version"] == "v1"
    assert (scenario["run_dir"] / "teacher" / "committee.json").stat().st_mtime == scenario["teacher_mtime"]
    assert not (services_ws.task_dir(TASK) / "runs" / "pipeline-production-2").exists()


def test_water_level_triggers_an_iteration_that_publishes_v2_with_metrics(scenario, services_ws):
    assert scenario["answered"] == LEVEL
    v1, v2 = services_ws.model_versions(TASK)[:2]
    m1 = json.loads((v1 / "MANIFEST.json").read_text())
    m2 = json.loads((v2 / "MANIFEST.json").read_text())
    assert m1["kind"] == "production" and m1["human_answers"] == 0
    assert m2["kind"] == "iteration" and m2["human_answers"] >= LEVEL
    for m in (m1, m2):
        assert 0.0 <= m["metrics"]["accuracy"] <= 1.0
    assert list(v2.glob("*.zip")), "v2 should hold the downloadable zip"
    # The answers were consumed; the next level starts from zero.
    level = queue.water_level(TASK, services_ws)
    assert level["consumed"] >= LEVEL and level["reached"] is False
    flows = {s["flow"] for s in scenario["states"] if s["state"] == "COMPLETED"}
    assert {"production", "iteration", "sync-queues"} <= flows
