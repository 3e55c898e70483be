"""Process bookkeeping: only processes the factory started are ever signalled; no torch in pipelines."""

from __future__ import annotations

import subprocess
import sys
import time

from pipelines import procs


def test_stop_refuses_a_pid_running_another_command(tmp_path):
    pid = procs.spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log")
    try:
        deadline = time.monotonic() + 20
        # Between fork and exec the child still shows the parent's command line.
        while not procs.pid_runs(pid, "time.sleep(60)") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert procs.pid_runs(pid, "time.sleep(60)")
        assert procs.stop_pid(pid, marker="label-studio") is False
        assert procs.pid_runs(pid, "time.sleep(60)")
        assert procs.stop_pid(pid, marker="time.sleep(60)") is True
        time.sleep(0.2)
        assert not procs.pid_runs(pid, "time.sleep(60)")
    finally:
        procs.stop_pid(pid, marker="time.sleep(60)")


def test_state_file_is_private_and_round_trips(workspace):
    rec = procs.ServiceRecord("x", 123, 8000, "http://127.0.0.1:8000", "/tmp/log", "marker")
    path = procs.write_state(workspace, {"x": rec})
    assert path.stat().st_mode & 0o777 == 0o600
    assert procs.read_state(workspace) == {"x": rec}


def test_pick_port_skips_a_busy_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert procs.pick_port(busy) != busy


def test_pipelines_modules_import_without_torch():
    code = (
        "import sys\n"
        "import pipelines, pipelines.flows, pipelines.tasks, pipelines.deployments, pipelines.labelstudio,"
        " pipelines.services, pipelines.waterlevel, pipelines.annotator, pipelines.distributed, cli.services\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_factory_run_refuses_an_unknown_student_budget_before_starting_anything(tmp_path):
    import typer
    from typer.testing import CliRunner

    from cli.services import run

    app = typer.Typer()
    app.command()(run)
    res = CliRunner().invoke(app, ["reviews", "--student-budget", "cheap", "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 1 and "budget" in res.output and "balanced" in res.output
    assert not (tmp_path / "ws" / "services").exists()
