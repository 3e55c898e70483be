"""``load_student``: run an exported student (zip or folder) with onnxruntime or torch."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from factory.errors import TaskError
from student.onnx_share import check_weights
from student.unpack import MANIFEST, discard, unpack, verify_folder

ONNX_FP32 = "onnx/model.onnx"
ONNX_INT8 = "onnx/model.int8.onnx"
# fp32 compute on the fp16 weights of model.safetensors (student.onnx_share): beside them, as ONNX requires.
ONNX_SHARED = "model/model.onnx"
ONNX_FILES = (ONNX_INT8, ONNX_SHARED, ONNX_FP32)


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


REEXPORT = "re-export the artifact with student.export_artifact (or download it again)"


def _read_json_object(path: Path, what: str) -> dict:
    """``path`` parsed as a JSON object, or a :class:`TaskError` saying what was wrong with it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TaskError(
            f"a readable {what} (UTF-8 JSON)", f"{type(e).__name__}: {str(e)[:120]}", REEXPORT, where=str(path)
        ) from None
    if not isinstance(value, dict):
        raise TaskError(f"a JSON object in {what}", f"a JSON {type(value).__name__}", REEXPORT, where=str(path))
    return value


def _label_ids(cfg: dict, path: Path) -> list:
    """The labels in output order from a config's ``id2label`` (keys 0..n-1, as strings or integers)."""
    id2label = cfg.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        found = "no 'id2label'" if id2label is None else f"'id2label' = {str(id2label)[:80]}"
        raise TaskError("a config.json with an 'id2label' map of the labels", found, REEXPORT, where=str(path))
    keys = {str(k) for k in id2label}
    missing = [i for i in range(len(id2label)) if str(i) not in keys]
    if missing:
        raise TaskError(
            f"'id2label' keys 0..{len(id2label) - 1}",
            f"keys {sorted(keys)[:10]}",
            REEXPORT,
            where=str(path),
        )
    by_str = {str(k): v for k, v in id2label.items()}
    return [by_str[str(i)] for i in range(len(id2label))]


