"""The Label Studio signing key: the factory's own, stable across restarts (no server needed)."""

from __future__ import annotations

import stat

from factory.workspace import Workspace
from pipelines import lsserver


def test_secret_key_is_private_and_stable_across_calls(tmp_path):
    ws = Workspace(tmp_path)
    key = lsserver.secret_key(ws)
    assert len(key) >= 50 and not key.startswith("$")
    assert lsserver.secret_key(ws) == key
    assert stat.S_IMODE(lsserver.secret_key_path(ws).stat().st_mode) == 0o600


def test_secret_key_adopts_the_key_an_existing_data_folder_signs_with(tmp_path):
    ws = Workspace(tmp_path)
    data = lsserver.ls_dir(ws) / "data"
    data.mkdir()
    (data / ".env").write_text("\nSECRET_KEY=abc-existing-key\n")
    assert lsserver.secret_key(ws) == "abc-existing-key"


def test_secret_key_replaces_a_key_django_environ_would_read_as_a_reference(tmp_path):
    ws = Workspace(tmp_path)
    data = lsserver.ls_dir(ws) / "data"
    data.mkdir()
    (data / ".env").write_text("\nSECRET_KEY=$k9@x(unreadable\n")
    key = lsserver.secret_key(ws)
    assert key and not key.startswith("$")
