"""Open an exported student zip safely: check it, unpack it once, verify it against its manifest.

A zip from elsewhere is untrusted input. Before anything is extracted its
entries are checked: relative paths that stay inside the artifact, no links,
at most ``MAX_ENTRIES`` entries, ``MAX_BYTES`` uncompressed in all and no
entry inflating more than ``MAX_RATIO`` times. It is then extracted into a
temporary folder beside the cache, every file is checked against
``MANIFEST.json`` (sha256 of each listed file, no unlisted files), and only then
renamed into the cache as ``<sha256 of the zip>[:16]``. Several processes may
open the same zip at once: whichever renames first wins and the others use
its folder. Any failure removes the temporary folder and raises a
:class:`factory.errors.TaskError` naming the problem. The cache keeps the
``CACHE_KEEP`` most recently opened students; a verified folder that still
fails to load is taken out again with :func:`discard`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

from factory.atomic import sha256_file
from factory.errors import TaskError

MAX_ENTRIES = 256
MAX_BYTES = 4 * 1024**3
MAX_RATIO = 200
CACHE_KEEP = 8
MANIFEST = "MANIFEST.json"


def cache_dir() -> Path:
    from factory.models import cache_root

    return cache_root().parent / "students"


def _refuse(zip_path: Path, found: str, fix: str = "re-export the artifact with student.export_artifact") -> TaskError:
    return TaskError("a student zip made by student.export_artifact", found, fix, where=str(zip_path))


def check_entries(zip_path: Path, zf: zipfile.ZipFile) -> None:
    """Refuse escaping or absolute paths, links, too many entries, too many bytes, zip bombs."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _refuse(zip_path, f"{len(infos)} entries (at most {MAX_ENTRIES})")
    total = 0
    for info in infos:
        name = info.filename
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
            raise _refuse(zip_path, f"the entry {name!r}, a path outside the artifact")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(zip_path, f"the entry {name!r}, a symbolic link")
        total += info.file_size
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(
                zip_path,
                f"the entry {name!r} inflating {info.file_size // max(info.compress_size, 1)}x (at most {MAX_RATIO}x)",
            )
    if total > MAX_BYTES:
        raise _refuse(zip_path, f"{total:,} bytes uncompressed (at most {MAX_BYTES:,})")


def _manifest_files(root: Path, where: str) -> dict[str, str]:
    """The manifest's ``{relative path: sha256}``, refused unless it has the shape export_artifact writes."""
    fix = "re-export the artifact with student.export_artifact"
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TaskError(
            f"a readable {MANIFEST} (UTF-8 JSON)", f"{type(e).__name__}: {str(e)[:120]}", fix, where=where
        ) from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        found = (
            f"'files' is a JSON {_json_kind(files)}" if isinstance(manifest, dict) else f"a JSON {_json_kind(manifest)}"
        )
        raise TaskError(f"a {MANIFEST} object whose 'files' maps each path to its sha256", found, fix, where=where)
    out = {}
    inside = root.resolve()
    for rel, info in files.items():
        sha = info.get("sha256") if isinstance(info, dict) else None
        if not isinstance(sha, str):
            raise TaskError(
                f"a {MANIFEST} entry {{'sha256': ...}} for every file", f"{rel!r}: {str(info)[:80]}", fix, where=where
            )
        parts = Path(rel).parts
        # The manifest names files to hash: a path leaving the artifact would read (and reveal) files elsewhere.
        if (
            not rel
            or rel.startswith(("/", "\\"))
            or "\\" in rel
            or ".." in parts
            or (parts and ":" in parts[0])
            or not (root / rel).resolve().is_relative_to(inside)
        ):
            raise TaskError(f"{MANIFEST} paths inside the artifact", f"the path {rel!r}", fix, where=where)
        out[rel] = sha
    return out


def _json_kind(value: object) -> str:
    return {dict: "object", list: "list", str: "string", type(None): "null"}.get(type(value), type(value).__name__)


