"""Atomic file writes: write to a temporary sibling, then rename.

A crash or a bad input never leaves a half-written file behind: readers see
either the old file or the complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; ``mode`` sets permissions (e.g. 0o600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, mode: int | None = None) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: str | os.PathLike, obj: Any, mode: int | None = None) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n", mode=mode)


def atomic_write_jsonl(path: str | os.PathLike, rows: list[dict]) -> Path:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return atomic_write_text(path, body)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read JSON lines written by the factory (split on '\\n' only)."""
    text = Path(path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it into place on success.

    If the block raises, the temporary directory is removed and ``path`` is
    left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block.

    Writers of one target take the same lock, so anything temporary they find
    while holding it was left by a writer that died (``kill -9``, power loss):
    :func:`clean_stale` may then remove it safely.
    """
    import fcntl

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_stale(path: str | os.PathLike, pattern: str | None = None) -> list[str]:
    """Remove what dead writers of ``path`` left beside it; call it only under the writers' :func:`exclusive` lock.

    Temporary siblings (``.<name>.*.tmp``, or those matching ``pattern``) are
    deleted. A replacement by :func:`atomic_dir` that died between its two
    renames left the old copy as ``.<name>.old`` and no ``path``: the old copy
    is put back. Returns the names removed or restored.
    """
    path = Path(path)
    done = []
    if not path.parent.is_dir():
        return done
    for p in path.parent.glob(pattern or f".{path.name}.*.tmp"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        done.append(p.name)
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, path)
        done.append(old.name)
    return done


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_manifest(directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``MANIFEST.json`` listing sha256 and size of every file under ``directory``."""
    directory = Path(directory)
    files = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file() and p.name != "MANIFEST.json" and not p.name.startswith("."):
            rel = p.relative_to(directory).as_posix()
            files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest = {"files": files, **(extra or {})}
    return atomic_write_json(directory / "MANIFEST.json", manifest)


def verify_manifest(directory: str | os.PathLike) -> list[str]:
    """Return the relative paths whose sha256 no longer matches the manifest."""
    directory = Path(directory)
    manifest = json.loads((directory / "MANIFEST.json").read_text(encoding="utf-8"))
    bad = []
    for rel, info in manifest["files"].items():
        p = directory / rel
        if not p.is_file() or sha256_file(p) != info["sha256"]:
            bad.append(rel)
    return bad
