"""Background service processes: start detached, remember in a state file, stop by pid.

Every service the factory starts (Prefect server, Label Studio, the served
deployments, Streamlit) is recorded in ``<workspace>/services/state.json`` with
its pid, port, URL and log file. Stopping only ever signals pids from that file
and only after checking the process still runs the command we started (a pid
can be reused by an unrelated process after a reboot). Where a service is to be
found (these records, environment overrides, default ports) is
:mod:`pipelines.endpoints`'s answer, not each caller's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from factory.atomic import atomic_write_json
from factory.workspace import Workspace

STATE_FILE = "state.json"


@dataclass
class ServiceRecord:
    """One started service as written to the state file."""

    name: str
    pid: int
    port: int
    url: str
    log: str
    marker: str  # a substring of the command line, checked before signalling

    def alive(self) -> bool:
        return pid_runs(self.pid, self.marker)


def services_dir(ws: Workspace) -> Path:
    d = ws.services_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)  # credentials live below; keep other users out
    return d


def read_state(ws: Workspace) -> dict[str, ServiceRecord]:
    """Services recorded as started (alive or not)."""
    p = ws.services_dir() / STATE_FILE
    if not p.is_file():
        return {}
    raw = json.loads(p.read_text(encoding="utf-8"))
    return {k: ServiceRecord(**v) for k, v in raw.get("services", {}).items()}


def write_state(ws: Workspace, services: dict[str, ServiceRecord]) -> Path:
    body = {"services": {k: asdict(v) for k, v in services.items()}}
    return atomic_write_json(services_dir(ws) / STATE_FILE, body, mode=0o600)


def pid_runs(pid: int, marker: str) -> bool:
    """True when ``pid`` is alive and its command line contains ``marker``."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc (macOS): trust the signal check
    if not cmd.strip():
        return False  # zombie
    return marker in cmd


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) != 0


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when free, else the next free port above it."""
    for port in range(preferred, preferred + 200):
        if port_free(port, host):
            return port
    raise RuntimeError(f"no free port in {preferred}..{preferred + 199} on {host}")


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start ``cmd`` detached in its own session (so it survives the CLI); return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def wait_http(url: str, timeout: float, pid: int | None = None, ok=lambda r: r.status_code < 500) -> None:
    """Poll ``url`` until it answers; raise if the process dies or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise RuntimeError(f"service process {pid} exited before {url} answered; see its log")
        try:
            r = httpx.get(url, timeout=5)
            if ok(r):
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            last = type(e).__name__
        time.sleep(1.0)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s (last: {last})")


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap if it is our child
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    except OSError:
        return True


def stop_pid(pid: int, marker: str, timeout: float = 20.0) -> bool:
    """SIGTERM the process group of ``pid`` (then SIGKILL); False if it was not ours/alive."""
    if not pid_runs(pid, marker):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.3)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(30):
        if not _alive(pid):
            break
        time.sleep(0.2)
    return True