def verify_folder(root: Path, where: str) -> None:
    """Every file listed in ``MANIFEST.json`` is there with its sha256, and nothing else is.

    The manifest itself must be a JSON object whose ``files`` maps relative paths inside ``root`` to
    ``{"sha256": ...}``; anything else is a :class:`TaskError` naming what was found.
    """
    files = _manifest_files(root, where)
    changed = sorted(rel for rel, sha in files.items() if not (root / rel).is_file() or sha256_file(root / rel) != sha)
    listed = set(files) | {MANIFEST}
    # Hidden files (an OS's folder metadata) are neither written into manifests nor loaded.
    extra = sorted(
        r
        for r in (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
        if r not in listed
    )
    if changed or extra:
        found = "; ".join(
            x
            for x in (
                f"changed or missing: {', '.join(changed[:5])}" if changed else "",
                f"not in the manifest: {', '.join(extra[:5])}" if extra else "",
            )
            if x
        )
        raise TaskError(
            "files matching the artifact's MANIFEST.json",
            found,
            "use the zip as exported, or export it again",
            where=where,
        )


def _mtime(path: Path) -> float | None:
    """``path``'s modification time, or None when another process removed it since it was listed."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _prune(cache: Path, keep: Path) -> None:
    """Drop all but the ``CACHE_KEEP`` most recently opened students (and stale temporary folders).

    Other processes prune the same cache at the same time, so a folder listed here may be gone a moment
    later: such a folder is simply skipped.
    """
    dated = []
    for d in cache.iterdir():
        t = _mtime(d) if d.is_dir() and not d.name.startswith(".") else None
        if t is not None:
            dated.append((t, d))
    for _, d in sorted(dated, key=lambda x: x[0], reverse=True)[CACHE_KEEP:]:
        if d != keep:
            shutil.rmtree(d, ignore_errors=True)
    now = time.time()
    for d in cache.glob(".unpack.*"):
        t = _mtime(d)
        if t is not None and now - t > 3600:  # a crashed unpack's leftovers
            shutil.rmtree(d, ignore_errors=True)


def discard(folder: Path) -> None:
    """Remove an unpacked student from the cache (one whose files load wrongly), all at once for other readers.

    It is first renamed to a ``.unpack.*`` name, so another process sees either the whole folder or none
    of it, never a half-deleted one that still has its manifest.
    """
    dead = folder.with_name(f".unpack.discard.{os.getpid()}.{folder.name}")
    try:
        os.replace(folder, dead)
    except OSError:
        return  # already removed (by another process that found it broken too)
    shutil.rmtree(dead, ignore_errors=True)


def unpack(zip_path: str | Path) -> Path:
    """The verified, unpacked folder of ``zip_path`` (its top folder), extracting it on first use."""
    zip_path = Path(zip_path)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / sha256_file(zip_path)[:16]
    if (target / MANIFEST).is_file():
        try:
            os.utime(target)
            return target
        except FileNotFoundError:
            pass  # another process pruned or discarded it a moment ago: extract it again
    tmp = Path(tempfile.mkdtemp(prefix=".unpack.", dir=cache))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                check_entries(zip_path, zf)
                zf.extractall(tmp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as e:
            raise _refuse(zip_path, f"a damaged zip ({type(e).__name__}: {e})") from None
        roots = [p for p in tmp.iterdir()]
        root = roots[0] if len(roots) == 1 and roots[0].is_dir() else tmp
        verify_folder(root, str(zip_path))
        try:
            os.replace(root, target)
        except OSError as e:
            if not (target / MANIFEST).is_file():  # not a concurrent winner: a real failure
                raise TaskError(
                    f"a writable student cache at {cache}",
                    f"{type(e).__name__}: {e}",
                    f"free disk space or remove {target}",
                    where=str(zip_path),
                ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(cache, target)
    return target
