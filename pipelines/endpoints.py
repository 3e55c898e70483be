"""Where each factory service runs: the one lookup behind the service manager, the Label Studio client and the UI.

An address comes, in this order, from an environment variable naming a server run elsewhere
(``$FACTORY_LS_URL`` with ``$FACTORY_LS_TOKEN``, ``$PREFECT_API_URL``), from the record ``factory up``
wrote to ``services/state.json`` (:mod:`pipelines.procs`), or, for a service about to start, from its
default port on 127.0.0.1 (:data:`DEFAULT_PORTS`; the starter takes the next free port when that one is busy).
"""

from __future__ import annotations

import os

from factory.workspace import Workspace
from pipelines import procs

HOST = "127.0.0.1"  # services bind to loopback only: Label Studio's admin and Prefect's API have no other guard
PREFECT = "prefect"
LABEL_STUDIO = "labelstudio"
SERVE = "deployments"
UI = "ui"
DEFAULT_PORTS = {PREFECT: 4200, LABEL_STUDIO: 8080, UI: 8501}

LS_URL_ENV = "FACTORY_LS_URL"
LS_TOKEN_ENV = "FACTORY_LS_TOKEN"
PREFECT_API_ENV = "PREFECT_API_URL"


def local_url(port: int) -> str:
    """Base URL of a service the factory starts on ``port`` (on :data:`HOST`)."""
    return f"http://{HOST}:{port}"


def recorded_url(ws: Workspace, name: str, *, live_only: bool = True) -> str | None:
    """Base URL recorded for service ``name`` in the workspace, without a trailing slash.

    ``None`` without a record, or, with ``live_only``, when the recorded process no longer runs.
    """
    rec = procs.read_state(ws).get(name)
    if rec is None or (live_only and not rec.alive()):
        return None
    return rec.url.rstrip("/")


def label_studio_override() -> tuple[str, str] | None:
    """(url, token) of a Label Studio run elsewhere: only when both ``$FACTORY_LS_URL`` and ``$FACTORY_LS_TOKEN`` are set."""
    url, token = os.environ.get(LS_URL_ENV), os.environ.get(LS_TOKEN_ENV)
    return (url.rstrip("/"), token) if url and token else None


def label_studio_url(ws: Workspace) -> str | None:
    """Base URL of Label Studio for links: ``$FACTORY_LS_URL``, else the live server ``factory up`` started."""
    env = os.environ.get(LS_URL_ENV)
    return env.rstrip("/") if env else recorded_url(ws, LABEL_STUDIO)


def recorded_prefect_api_url(ws: Workspace, *, live_only: bool = True) -> str | None:
    """API URL (``<base>/api``) of the Prefect server recorded in the workspace; ``None`` as :func:`recorded_url`."""
    url = recorded_url(ws, PREFECT, live_only=live_only)
    return f"{url}/api" if url else None


def prefect_api_url(ws: Workspace) -> str | None:
    """Prefect's API URL: ``$PREFECT_API_URL``, else the live server ``factory up`` started, else ``None``."""
    env = os.environ.get(PREFECT_API_ENV)
    return env.rstrip("/") if env else recorded_prefect_api_url(ws)


def prefect_ui_url(ws: Workspace) -> str | None:
    """Prefect's web UI: :func:`prefect_api_url` without its ``/api``."""
    api = prefect_api_url(ws)
    return api[: -len("/api")] if api and api.endswith("/api") else api
