"""``export_artifact``: the downloadable product — one zip with everything a user needs.

Layout inside the zip (one top folder ``<task>-student/``)::

    model/            HF folder: config (label map), fp16 safetensors, tokenizer.json
    <one ONNX file>   the inference model (inputs input_ids, attention_mask; output logits):
      onnx/model.int8.onnx  dynamic int8 (:func:`quantize_onnx`), or
      model/model.onnx      fp32 compute on the fp16 weights of model/model.safetensors, read as
                            ONNX external data (:mod:`student.onnx_share`; under 1 MB itself), or
      onnx/model.onnx       the plain fp32 file, when neither passes parity
    README.md         model card (kind, size, speed, parity)
    metrics.json      evaluation metrics, with "parity"
    student.json      label ids, parameters, training history, config, "onnx" (the file shipped)
    MANIFEST.json     sha256 and size of every file

One inference file ships. Each candidate of ``SHIP_ORDER`` is compared with
the fp32 file on held-back texts (the task's dev set topped up with pool
texts to ``PARITY_TEXTS``, never test) and ships when the two agree on at
least ``PARITY_MIN_AGREEMENT`` of them and it loses at most
``PARITY_MAX_ACCURACY_DROP`` accuracy on dev (checked when dev has
``PARITY_MIN_DEV`` texts or more); dynamic int8 is tried first, the shared
fp32 file next (the same weights, so it agrees on all texts), and otherwise
the plain fp32 file ships. The HF weights are stored in fp16 (the config
keeps float32, so ``transformers`` loads them as fp32).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from factory.atomic import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    clean_stale,
    exclusive,
    write_manifest,
)
from factory.errors import TaskError
from factory.spec import TaskSpec
from student.artifact import StudentArtifact
from student.card import model_card
from student.onnx_share import share_weights
from student.runtime import ONNX_FP32, ONNX_FILES, ONNX_INT8, ONNX_SHARED

PREDICTIONS = "predictions.jsonl"  # beside the zip (and in the version), not inside the artifact

PARITY_MIN_AGREEMENT = 0.99
PARITY_MAX_ACCURACY_DROP = 0.01
PARITY_TEXTS = 512
PARITY_MIN_DEV = 100


def export_onnx(model_dir: str | Path, path: str | Path, opset: int = 17) -> Path:
    """Trace the HF classifier to ONNX with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager", dtype=torch.float32
    ).eval()
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
            Logits(model),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=opset,
            dynamo=False,
        )
    return path


INT8_SCHEMES = ("dynamic", "weights")
# What export_artifact tries, smallest zip first; the plain fp32 file ships when none passes parity. Weight-only
# int8 is left out: on the bench students the shared file was as fast and bit-identical to fp32, and it adds no
# weights to the zip where weight-only int8 adds a third of the fp32 file.
SHIP_ORDER = ("dynamic", "shared")
SHIP_FILES = {"dynamic": ONNX_INT8, "weights": ONNX_INT8, "shared": ONNX_SHARED, "fp32": ONNX_FP32}


def quantize_onnx(src: str | Path, dst: str | Path, scheme: str = "dynamic") -> Path:
    """int8 ONNX from the fp32 file; ``scheme`` says what is quantized.

    ``dynamic``: weights and activations of MatMul/Gemm/Gather, activations per
    tensor at run time — the smallest and fastest file, but a few low-margin
    labels of a Gemma-derived student flip (its activations have outliers).
    ``weights``: MatMul weights only, in blocks of 32 (``MatMulNBits``, 8 bits,
    int8 compute per block); embeddings stay fp32. About a third of the fp32
    file at or below fp32's speed, and its labels track fp32 where ``dynamic``'s
    do not (no longer in ``SHIP_ORDER``: the shared fp32 file does better).
    """
    if scheme == "dynamic":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Gather too: the token-embedding table is most of a small student (all of a static one).
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm", "Gather"],
            per_channel=True,
        )
    elif scheme == "weights":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        q = MatMulNBitsQuantizer(
            str(src), bits=8, block_size=32, is_symmetric=True, accuracy_level=4, op_types_to_quantize=("MatMul",)
        )
        q.process()
        q.model.save_model_to_file(str(dst), use_external_data_format=False)
    else:
        raise TaskError(f"an int8 scheme among {INT8_SCHEMES}", repr(scheme), "pass 'dynamic'", where="quantize_onnx")
    return Path(dst)


