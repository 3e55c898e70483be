"""Shared test setup: offline, a fresh workspace per test, small real data slices."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import pytest  # noqa: E402


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A :class:`factory.workspace.Workspace` rooted in a temp dir (also exported as FACTORY_HOME)."""
    from factory.workspace import Workspace

    root = tmp_path / "ws"
    monkeypatch.setenv("FACTORY_HOME", str(root))
    return Workspace(root)


@pytest.fixture(scope="session")
def eprstmt_spec():
    """EPRSTMT split 0 from the bundled benchmark data (real data, read-only)."""
    from factory.benchmark_data import load_benchmark_task

    return load_benchmark_task("eprstmt", split=0)


@pytest.fixture(scope="session")
def eprstmt_small(eprstmt_spec):
    """EPRSTMT with capped dev/test/pool: quick enough for integration tests on 2 cores."""
    from dataclasses import replace

    return replace(
        eprstmt_spec, dev=eprstmt_spec.dev[:16], test=eprstmt_spec.test[:40], unlabeled=eprstmt_spec.unlabeled[:60]
    )
