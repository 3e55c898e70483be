"""Student zips are untrusted input: checked before extraction, verified against the manifest, safe to open at once."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

import student.unpack as unpack_mod
from factory.errors import TaskError
from student import DistillConfig, DistillData, distill, export_artifact, load_student


@pytest.fixture(scope="module")
def artifact(tiny_bert, eprstmt_spec, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unpack")
    data = DistillData.from_spec(eprstmt_spec)
    data.dev = data.dev[:8]
    art = distill(
        data, DistillConfig(student=str(tiny_bert), epochs=1, batch_size=16, max_length=32), out_dir=root / "run"
    )
    return export_artifact(art, eprstmt_spec, root / "export", metrics={"accuracy": 0.5})


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FACTORY_MODEL_CACHE", str(tmp_path / "cache" / "models"))
    return tmp_path / "cache" / "students"


def _rewrite(src: Path, dst: Path, change=None, add: dict | None = None) -> Path:
    """Copy a zip entry by entry, editing or adding members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, change(info.filename, data) if change else data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _leftovers(cache: Path) -> list[str]:
    return [p.name for p in cache.glob(".unpack.*")] if cache.exists() else []


def test_a_verified_zip_unpacks_once_and_predicts(artifact, cache):
    a = load_student(artifact)
    b = load_student(artifact)
    assert a.root == b.root and a.root.parent == cache
    assert len(a.predict(["很好"])) == 1 and _leftovers(cache) == []


def test_changed_labels_are_refused(artifact, tmp_path, cache):
    def relabel(name, data):
        return data.replace(b'"Positive"', b'"Negative"') if name.endswith("model/config.json") else data

    bad = _rewrite(artifact, tmp_path / "relabeled.zip", relabel)
    with pytest.raises(TaskError, match="changed or missing: model/config.json"):
        load_student(bad)
    assert _leftovers(cache) == [] and not any(cache.iterdir())


def test_a_file_not_in_the_manifest_is_refused(artifact, tmp_path):
    top = zipfile.ZipFile(artifact).namelist()[0].split("/")[0]
    bad = _rewrite(artifact, tmp_path / "extra.zip", add={f"{top}/model/extra.py": b"print('hi')"})
    with pytest.raises(TaskError, match="not in the manifest: model/extra.py"):
        load_student(bad)


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "a\\..\\escape.txt", "C:/escape.txt"])
def test_entries_outside_the_artifact_are_refused_before_extraction(artifact, tmp_path, cache, name):
    bad = _rewrite(artifact, tmp_path / "escape.zip", add={name: b"x"})
    with pytest.raises(TaskError, match="outside the artifact"):
        load_student(bad)
    assert not (tmp_path / "escape.txt").exists() and _leftovers(cache) == []


def test_symbolic_links_are_refused(artifact, tmp_path):
    bad = _rewrite(artifact, tmp_path / "link.zip")
    with zipfile.ZipFile(bad, "a") as zf:
        info = zipfile.ZipInfo("x/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(TaskError, match="symbolic link"):
        load_student(bad)


def test_a_zip_bomb_is_refused(artifact, tmp_path):
    bad = _rewrite(artifact, tmp_path / "bomb.zip", add={"x/zeros.bin": b"\0" * (20 << 20)})
    with pytest.raises(TaskError, match="inflating"):
        load_student(bad)


def test_too_many_entries_are_refused(artifact, tmp_path, monkeypatch):
    monkeypatch.setattr(unpack_mod, "MAX_ENTRIES", 3)
    with pytest.raises(TaskError, match="entries"):
        load_student(artifact)


def test_a_damaged_zip_is_a_clear_error_and_leaves_nothing(artifact, tmp_path, cache):
    data = artifact.read_bytes()
    bad = tmp_path / "damaged.zip"
    # Flip bytes in the middle (inside a member's data) but keep the central directory intact.
    mid = len(data) // 2
    bad.write_bytes(data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :])
    with pytest.raises(TaskError, match="damaged zip|changed or missing"):
        load_student(bad)
    assert _leftovers(cache) == []


def test_model_dir_outside_an_unpacked_folder_is_refused(artifact, tmp_path):
    from factory.atomic import write_manifest

    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(artifact) as zf:
        zf.extractall(folder)
    root = next(folder.iterdir())
    shutil.move(str(root / "model"), str(tmp_path / "elsewhere"))
    meta = json.loads((root / "student.json").read_text())
    (root / "student.json").write_text(json.dumps({**meta, "model_dir": "../../elsewhere"}))
    write_manifest(root)
    with pytest.raises(TaskError, match="model_dir inside the artifact"):
        load_student(root)


def test_an_unpacked_folder_is_verified_too(artifact, tmp_path):
    with zipfile.ZipFile(artifact) as zf:
        zf.extractall(tmp_path / "u")
    root = next((tmp_path / "u").iterdir())
    (root / "metrics.json").write_text("{}")
    with pytest.raises(TaskError, match="metrics.json"):
        load_student(root)


def _open(args):
    zip_path, cache_env = args
    import os

    os.environ["FACTORY_MODEL_CACHE"] = cache_env
    from student import load_student as load

    return str(load(zip_path).root)


def test_several_processes_opening_one_zip_at_once_all_succeed(artifact, cache):
    import multiprocessing as mp
    import os

    with mp.get_context("spawn").Pool(3) as pool:
        roots = pool.map(_open, [(str(artifact), os.environ["FACTORY_MODEL_CACHE"])] * 3)
    assert len(set(roots)) == 1 and _leftovers(cache) == []


def test_the_cache_keeps_the_most_recently_opened_students(artifact, tmp_path, cache, monkeypatch):
    monkeypatch.setattr(unpack_mod, "CACHE_KEEP", 2)
    zips = [_rewrite(artifact, tmp_path / f"copy{i}.zip", add={}) for i in range(3)]
    for i, z in enumerate(zips):  # byte-different zips (timestamps) of the same artifact
        z.write_bytes(z.read_bytes() + b"\0" * i)
    roots = [load_student(z).root for z in zips]
    assert not roots[0].exists() and roots[1].exists() and roots[2].exists()
