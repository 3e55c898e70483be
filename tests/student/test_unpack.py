"""Student zips are untrusted input: checked before extraction, verified against the manifest, safe to open at once."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
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


def _craft(src: Path, dst: Path, edit, remanifest: bool = True) -> Path:
    """Unpack ``src``, let ``edit`` change the folder, and zip it again with a manifest matching the edits.

    Such a zip passes every integrity check, so only the loader's own checks stand between it and the user.
    """
    from factory.atomic import write_manifest

    work = dst.with_name(dst.stem + "-files")
    with zipfile.ZipFile(src) as zf:
        zf.extractall(work)
    root = next(work.iterdir())
    edit(root)
    if remanifest:
        write_manifest(root, {"format": "model-factory-student/1"})
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zout.write(p, f"{root.name}/{p.relative_to(root).as_posix()}")
    return dst


def _write_manifest_files(root: Path, files) -> None:
    (root / "MANIFEST.json").write_text(json.dumps({"files": files}))


def _drop_id2label(root: Path) -> None:
    cfg = json.loads((root / "model" / "config.json").read_text())
    cfg.pop("id2label")
    (root / "model" / "config.json").write_text(json.dumps(cfg))


def _garbage_onnx(root: Path) -> None:
    for f in [*(root / "onnx").glob("*.onnx"), *(root / "model").glob("*.onnx")]:
        f.write_bytes(b"this is not an ONNX model")


def _weights_as_bin(root: Path) -> None:
    shutil.rmtree(root / "onnx", ignore_errors=True)
    (root / "model" / "model.onnx").unlink(missing_ok=True)  # the shared fp32 file, when that one shipped
    (root / "model" / "model.safetensors").rename(root / "model" / "pytorch_model.bin")


def _manifest_listing(rel: str):
    def edit(root: Path) -> None:
        listed = json.loads((root / "MANIFEST.json").read_text())["files"]
        _write_manifest_files(root, {**listed, rel: {"sha256": "0" * 64}})

    return edit


# (case id, edit of the unpacked folder, rewrite the manifest afterwards, text the error must hold)
CRAFTED = [
    ("student-json-not-json", lambda r: (r / "student.json").write_text("{oops"), True, "JSONDecodeError"),
    ("student-json-a-list", lambda r: (r / "student.json").write_text("[1]"), True, "a JSON object in student.json"),
    ("manifest-files-a-list", lambda r: _write_manifest_files(r, ["student.json"]), False, "'files' is a JSON list"),
    ("manifest-path-escapes", _manifest_listing("../../etc/passwd"), False, "paths inside the artifact"),
    ("manifest-path-absolute", _manifest_listing("/etc/passwd"), False, "paths inside the artifact"),
    ("config-without-id2label", _drop_id2label, True, "no 'id2label'"),
    ("garbage-onnx", _garbage_onnx, True, "an ONNX model onnxruntime can load"),
    ("weights-only-as-bin", _weights_as_bin, True, "found pytorch_model.bin"),
]


@pytest.mark.parametrize("case,edit,remanifest,needle", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_zip_with_a_matching_manifest_is_a_clear_error_and_leaves_no_cache(
    artifact, tmp_path, cache, case, edit, remanifest, needle
):
    bad = _craft(artifact, tmp_path / f"{case}.zip", edit, remanifest)
    with pytest.raises(TaskError, match=re.escape(needle)) as err:
        load_student(bad)
    msg = str(err.value)
    assert "Fix:" in msg and str(bad) in msg and str(cache) not in msg  # names the zip, not the removed folder
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("case,edit,remanifest,needle", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_predict_on_a_crafted_zip_exits_nonzero_with_the_message_and_no_traceback(
    artifact, tmp_path, cache, case, edit, remanifest, needle
):
    from typer.testing import CliRunner

    from cli.main import app

    bad = _craft(artifact, tmp_path / f"{case}.zip", edit, remanifest)
    res = CliRunner().invoke(app, ["predict", str(bad), "--text", "x"])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert needle in res.stderr and "Fix:" in res.stderr and "Traceback" not in res.output
    as_json = CliRunner().invoke(app, ["predict", str(bad), "--text", "x", "--json"])
    assert as_json.exit_code == 1 and needle in json.loads(as_json.stdout)["error"]


def test_an_absolute_model_dir_in_student_json_is_refused(artifact, tiny_bert, tmp_path, cache):
    def point_outside(root: Path) -> None:
        shutil.rmtree(root / "model")
        meta = json.loads((root / "student.json").read_text())
        (root / "student.json").write_text(json.dumps({**meta, "model_dir": str(tiny_bert)}))

    bad = _craft(artifact, tmp_path / "absolute.zip", point_outside)
    with pytest.raises(TaskError, match="model_dir inside the artifact"):
        load_student(bad)
    assert list(cache.iterdir()) == []


def test_the_total_uncompressed_size_cap_is_enforced(artifact, cache, monkeypatch):
    monkeypatch.setattr(unpack_mod, "MAX_BYTES", 1000)
    with pytest.raises(TaskError, match=r"bytes uncompressed \(at most 1,000\)"):
        load_student(artifact)
    assert _leftovers(cache) == []


def test_stale_unpack_folders_are_removed_and_fresh_ones_kept(artifact, cache):
    cache.mkdir(parents=True)
    (cache / ".unpack.crashed").mkdir()
    (cache / ".unpack.crashed" / "half.bin").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(cache / ".unpack.crashed", (two_hours_ago, two_hours_ago))
    (cache / ".unpack.in-progress").mkdir()  # another process unpacking right now
    load_student(artifact)
    assert not (cache / ".unpack.crashed").exists() and (cache / ".unpack.in-progress").is_dir()


def test_pruning_skips_folders_another_process_removes_meanwhile(tmp_path, monkeypatch):
    cache = tmp_path / "students"
    for name in ("keep", "vanishing", "other"):
        (cache / name).mkdir(parents=True)
    (cache / ".unpack.gone").symlink_to(tmp_path / "nowhere")  # listed by glob, gone by the time of stat()
    real_is_dir = Path.is_dir

    def is_dir_then_vanish(self, *a, **k):
        result = real_is_dir(self, *a, **k)
        if self.name == "vanishing" and result:
            shutil.rmtree(self)  # another process prunes it between the check and the stat()
        return result

    monkeypatch.setattr(Path, "is_dir", is_dir_then_vanish)
    unpack_mod._prune(cache, cache / "keep")
    assert (cache / "keep").is_dir() and (cache / "other").is_dir()