def onnx_logits(path: Path, tokenizer_json: Path, pad_id: int, texts: list[str], max_length: int, batch_size: int = 32):
    """Logits (N, C) of an exported ONNX file on ``texts``, tokenized by the artifact's ``tokenizer.json``."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.enable_truncation(max_length)
    tok.enable_padding(direction="right", pad_id=pad_id, pad_token=tok.id_to_token(pad_id) or "<pad>")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tok.encode_batch(texts[i : i + batch_size])
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        }
        out.append(sess.run(["logits"], feed)[0])
    return np.concatenate(out) if out else np.zeros((0, 0))


def measure_parity(
    fp32: Path, other: Path, model_dir: Path, spec: TaskSpec, max_length: int, _fp32_labels: dict | None = None
) -> dict:
    """``other`` (an int8 or shared file) against fp32 on held-back texts, and whether it passes (``ok``).

    Agreement on the labels, and each file's accuracy on the dev labels (``fp32_accuracy``, ``accuracy``).

    ``_fp32_labels``: a dict this call fills with (and later calls reuse) fp32's labels, for several files.
    """
    from factory.sampling import stratified_indices

    # A stratified seeded sample, not a head: some dev files are sorted by label.
    keep = stratified_indices([e.label for e in spec.dev], PARITY_TEXTS, 0) if len(spec.dev) > PARITY_TEXTS else None
    held = [spec.dev[i] for i in keep] if keep is not None else list(spec.dev)
    # Agreement needs no labels: pool texts top up a small dev set (EPRSTMT has 32), where one flip is 3 %.
    texts = [e.text for e in held] + [e.text for e in spec.unlabeled[: max(PARITY_TEXTS - len(held), 0)]]
    texts = texts or [e.text for e in spec.gold[:PARITY_TEXTS]]
    if not texts:
        return {"n": 0, "ok": False, "reason": "no held-back texts to compare on"}
    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    pad = cfg.get("pad_token_id")
    pad = 0 if pad is None else pad
    cache = _fp32_labels if _fp32_labels is not None else {}
    if "labels" not in cache:
        cache["labels"] = onnx_logits(fp32, model_dir / "tokenizer.json", pad, texts, max_length).argmax(1)
    a = cache["labels"]
    b = onnx_logits(other, model_dir / "tokenizer.json", pad, texts, max_length).argmax(1)
    on = "dev + pool" if held and len(texts) > len(held) else ("dev" if held else "pool")
    out = {"n": len(texts), "on": on, "agreement": float((a == b).mean())}
    drop = 0.0
    if held:
        y = [spec.label_index(e.label) for e in held]
        out["fp32_accuracy"] = float((a[: len(held)] == y).mean())
        out["accuracy"] = float((b[: len(held)] == y).mean())
        out["dev_n"] = len(held)
        # On fewer than PARITY_MIN_DEV labeled texts one flip exceeds the bound: agreement alone decides there.
        drop = out["fp32_accuracy"] - out["accuracy"] if len(held) >= PARITY_MIN_DEV else 0.0
    out["ok"] = bool(out["agreement"] >= PARITY_MIN_AGREEMENT and drop <= PARITY_MAX_ACCURACY_DROP)
    out["bounds"] = {"min_agreement": PARITY_MIN_AGREEMENT, "max_accuracy_drop": PARITY_MAX_ACCURACY_DROP}
    return out


def halve_weights(model_dir: Path) -> None:
    """Rewrite ``model.safetensors`` in fp16 (the config's float32 dtype makes transformers upcast on load)."""
    from safetensors.torch import load_file, save_file

    path = model_dir / "model.safetensors"
    tensors = load_file(str(path))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    tmp = path.with_suffix(".tmp")
    save_file(half, str(tmp), metadata={"format": "pt"})
    tmp.replace(path)


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
    # One exporter per artifact name at a time; what an exporter killed mid-way left is removed first.
    predictions = metrics.get("predictions_jsonl")
    with exclusive(out_dir / f".{name}.lock"):
        clean_stale(folder)
        clean_stale(out_dir / f"{name}.zip")
        (out_dir / PREDICTIONS).unlink(missing_ok=True)  # an earlier export's: never beside this one's zip
        try:
            _build_folder(art, spec, folder, metrics, teacher_info)
            try:
                zipped = _zip_folder(folder, out_dir / f"{name}.zip", name)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)  # the zip is the export: no folder without it
                raise
            # The test texts with their predictions stay beside the zip, never inside it: an artifact is made to
            # be shared, the test data is not. A publish copies them into the version (its manifest lists them).
            if predictions and Path(predictions).is_file():
                atomic_write_bytes(out_dir / PREDICTIONS, Path(predictions).read_bytes())
            return zipped
        except OSError as e:
            if not _disk_full(e):
                raise
            raise TaskError(
                "room on disk for the student artifact (about 3x the model's size while exporting)",
                f"{_disk_full(e)} while writing under {out_dir}",
                "free disk space (or point the workspace at a larger disk) and run the export again; "
                "nothing partial was published",
                where="export",
            ) from None


