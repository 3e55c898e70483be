"""The service manager behind `factory up`, `factory down` and `factory status`.

Starts, on 127.0.0.1 only: the Prefect server (SQLite under
``services/prefect``), Label Studio (:mod:`pipelines.lsserver`), the served
deployments (:mod:`pipelines.deployments`) and the Streamlit UI (``ui/app.py``).
Pids, ports, URLs and logs go to ``services/state.json`` (0600).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

from factory.atomic import atomic_write_json
from factory.workspace import Workspace
from pipelines import endpoints, lsserver, procs

PREFECT = endpoints.PREFECT
SERVE = endpoints.SERVE
UI = endpoints.UI
ORDER = (PREFECT, lsserver.NAME, SERVE, UI)
DEFAULT_PORTS = endpoints.DEFAULT_PORTS
REPO = Path(__file__).resolve().parent.parent


def prefect_env(ws: Workspace, api_url: str | None = None) -> dict[str, str]:
    """Environment for every factory process talking to the factory's Prefect server."""
    home = procs.services_dir(ws) / "prefect"
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "results"),  # persisted task results: resume after a crash
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "FACTORY_HOME": str(ws.root),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    url = api_url or endpoints.recorded_prefect_api_url(ws, live_only=False)
    if url:
        env["PREFECT_API_URL"] = url
    return env


def start_prefect(ws: Workspace, port: int | None = None, timeout: float = 120.0) -> procs.ServiceRecord:
    state = procs.read_state(ws)
    rec = state.get(PREFECT)
    if rec and rec.alive():
        return rec
    port = procs.pick_port(port or DEFAULT_PORTS[PREFECT])
    env = {k: v for k, v in prefect_env(ws).items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_API_HOST"] = endpoints.HOST
    log = procs.services_dir(ws) / "prefect" / "server.log"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", endpoints.HOST, "--port", str(port)]
    pid = procs.spawn(cmd, log, env=env)
    rec = procs.ServiceRecord(PREFECT, pid, port, endpoints.local_url(port), str(log), marker="prefect server start")
    state[PREFECT] = rec
    procs.write_state(ws, state)
    procs.wait_http(f"{rec.url}/api/health", timeout, pid=pid, ok=lambda r: r.status_code == 200)
    return rec


def start_deployments(ws: Workspace, config: dict | None = None, sync_interval: float = 300.0) -> procs.ServiceRecord:
    """Serve the flows (needs the Prefect server); waits until the deployments are registered."""
    state = procs.read_state(ws)
    rec = state.get(SERVE)
    if rec and rec.alive():
        return rec
    cmd = [sys.executable, "-m", "pipelines.deployments", "--sync-interval", str(sync_interval)]
    if config is not None:
        cfg_path = procs.services_dir(ws) / "pipeline-config.json"
        atomic_write_json(cfg_path, config)
        cmd += ["--config", str(cfg_path)]
    log = procs.services_dir(ws) / "deployments.log"
    env = prefect_env(ws)
    pid = procs.spawn(cmd, log, env=env, cwd=REPO)
    api = env["PREFECT_API_URL"]
    rec = procs.ServiceRecord(SERVE, pid, 0, api, str(log), marker="pipelines.deployments")
    state[SERVE] = rec
    procs.write_state(ws, state)
    procs.wait_http(f"{api}/deployments/name/iteration/iteration", 120.0, pid=pid, ok=lambda r: r.status_code == 200)
    return rec


def start_ui(ws: Workspace, port: int | None = None) -> procs.ServiceRecord:
    state = procs.read_state(ws)
    rec = state.get(UI)
    if rec and rec.alive():
        return rec
    port = procs.pick_port(port or DEFAULT_PORTS[UI])
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "ui" / "app.py"),
        "--server.address",
        endpoints.HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = procs.services_dir(ws) / "ui.log"
    pid = procs.spawn(cmd, log, env=prefect_env(ws), cwd=REPO)
    rec = procs.ServiceRecord(UI, pid, port, endpoints.local_url(port), str(log), marker="streamlit")
    state[UI] = rec
    procs.write_state(ws, state)
    procs.wait_http(f"{rec.url}/_stcore/health", 90.0, pid=pid, ok=lambda r: r.status_code == 200)
    return rec


def up(
    ws: Workspace,
    *,
    ui: bool = True,
    serve: bool = True,
    config: dict | None = None,
    sync_interval: float = 300.0,
    ports: dict | None = None,
) -> dict[str, procs.ServiceRecord]:
    """Start every service that is not running yet; return the records."""
    ports = ports or {}
    start_prefect(ws, ports.get(PREFECT))
    lsserver.start(ws, ports.get(lsserver.NAME))
    if serve:
        start_deployments(ws, config, sync_interval)
    if ui:
        start_ui(ws, ports.get(UI))
    return procs.read_state(ws)


def down(ws: Workspace, names: tuple[str, ...] | None = None) -> list[str]:
    """Stop recorded services (newest layer first); return the names that were running."""
    state = procs.read_state(ws)
    stopped = []
    for name in reversed(ORDER):
        if names is not None and name not in names:
            continue
        rec = state.get(name)
        if rec and procs.stop_pid(rec.pid, rec.marker):
            stopped.append(name)
        state.pop(name, None)
    procs.write_state(ws, state)
    return stopped


def status(ws: Workspace) -> dict[str, dict]:
    """Every recorded service with ``running`` true/false (no secrets)."""
    return {
        name: {"running": rec.alive(), "pid": rec.pid, "port": rec.port, "url": rec.url, "log": rec.log}
        for name, rec in procs.read_state(ws).items()
    }


@contextlib.contextmanager
def running(
    ws: Workspace, names: tuple[str, ...] = (PREFECT, lsserver.NAME)
) -> Iterator[dict[str, procs.ServiceRecord]]:
    """Make sure ``names`` run for the block; stop afterwards only the ones started here."""
    before = {n for n, r in procs.read_state(ws).items() if r.alive()}
    try:
        if PREFECT in names:
            start_prefect(ws)
        if lsserver.NAME in names:
            lsserver.start(ws)
        if SERVE in names:
            start_deployments(ws)
        yield procs.read_state(ws)
    finally:
        started = tuple(n for n in names if n not in before)
        if started:
            down(ws, started)


def apply_env(ws: Workspace) -> None:
    """Point this process at the factory's Prefect server (call before importing prefect)."""
    os.environ.update(prefect_env(ws))
