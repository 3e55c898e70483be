"""Where each service runs: environment overrides first, then the workspace's records, then the defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from factory.errors import TaskError
from pipelines import endpoints, labelstudio, lsserver, procs, services
from ui import services as ui_services


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    for var in (endpoints.LS_URL_ENV, endpoints.LS_TOKEN_ENV, endpoints.PREFECT_API_ENV):
        monkeypatch.delenv(var, raising=False)


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def _record(ws, name: str, port: int, *, live: bool) -> procs.ServiceRecord:
    # This test process stands in for a live server: its pid runs and its command line names python.
    pid, marker = (os.getpid(), "python") if live else (_dead_pid(), "no-such-server")
    rec = procs.ServiceRecord(name, pid, port, endpoints.local_url(port) + "/", "/tmp/log", marker)
    procs.write_state(ws, {**procs.read_state(ws), name: rec})
    return rec


def test_defaults_are_loopback_and_the_documented_ports():
    assert endpoints.local_url(endpoints.DEFAULT_PORTS[endpoints.LABEL_STUDIO]) == "http://127.0.0.1:8080"
    assert endpoints.DEFAULT_PORTS == {"prefect": 4200, "labelstudio": 8080, "ui": 8501}
    assert services.DEFAULT_PORTS is endpoints.DEFAULT_PORTS and lsserver.DEFAULT_PORT == 8080
    assert (services.PREFECT, services.UI, services.SERVE, lsserver.NAME) == (
        "prefect",
        "ui",
        "deployments",
        "labelstudio",
    )


def test_nothing_recorded_and_no_override_means_no_url(workspace):
    assert endpoints.label_studio_url(workspace) is None
    assert endpoints.prefect_api_url(workspace) is None and endpoints.prefect_ui_url(workspace) is None
    assert endpoints.recorded_url(workspace, endpoints.UI, live_only=False) is None


def test_live_records_give_the_urls_and_dead_ones_only_when_asked(workspace):
    _record(workspace, endpoints.LABEL_STUDIO, 18080, live=True)
    _record(workspace, endpoints.PREFECT, 14200, live=False)
    assert endpoints.label_studio_url(workspace) == "http://127.0.0.1:18080"
    assert endpoints.prefect_api_url(workspace) is None  # its server is gone: no link to a dead page
    assert endpoints.recorded_prefect_api_url(workspace, live_only=False) == "http://127.0.0.1:14200/api"
    # The environment of the processes `factory up` starts names the recorded server, live or not.
    assert services.prefect_env(workspace)["PREFECT_API_URL"] == "http://127.0.0.1:14200/api"
    assert services.prefect_env(workspace, api_url="http://elsewhere/api")["PREFECT_API_URL"] == "http://elsewhere/api"
    _record(workspace, endpoints.PREFECT, 14200, live=True)
    assert endpoints.prefect_api_url(workspace) == "http://127.0.0.1:14200/api"
    assert endpoints.prefect_ui_url(workspace) == "http://127.0.0.1:14200"


def test_environment_overrides_the_records(workspace, monkeypatch):
    _record(workspace, endpoints.LABEL_STUDIO, 18080, live=True)
    _record(workspace, endpoints.PREFECT, 14200, live=True)
    monkeypatch.setenv(endpoints.LS_URL_ENV, "http://ls.example:9000/")
    monkeypatch.setenv(endpoints.PREFECT_API_ENV, "http://prefect.example/api/")
    assert endpoints.label_studio_url(workspace) == "http://ls.example:9000"
    assert endpoints.prefect_api_url(workspace) == "http://prefect.example/api"
    assert endpoints.prefect_ui_url(workspace) == "http://prefect.example"
    monkeypatch.setenv(endpoints.PREFECT_API_ENV, "http://prefect.example/custom")
    assert endpoints.prefect_ui_url(workspace) == "http://prefect.example/custom"


def test_ui_pages_use_the_same_lookup():
    assert ui_services.label_studio_url is endpoints.label_studio_url
    assert ui_services.prefect_api_url is endpoints.prefect_api_url
    assert ui_services.prefect_ui_url is endpoints.prefect_ui_url


def test_label_studio_client_needs_url_and_token_together_to_leave_the_record(workspace, monkeypatch):
    with pytest.raises(TaskError, match="factory up"):
        labelstudio.connection(workspace)
    _record(workspace, endpoints.LABEL_STUDIO, 18080, live=False)
    lsserver.token_path(workspace).write_text("tok\n", encoding="utf-8")
    # The client takes the recorded server even when its process is gone: the request itself then says so.
    assert labelstudio.connection(workspace) == ("http://127.0.0.1:18080", "tok")
    monkeypatch.setenv(endpoints.LS_URL_ENV, "http://ls.example:9000/")
    assert labelstudio.connection(workspace) == ("http://127.0.0.1:18080", "tok")  # a URL without its token
    monkeypatch.setenv(endpoints.LS_TOKEN_ENV, "other")
    assert labelstudio.connection(workspace) == ("http://ls.example:9000", "other")
    assert endpoints.label_studio_override() == ("http://ls.example:9000", "other")
