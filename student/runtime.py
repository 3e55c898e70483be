"""``load_student``: run an exported student (zip or folder) with onnxruntime or torch."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from factory.errors import TaskError
from student.unpack import MANIFEST, unpack, verify_folder

ONNX_FP32 = "onnx/model.onnx"
ONNX_INT8 = "onnx/model.int8.onnx"


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


class StudentClassifier:
    """A loaded student; ``predict(texts)`` gives ``[{"label": id, "score": p}, ...]``."""

    def __init__(
        self, root: Path, model_dir: Path, backend: str, quantized: bool, max_length: int, threads: int | None = None
    ):
        self.root, self.model_dir, self.backend = root, model_dir, backend
        cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.label_ids = [
            cfg["id2label"][str(i)] if str(i) in cfg["id2label"] else cfg["id2label"][i]
            for i in range(len(cfg["id2label"]))
        ]
        self.max_length = max_length
        if backend == "onnx":
            import onnxruntime as ort
            from tokenizers import Tokenizer

            # An export ships one ONNX file (int8 where it passed parity): take the one asked for when present.
            want, other = (ONNX_INT8, ONNX_FP32) if quantized else (ONNX_FP32, ONNX_INT8)
            onnx = root / want if (root / want).is_file() else root / other
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
            self.onnx_path = onnx
            self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            pad_id = cfg.get("pad_token_id")
            pad_id = 0 if pad_id is None else pad_id
            self.tok.enable_truncation(max_length)
            self.tok.enable_padding(direction="right", pad_id=pad_id, pad_token=self.tok.id_to_token(pad_id) or "<pad>")
            self.input_names = {i.name for i in self.session.get_inputs()}
        else:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self.torch = torch
            self.tok = AutoTokenizer.from_pretrained(model_dir)
            self.tok.padding_side = "right"
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, dtype=torch.float32, use_safetensors=True
            ).eval()

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


def load_student(
    path: str | Path, backend: str = "auto", quantized: bool = True, threads: int | None = None
) -> StudentClassifier:
    """Load a student from an exported zip, an unpacked export, a distill run folder or an HF model folder.

    ``backend``: ``"onnx"`` (onnxruntime; int8 model unless ``quantized=False``),
    ``"torch"``, or ``"auto"`` (onnx when the artifact has ONNX files).
    """
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
        p = unpack(p)  # checked, extracted once, verified against its manifest
    elif (p / MANIFEST).is_file():
        verify_folder(p, str(p))  # an unpacked export: its files must still match the manifest
    max_length = 128
    if (p / "student.json").is_file():
        meta = json.loads((p / "student.json").read_text(encoding="utf-8"))
        max_length = meta.get("config", {}).get("max_length", meta.get("max_length", 128))
        if not (p / "model" / "config.json").is_file() and meta.get("model_dir"):
            model_dir = (p / meta["model_dir"]).resolve()
            if not model_dir.is_relative_to(p.resolve()):
                raise TaskError(
                    "a model_dir inside the artifact",
                    repr(meta["model_dir"]),
                    "re-export the artifact",
                    where=str(p / "student.json"),
                )
            return StudentClassifier(p, model_dir, "torch", False, max_length)
    model_dir = p / "model" if (p / "model" / "config.json").is_file() else p
    if not (model_dir / "config.json").is_file():
        raise TaskError(
            "a folder with model/config.json or config.json",
            f"neither in {p}",
            "pass an exported student",
            where="load_student",
        )
    has_onnx = (p / ONNX_FP32).is_file() or (p / ONNX_INT8).is_file()
    if backend == "auto":
        backend = "onnx" if has_onnx else "torch"
    if backend not in ("onnx", "torch"):
        raise TaskError("backend 'auto', 'onnx' or 'torch'", repr(backend), "pick one of those", where="load_student")
    if backend == "onnx" and not has_onnx:
        raise TaskError(
            f"{ONNX_INT8} or {ONNX_FP32} in the artifact",
            "no ONNX files",
            "use backend='torch' or re-export",
            where="load_student",
        )
    return StudentClassifier(p, model_dir, backend, quantized, max_length, threads)
