"""``export_artifact``: the downloadable product — one zip with everything a user needs.

Layout inside the zip (one top folder ``<task>-student/``)::

    model/            HF folder: config (label map), safetensors, tokenizer.json
    onnx/model.onnx   fp32 ONNX (inputs input_ids, attention_mask; output logits)
    onnx/model.int8.onnx  dynamic int8 quantization of the above
    README.md         model card
    metrics.json      evaluation metrics
    student.json      label ids, parameters, training history, config
    MANIFEST.json     sha256 and size of every file
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from factory.atomic import atomic_dir, atomic_write_json, atomic_write_text, write_manifest
from factory.spec import TaskSpec
from student.artifact import StudentArtifact
from student.card import model_card
from student.runtime import ONNX_FP32, ONNX_INT8


def export_onnx(model_dir: str | Path, path: str | Path, opset: int = 17) -> Path:
    """Trace the HF classifier to ONNX with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32).eval()
    model.config.use_cache = False
    cfg = model.config
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else 0
    ids = torch.tensor([[2, 5, 6, 7, 8, 9], [2, 10, 11, pad, pad, pad]]) % cfg.vocab_size
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]])
    ids[1, 3:] = pad
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    class Logits(torch.nn.Module):
        # A fixed (input_ids, attention_mask) -> logits signature for every architecture.
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            if getattr(cfg, "use_bidirectional_attention", False):
                # transformers builds bidirectional masks with vmap, which the ONNX tracer cannot follow: hand
                # every layer type the padding-only additive mask (the sliding window exceeds max_length).
                keep = attention_mask[:, None, None, :].to(torch.bool).expand(-1, 1, input_ids.shape[1], -1)
                add = torch.zeros(keep.shape, dtype=torch.float32).masked_fill(~keep, torch.finfo(torch.float32).min)
                masks = {t: add for t in set(cfg.layer_types)}
                return self.m(input_ids=input_ids, attention_mask=masks).logits
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    with torch.no_grad():
        torch.onnx.export(
            Logits(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    return path


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantization of the MatMul/Gemm weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"], per_channel=True)
    return Path(dst)


def export_artifact(
    art: StudentArtifact,
    spec: TaskSpec,
    out_dir: str | Path,
    *,
    metrics: dict | None = None,
    teacher_info: dict | None = None,
    name: str | None = None,
) -> Path:
    """Write ``<out_dir>/<task>-student.zip`` (layout in the module docstring) and return its path."""
    out_dir = Path(out_dir)
    name = name or f"{spec.name}-student"
    metrics = {k: v for k, v in (metrics or {}).items() if not isinstance(v, (bytes,))}
    folder = out_dir / name
    with atomic_dir(folder) as tmp:
        shutil.copytree(art.model_dir, tmp / "model", ignore=shutil.ignore_patterns("*.tmp", ".*"))
        export_onnx(tmp / "model", tmp / ONNX_FP32)
        quantize_onnx(tmp / ONNX_FP32, tmp / ONNX_INT8)
        for key in ("confusion_matrix_png", "learning_curve_png"):
            if metrics.get(key) and Path(metrics[key]).is_file():
                shutil.copy(metrics[key], tmp / Path(metrics[key]).name)
                metrics[key] = Path(metrics[key]).name
        atomic_write_json(tmp / "metrics.json", metrics)
        meta = {
            "task": spec.name, "language": spec.language, "label_ids": art.label_ids, "label_names": spec.label_names,
            "params": art.params, "kind": art.kind, "base": art.base, "student_info": art.student_info,
            "max_length": art.config.get("max_length", 128), "config": art.config, "history": art.history,
            "dev_metrics": art.dev_metrics, "best_epoch": art.best_epoch, "data_counts": art.data_counts, "teacher": teacher_info or {},
        }
        atomic_write_json(tmp / "student.json", meta)
        atomic_write_text(tmp / "README.md", model_card(spec, art, metrics, teacher_info or {}))
        write_manifest(tmp, extra={"task": spec.name, "format": "model-factory-student/1"})
    zip_path = out_dir / f"{name}.zip"
    tmp_zip = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{name}/{p.relative_to(folder).as_posix()}")
    tmp_zip.replace(zip_path)
    return zip_path


def read_manifest(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "MANIFEST.json").read_text(encoding="utf-8"))
