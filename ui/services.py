"""Where the factory's services are: Label Studio and Prefect URLs for links and API calls.

The pipelines package records every service ``factory up`` starts in the
workspace (``services/state.json``); environment variables override it so the
UI can also point at servers run elsewhere.
"""

from __future__ import annotations

import os

from factory.workspace import Workspace


def _recorded_url(ws: Workspace, name: str) -> str | None:
    from pipelines import procs

    rec = procs.read_state(ws).get(name)
    return rec.url.rstrip("/") if rec is not None and rec.alive() else None


def label_studio_url(ws: Workspace) -> str | None:
    """Base URL of Label Studio (``$FACTORY_LS_URL`` or the server ``factory up`` started)."""
    env = os.environ.get("FACTORY_LS_URL")
    return env.rstrip("/") if env else _recorded_url(ws, "labelstudio")


def prefect_api_url(ws: Workspace) -> str | None:
    """Prefect's API URL (``$PREFECT_API_URL`` or the server ``factory up`` started), or ``None``."""
    env = os.environ.get("PREFECT_API_URL")
    if env:
        return env.rstrip("/")
    url = _recorded_url(ws, "prefect")
    return f"{url}/api" if url else None


def prefect_ui_url(ws: Workspace) -> str | None:
    """Prefect's web UI (the API URL without ``/api``)."""
    api = prefect_api_url(ws)
    return api[: -len("/api")] if api and api.endswith("/api") else api
