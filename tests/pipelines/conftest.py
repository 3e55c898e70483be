"""Real services for the pipelines tests: one Label Studio and one Prefect server per session.

Both bind to 127.0.0.1 on free ports, keep their data in a temp workspace and
are stopped when the session ends.
"""

from __future__ import annotations

from dataclasses import replace

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def services_ws():
    """A workspace whose services/ holds the test session's servers."""
    from factory.workspace import Workspace

    # Not under pytest's basetemp: concurrent pytest sessions of the same user prune
    # old basetemps, which would delete the servers' data in the middle of a run.
    root = Path(tempfile.mkdtemp(prefix="factory-pipelines-ws-"))
    ws = Workspace(root)
    yield ws
    from pipelines import services

    services.down(ws)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def label_studio(services_ws):
    """A running Label Studio (bootstrapped admin + token) for the session."""
    from pipelines import lsserver

    return lsserver.start(services_ws, port=18400)


@pytest.fixture(scope="session")
def prefect_api(services_ws):
    """A running Prefect server; yields its API URL and points this process at it."""
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from pipelines import services

    services.start_prefect(services_ws, port=14400)
    env = services.prefect_env(services_ws)
    with temporary_settings(
        updates={PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_LOCAL_STORAGE_PATH: env["PREFECT_LOCAL_STORAGE_PATH"]}
    ):
        yield env["PREFECT_API_URL"]


@pytest.fixture
def ls_task(services_ws, label_studio, monkeypatch, eprstmt_small, request):
    """A small EPRSTMT task, unique per test, in the services workspace (FACTORY_HOME points there)."""
    monkeypatch.setenv("FACTORY_HOME", str(services_ws.root))
    name = "t-" + request.node.name.replace("_", "-")[:50]
    spec = replace(eprstmt_small, name=name, water_level=3)
    services_ws.save_task(spec, overwrite=True)
    return spec
