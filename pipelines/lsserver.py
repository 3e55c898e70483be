"""Run the Label Studio server and bootstrap its admin user and API token.

Label Studio lives in its own virtual environment (its Django stack does not
resolve beside prefect), so it is started as a separate process bound to
127.0.0.1 with SQLite under ``<workspace>/services/labelstudio``. On first start
an admin with a random password is created (passed through the environment, so
it never appears in ``ps``); then the factory logs in once and creates a
personal access token with ``POST /api/token/`` (v1.23 disables legacy tokens).
Credentials and token are 0600 files and are never printed.

The Django ``SECRET_KEY`` that signs those tokens is the factory's too (a 0600
file, passed as ``SECRET_KEY``): left to itself Label Studio writes a random key
to ``data/.env`` and, when that key starts with ``$`` (one start in fifty),
django-environ reads it back as a reference to another variable, so the next
start signs with a fresh key and every stored token is "invalid".
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import httpx

from factory.atomic import atomic_write_json, atomic_write_text
from factory.errors import TaskError
from factory.workspace import Workspace
from pipelines import endpoints, procs

NAME = endpoints.LABEL_STUDIO
DEFAULT_PORT = endpoints.DEFAULT_PORTS[NAME]
ADMIN_EMAIL = "admin@factory.local"
START_TIMEOUT = 600.0  # first start runs ~200 Django migrations: 1-4 min on 2 busy cores


def ls_dir(ws: Workspace) -> Path:
    d = procs.services_dir(ws) / NAME
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d


def credentials_path(ws: Workspace) -> Path:
    return ls_dir(ws) / "credentials.json"


def token_path(ws: Workspace) -> Path:
    return ls_dir(ws) / "token"


def label_studio_bin() -> str:
    """The ``label-studio`` executable: $FACTORY_LABEL_STUDIO_BIN, the project's .venv-labelstudio, or PATH."""
    env = os.environ.get("FACTORY_LABEL_STUDIO_BIN")
    if env:
        return env
    repo = Path(__file__).resolve().parent.parent
    cand = repo / ".venv-labelstudio" / "bin" / "label-studio"
    if cand.is_file():
        return str(cand)
    found = shutil.which("label-studio")
    if found:
        return found
    raise TaskError(
        "a label-studio executable",
        f"none in {cand.parent} or on PATH",
        "run `make setup` (creates .venv-labelstudio) or set FACTORY_LABEL_STUDIO_BIN",
        where="Label Studio",
    )


def secret_key_path(ws: Workspace) -> Path:
    return ls_dir(ws) / "secret_key"


def secret_key(ws: Workspace) -> str:
    """The key Label Studio signs its tokens with, stable across restarts.

    A data folder bootstrapped before the factory owned the key keeps the key
    Label Studio wrote to ``data/.env`` (its tokens stay valid), unless that key
    is one django-environ cannot read back.
    """
    p = secret_key_path(ws)
    if p.is_file():
        key = p.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = ""
    env_file = ls_dir(ws) / "data" / ".env"
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("SECRET_KEY="):
                key = line.split("=", 1)[1].strip()
                break
    if not key or key.startswith("$"):
        key = secrets.token_urlsafe(48)  # letters, digits, - and _: nothing django-environ interprets
    atomic_write_text(p, key + "\n", mode=0o600)
    return key


def _credentials(ws: Workspace) -> dict:
    p = credentials_path(ws)
    if p.is_file():
        return json.loads(p.read_text(encoding="utf-8"))
    creds = {"email": ADMIN_EMAIL, "password": secrets.token_urlsafe(24)}
    atomic_write_json(p, creds, mode=0o600)
    return creds


def start(ws: Workspace, port: int | None = None, timeout: float = START_TIMEOUT) -> procs.ServiceRecord:
    """Start Label Studio (or return the running one) and make sure an API token exists."""
    state = procs.read_state(ws)
    rec = state.get(NAME)
    if rec and rec.alive():
        ensure_token(ws, rec.url)
        return rec
    creds = _credentials(ws)
    port = procs.pick_port(port or (rec.port if rec else DEFAULT_PORT))
    data = ls_dir(ws) / "data"
    data.mkdir(exist_ok=True)
    log = ls_dir(ws) / "server.log"
    cmd = [
        label_studio_bin(),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "-p",
        str(port),
        "--data-dir",
        str(data),
        "--database",
        str(data / "label_studio.sqlite3"),
    ]
    env = {
        "LABEL_STUDIO_USERNAME": creds["email"],
        "LABEL_STUDIO_PASSWORD": creds["password"],
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "SECRET_KEY": secret_key(ws),
        "COLLECT_ANALYTICS": "false",
    }
    pid = procs.spawn(cmd, log, env=env)
    url = endpoints.local_url(port)
    rec = procs.ServiceRecord(name=NAME, pid=pid, port=port, url=url, log=str(log), marker="label-studio")
    state[NAME] = rec
    procs.write_state(ws, state)
    procs.wait_http(f"{url}/health", timeout, pid=pid, ok=lambda r: r.status_code == 200)
    ensure_token(ws, url)
    return rec


def stop(ws: Workspace) -> bool:
    """Stop the recorded Label Studio process; its data stays for the next start."""
    state = procs.read_state(ws)
    rec = state.get(NAME)
    return bool(rec) and procs.stop_pid(rec.pid, rec.marker)


def ensure_token(ws: Workspace, url: str) -> str:
    """The stored personal access token, creating it on first use (login + POST /api/token/)."""
    p = token_path(ws)
    if p.is_file():
        return p.read_text(encoding="utf-8").strip()
    creds = _credentials(ws)
    with httpx.Client(base_url=url, timeout=30) as c:
        c.get("/user/login/")
        r = c.post(
            "/user/login/",
            data={
                "email": creds["email"],
                "password": creds["password"],
                "csrfmiddlewaretoken": c.cookies.get("csrftoken", ""),
            },
            headers={"Referer": f"{url}/user/login/"},
        )
        if r.status_code not in (200, 302) or "sessionid" not in c.cookies:
            raise TaskError(
                "a login with the stored admin credentials",
                f"HTTP {r.status_code} from {url}/user/login/",
                f"the Label Studio data in {ls_dir(ws)} belongs to another admin: remove that folder to bootstrap afresh",
                where="Label Studio",
            )
        r = c.post("/api/token/", headers={"X-CSRFToken": c.cookies.get("csrftoken", ""), "Referer": f"{url}/"})
        if r.status_code == 409:
            raise TaskError(
                "no personal access token yet (only one is allowed per user)",
                "a token exists on the server but its file is gone",
                f"remove {ls_dir(ws)} to bootstrap afresh, or write the token to {p}",
                where="Label Studio",
            )
        r.raise_for_status()
        token = r.json()["token"]
    atomic_write_text(p, token + "\n", mode=0o600)
    return token