class StudentClassifier:
    """A loaded student; ``predict(texts)`` gives ``[{"label": id, "score": p}, ...]``."""

    def __init__(
        self, root: Path, model_dir: Path, backend: str, quantized: bool, max_length: int, threads: int | None = None
    ):
        self.root, self.model_dir, self.backend = root, model_dir, backend
        cfg = _read_json_object(model_dir / "config.json", "config.json")
        self.label_ids = _label_ids(cfg, model_dir / "config.json")
        self.max_length = max_length
        if backend == "onnx":
            import onnxruntime as ort
            from tokenizers import Tokenizer

            # An export ships one ONNX file (int8 where it passed parity): take the one asked for when present.
            order = ONNX_FILES if quantized else ONNX_FILES[::-1]
            onnx = next((root / f for f in order if (root / f).is_file()), root / order[0])
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            # onnxruntime and tokenizers raise their own exception types (InvalidProtobuf, Fail, ...) for a
            # damaged file: each becomes a TaskError naming the file, so no traceback reaches the user.
            try:
                self.session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
            except Exception as e:
                raise TaskError("an ONNX model onnxruntime can load", _short(e), REEXPORT, where=str(onnx)) from None
            # A shared file reads model.safetensors at recorded offsets: one re-saved since would load as garbage.
            check_weights(onnx, self.session.get_modelmeta().custom_metadata_map)
            self.onnx_path = onnx
            try:
                self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            except Exception as e:
                raise TaskError(
                    "a tokenizer.json the tokenizers library can load",
                    _short(e),
                    REEXPORT,
                    where=str(model_dir / "tokenizer.json"),
                ) from None
            pad_id = cfg.get("pad_token_id")
            pad_id = 0 if pad_id is None else pad_id
            self.tok.enable_truncation(max_length)
            self.tok.enable_padding(direction="right", pad_id=pad_id, pad_token=self.tok.id_to_token(pad_id) or "<pad>")
            self.input_names = {i.name for i in self.session.get_inputs()}
        else:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self.torch = torch
            # Only safetensors are loaded: a pickled .bin from an untrusted zip could run code.
            if not any(model_dir.glob("*.safetensors")):
                found = ", ".join(sorted(p.name for p in model_dir.glob("*.bin"))) or "no weights file"
                raise TaskError(
                    "the weights as model.safetensors",
                    found,
                    REEXPORT + "; weights as .bin are not loaded",
                    where=str(model_dir),
                )
            try:
                self.tok = AutoTokenizer.from_pretrained(model_dir)
                self.tok.padding_side = "right"
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    model_dir, dtype=torch.float32, use_safetensors=True
                ).eval()
            except Exception as e:
                raise TaskError(
                    "a model folder transformers can load (config, tokenizer, safetensors weights)",
                    _short(e),
                    REEXPORT,
                    where=str(model_dir),
                ) from None

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = list(texts[i : i + batch_size])
            if self.backend == "onnx":
                enc = self.tok.encode_batch(chunk)
                feed = {
                    "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                }
                if "token_type_ids" in self.input_names:
                    feed["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
                out.append(self.session.run(["logits"], feed)[0])
            else:
                enc = self.tok(chunk, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
                with self.torch.no_grad():
                    out.append(self.model(**enc).logits.float().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.label_ids)), dtype=np.float32)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Probabilities, one column per label in ``label_ids`` order."""
        return _softmax(self.logits(texts, batch_size).astype(np.float64))

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[dict]:
        probs = self.predict_proba(texts, batch_size)
        return [{"label": self.label_ids[int(p.argmax())], "score": float(p.max())} for p in probs]


def _short(e: Exception) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first[:200]}"


def load_student(
    path: str | Path, backend: str = "auto", quantized: bool = True, threads: int | None = None
) -> StudentClassifier:
    """Load a student from an exported zip, an unpacked export, a distill run folder or an HF model folder.

    ``backend``: ``"onnx"`` (onnxruntime: the artifact's ONNX file, int8 first unless ``quantized=False``),
    ``"torch"``, or ``"auto"`` (onnx when the artifact has ONNX files). Every problem with the
    artifact is a :class:`TaskError`; a zip whose files fail to load leaves nothing in the unpack cache.
    """
    if backend not in ("auto", "onnx", "torch"):
        raise TaskError("backend 'auto', 'onnx' or 'torch'", repr(backend), "pick one of those", where="load_student")
    p = Path(path)
    if not p.exists():
        raise TaskError(
            "an exported student zip or folder",
            f"{p} does not exist",
            "pass the path printed by export_artifact / the UI download",
            where="load_student",
        )
    if p.is_file():
        if not zipfile.is_zipfile(p):
            raise TaskError(
                "a .zip made by student.export_artifact",
                f"{p.name} is not a zip",
                "pass the artifact zip",
                where="load_student",
            )
        folder = unpack(p)  # checked, extracted once, verified against its manifest
        if backend == "onnx" and not _has_onnx(folder):
            raise _no_onnx()  # a wrong request, not a broken artifact: the cached folder stays
        try:
            return _load_folder(folder, backend, quantized, threads)
        except TaskError as e:
            # The files matched their manifest, so they fail the same way on every try: a broken
            # student must not stay in the cache looking like a verified one.
            discard(folder)
            # Name the file inside the zip, not the cache folder that was just removed.
            inner = e.where.replace(str(folder), "").lstrip("/") if e.where else ""
            where = f"{p} ({inner})" if inner and e.where.startswith(str(folder)) else str(p)
            raise TaskError(e.expected, e.found.replace(f"{folder}/", ""), e.fix, where=where) from None
    if (p / MANIFEST).is_file():
        verify_folder(p, str(p))  # an unpacked export: its files must still match the manifest
    return _load_folder(p, backend, quantized, threads)


def _has_onnx(p: Path) -> bool:
    return any((p / f).is_file() for f in ONNX_FILES)


def _no_onnx() -> TaskError:
    return TaskError(
        f"{', '.join(ONNX_FILES[:-1])} or {ONNX_FILES[-1]} in the artifact",
        "no ONNX files",
        "use backend='torch' or re-export",
        where="load_student",
    )


def _load_folder(p: Path, backend: str, quantized: bool, threads: int | None) -> StudentClassifier:
    """The classifier of a verified folder; ``student.json`` (when present) is checked field by field."""
    max_length = 128
    meta_path = p / "student.json"
    if meta_path.is_file():
        meta = _read_json_object(meta_path, "student.json")
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        max_length = config.get("max_length", meta.get("max_length", 128))
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise TaskError("a positive integer max_length", repr(max_length), REEXPORT, where=str(meta_path))
        if not (p / "model" / "config.json").is_file() and meta.get("model_dir"):
            raw = meta["model_dir"]
            # An absolute or '..' path would load a model from outside what was verified.
            inside = (
                isinstance(raw, str) and not Path(raw).is_absolute() and (p / raw).resolve().is_relative_to(p.resolve())
            )
            if not inside:
                raise TaskError("a model_dir inside the artifact", repr(raw), REEXPORT, where=str(meta_path))
            return StudentClassifier(p, (p / raw).resolve(), "torch", False, max_length)
    model_dir = p / "model" if (p / "model" / "config.json").is_file() else p
    if not (model_dir / "config.json").is_file():
        raise TaskError(
            "a folder with model/config.json or config.json",
            f"neither in {p}",
            "pass an exported student",
            where="load_student",
        )
    has_onnx = _has_onnx(p)
    if backend == "auto":
        backend = "onnx" if has_onnx else "torch"
    if backend == "onnx" and not has_onnx:
        raise _no_onnx()
    return StudentClassifier(p, model_dir, backend, quantized, max_length, threads)