_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _disk_full(e: OSError) -> str | None:
    """The reason when ``e`` means the disk (or a size quota) is full; ``shutil.copytree`` folds those into text."""
    if e.errno in _FULL:
        return e.strerror
    if isinstance(e, shutil.Error) and e.args and isinstance(e.args[0], list):
        for *_, why in e.args[0]:
            for code in _FULL:
                if f"[Errno {code}]" in str(why):
                    return os.strerror(code)
    return None


def _build_folder(art: StudentArtifact, spec: TaskSpec, folder: Path, metrics: dict, teacher_info: dict | None) -> None:
    with atomic_dir(folder) as tmp:
        shutil.copytree(art.model_dir, tmp / "model", ignore=shutil.ignore_patterns("*.tmp", ".*"))
        max_length = art.config.get("max_length", 128)
        # fp16 first, and the ONNX model traced from those weights: transformers and onnxruntime then run one model.
        halve_weights(tmp / "model")
        export_onnx(tmp / "model", tmp / ONNX_FP32)
        metrics["parity"] = _pick_onnx(tmp, spec, max_length)
        # Before the manifest: the evaluation's plots are listed and checked like every other file of the artifact.
        for key in ("confusion_matrix_png", "learning_curve_png"):
            if metrics.get(key) and Path(metrics[key]).is_file():
                shutil.copy(metrics[key], tmp / Path(metrics[key]).name)
                metrics[key] = Path(metrics[key]).name
        if metrics.get("predictions_jsonl"):  # written beside the zip once it exists (export_artifact)
            metrics["predictions_jsonl"] = PREDICTIONS
        atomic_write_json(tmp / "metrics.json", metrics)
        meta = {
            "task": spec.name,
            "language": spec.language,
            "label_ids": art.label_ids,
            "label_names": spec.label_names,
            "params": art.params,
            "kind": art.kind,
            "base": art.base,
            "student_info": art.student_info,
            "max_length": max_length,
            "onnx": metrics["parity"]["shipped"],
            "weights_dtype": "float16",
            "config": art.config,
            "history": art.history,
            "dev_metrics": art.dev_metrics,
            "best_epoch": art.best_epoch,
            "data_counts": art.data_counts,
            "teacher": teacher_info or {},
        }
        atomic_write_json(tmp / "student.json", meta)
        atomic_write_text(tmp / "README.md", model_card(spec, art, metrics, teacher_info or {}))
        write_manifest(tmp, extra={"task": spec.name, "format": "model-factory-student/1"})


def _pick_onnx(tmp: Path, spec: TaskSpec, max_length: int) -> dict:
    """Keep the first file of ``SHIP_ORDER`` that keeps fp32's labels (else the fp32 file), remove the others.

    Returns the parity record of the last file measured, with ``scheme`` (what shipped: a ``SHIP_ORDER``
    entry or ``fp32``), ``tried`` (each candidate's agreement, dev accuracy and verdict) and ``shipped``.
    """
    tried, fp32_labels, parity, scheme = [], {}, {}, "fp32"
    for candidate in SHIP_ORDER:
        path = tmp / SHIP_FILES[candidate]
        if candidate == "shared":
            share_weights(tmp / ONNX_FP32, tmp / "model" / "model.safetensors", path)
        else:
            quantize_onnx(tmp / ONNX_FP32, path, candidate)
        parity = measure_parity(tmp / ONNX_FP32, path, tmp / "model", spec, max_length, fp32_labels)
        tried.append({"scheme": candidate, **{k: parity.get(k) for k in ("agreement", "accuracy", "ok")}})
        if parity["ok"]:
            scheme = candidate
            break
        path.unlink()
        if not parity.get("n"):
            break  # nothing to compare on: no candidate can be checked, the fp32 file ships
    shipped = SHIP_FILES[scheme]
    for f in ONNX_FILES:
        if f != shipped:
            (tmp / f).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (tmp / ONNX_FP32).parent.rmdir()  # onnx/, empty unless an onnx/ file shipped
    return {**parity, "scheme": scheme, "tried": tried, "shipped": shipped}


def _zip_folder(folder: Path, zip_path: Path, name: str) -> Path:
    """Zip ``folder`` under a temporary name, then rename: a full disk or a kill leaves no partial zip."""
    fd, tmp = tempfile.mkstemp(prefix=f".{zip_path.name}.", suffix=".tmp", dir=zip_path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    zf.write(p, f"{name}/{p.relative_to(folder).as_posix()}")
        os.replace(tmp, zip_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return zip_path
