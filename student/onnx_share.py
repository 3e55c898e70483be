"""``share_weights``: an fp32 ONNX file whose weights are read from ``model.safetensors`` instead of stored twice.

A safetensors file is an 8-byte little-endian header length, a JSON header
giving each tensor's ``dtype``, ``shape`` and ``data_offsets`` (relative to the
end of the header), then the raw little-endian tensor bytes. ONNX *external
data* (``location``, ``offset``, ``length`` on an initializer) can point at
exactly those bytes, so an fp32 ONNX file traced from fp16-stored weights can
carry no weights of its own: each of its fp32 initializers whose values are an
fp16 tensor of the safetensors file (directly, or transposed, as the exporter
stores ``Linear`` weights for ``MatMul``) becomes that FLOAT16 tensor, external,
followed by a ``Cast`` to FLOAT (and a ``Transpose``). The graph computes in
fp32 on the same values; onnxruntime folds the constant casts when the session
is created, so inference runs as fast as the plain fp32 file.

Only exact matches are shared: the fp16 tensor widened to fp32 must equal the
initializer bit for bit, so the shared file computes what the fp32 file does.
Initializers are matched by name first (the safetensors key, possibly under the
exporter's wrapper prefix), else by shape and values; anything else (small
tensors, constants the exporter folded) stays inside the ONNX file.

The ONNX file must sit in the same folder as the safetensors file: onnxruntime
resolves ``location`` against the model's folder and refuses paths with ``..``.
Its metadata names the safetensors file (``FILE_KEY``) and holds the sha256 of
its layout (``LAYOUT_KEY``: where the data starts and each tensor's name, dtype,
shape and offsets): :func:`check_weights` refuses a
``model.safetensors`` re-saved with another layout, whose bytes at the recorded
offsets would be other tensors' (onnxruntime itself only checks the lengths).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from factory.atomic import atomic_write_bytes
from factory.errors import TaskError

MIN_ELEMENTS = 1024  # smaller tensors cost a Cast node more than the bytes they would save
MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own bound on its JSON header
FILE_KEY = "shared_weights_file"
LAYOUT_KEY = "shared_weights_layout_sha256"


def read_safetensors_header(path: str | Path) -> tuple[dict[str, dict], int]:
    """``({name: {"dtype", "shape", "data_offsets"}}, data_start)`` of a safetensors file, checked against its size.

    ``data_start`` is the file offset of the first tensor byte (8 + header length); each tensor's bytes are at
    ``data_start + data_offsets[0]`` up to ``data_start + data_offsets[1]``. A file that is not safetensors, or
    whose header points outside the file, is a :class:`TaskError`.
    """
    path = Path(path)
    fix = "pass a model.safetensors written by safetensors (export the student again)"
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            raw = f.read(n) if 0 < n <= min(MAX_HEADER, size - 8) else b""
    except OSError as e:
        raise TaskError("a readable safetensors file", f"{type(e).__name__}: {e}", fix, where=str(path)) from None
    try:
        header = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise TaskError(
            "a safetensors file (header length, then a JSON header)", "no such header", fix, where=str(path)
        )
    data_start = 8 + n
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        ok = (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= size - data_start
            and isinstance(info.get("shape"), list)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in info["shape"])
            and isinstance(info.get("dtype"), str)
        )
        if not ok:
            raise TaskError(
                "safetensors entries with a dtype, a shape and data_offsets inside the file",
                f"{name!r}: {str(info)[:120]}",
                fix,
                where=str(path),
            )
        entries[name] = info
    return entries, data_start


def layout_sha256(path: str | Path) -> str:
    """sha256 of a safetensors file's layout: the data's start, each tensor's dtype, shape and offsets (not values).

    Not of the header's bytes: a header that only lists its tensors in another order describes the same file.
    """
    entries, data_start = read_safetensors_header(path)
    layout = {
        "data_start": data_start,
        "tensors": {k: [v["dtype"], v["shape"], v["data_offsets"]] for k, v in entries.items()},
    }
    return hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()


def check_weights(onnx_path: str | Path, metadata: dict[str, str]) -> None:
    """Refuse a shared ONNX file whose ``model.safetensors`` no longer has the layout it was written against.

    ``metadata``: the model's custom metadata (``InferenceSession.get_modelmeta().custom_metadata_map``);
    a file without them is not a shared file and passes.
    """
    name, want = metadata.get(FILE_KEY), metadata.get(LAYOUT_KEY)
    if name is None or want is None:
        return
    weights = Path(onnx_path).parent / Path(name).name
    if layout_sha256(weights) != want:
        raise TaskError(
            f"the {weights.name} that {Path(onnx_path).name} reads its weights from, with the same tensor layout",
            f"a {weights.name} with another layout (re-saved since the export?)",
            f"put the exported {weights.name} back beside it, or export the student again",
            where=str(weights),
        )


def share_weights(onnx_src: str | Path, weights: str | Path, dst: str | Path, min_elements: int = MIN_ELEMENTS) -> dict:
    """Write ``dst``: ``onnx_src`` with every fp32 initializer found in ``weights`` (fp16) read from there.

    ``dst`` must be in the folder of ``weights`` (the external data's ``location`` is the bare file name).
    Returns ``{"shared", "shared_params", "inline", "onnx_bytes"}``: how many initializers (and parameters) now
    live in ``weights``, how many stayed inside the file, and the file's size. ``dst`` is written atomically.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    onnx_src, weights, dst = Path(onnx_src), Path(weights), Path(dst)
    if dst.resolve().parent != weights.resolve().parent:
        raise TaskError(
            f"the shared ONNX file in the folder of {weights.name}",
            str(dst),
            f"write it beside {weights} (onnxruntime refuses external data outside the model's folder)",
            where="share_weights",
        )
    entries, data_start = read_safetensors_header(weights)
    try:
        model = onnx.load(str(onnx_src))
    except Exception as e:  # onnx raises DecodeError, ValidationError, OSError for a bad file
        raise TaskError(
            "an ONNX model file",
            f"{type(e).__name__}: {str(e)[:120]}",
            "export the ONNX file again",
            where=str(onnx_src),
        ) from None
    graph = model.graph

    # fp16 tensors, indexed by (shape, digest of their bytes), read through one memory map of the file.
    blob = np.memmap(weights, dtype=np.uint8, mode="r")
    half = {}
    for name, info in entries.items():
        if info["dtype"] != "F16" or int(np.prod(info["shape"])) < min_elements:
            continue
        b, e = info["data_offsets"]
        if e - b != 2 * int(np.prod(info["shape"])):
            raise TaskError(
                "safetensors entries whose byte length is their shape times the dtype's size",
                f"{name!r}: {e - b} bytes for shape {info['shape']}",
                "export the student again",
                where=str(weights),
            )
        half[name] = np.frombuffer(blob, dtype="<f2", count=(e - b) // 2, offset=data_start + b).reshape(info["shape"])
    by_digest = {}
    for name, t in half.items():
        by_digest.setdefault((t.shape, _digest(t)), name)

    taken = {i.name for i in graph.input} | {o.name for o in graph.output} | {t.name for t in graph.initializer}
    taken |= {out for node in graph.node for out in node.output} | {v.name for v in graph.value_info}
    as_input = {i.name for i in graph.input}
    kept, nodes, added = [], [], {}
    shared = shared_params = 0
    for init in graph.initializer:
        match = None
        if init.data_type == TensorProto.FLOAT and init.name not in as_input:
            arr = numpy_helper.to_array(init)
            if arr.size >= min_elements:
                match = _find(init.name, arr, half, by_digest)
        if match is None:
            kept.append(init)
            continue
        key, transposed = match
        if key not in added:  # one external FLOAT16 initializer per safetensors tensor, however many use it
            added[key] = _unique(f"safetensors::{key}", taken)
            b, e = entries[key]["data_offsets"]
            ext = TensorProto(name=added[key], data_type=TensorProto.FLOAT16, dims=entries[key]["shape"])
            ext.data_location = TensorProto.EXTERNAL
            for k, v in (("location", weights.name), ("offset", str(data_start + b)), ("length", str(e - b))):
                ext.external_data.add(key=k, value=v)
            kept.append(ext)
        cast_out = _unique(f"{init.name}::fp32", taken) if transposed else init.name
        nodes.append(helper.make_node("Cast", [added[key]], [cast_out], to=TensorProto.FLOAT, name=f"{cast_out}::cast"))
        if transposed:
            nodes.append(helper.make_node("Transpose", [cast_out], [init.name], perm=[1, 0], name=f"{init.name}::t"))
        shared += 1
        shared_params += int(arr.size)
    del blob
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    # The casts come first: every node reading a shared weight then follows the node that makes it (topological order).
    rest = list(graph.node)
    graph.ClearField("node")
    graph.node.extend(nodes + rest)
    ours = {FILE_KEY: weights.name, LAYOUT_KEY: layout_sha256(weights)}
    old = [p for p in model.metadata_props if p.key not in ours]
    model.ClearField("metadata_props")
    model.metadata_props.extend(old)
    for k, v in ours.items():
        model.metadata_props.add(key=k, value=v)
    # Serialized here, not with onnx.save: that would try to write the external tensors' data itself.
    data = model.SerializeToString()
    atomic_write_bytes(dst, data)
    return {"shared": shared, "shared_params": shared_params, "inline": len(kept) - len(added), "onnx_bytes": len(data)}


def _digest(a) -> bytes:
    import numpy as np

    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


def _find(name: str, arr, half: dict, by_digest: dict) -> tuple[str, bool] | None:
    """``(safetensors key, transposed)`` of the fp16 tensor that widens to ``arr`` exactly, else None."""
    import numpy as np

    h = arr.astype(np.float16)
    if not np.array_equal(h.astype(np.float32), arr):
        return None  # not fp16 values: sharing would change the model
    views = [(h, False)] + ([(h.T, True)] if h.ndim == 2 else [])
    # By name first: the key itself, or the key under the exporter's wrapper module ("m.bert.…" for "bert.…").
    named = [k for k in half if name == k or name.endswith("." + k)]
    for key in named:
        for v, transposed in views:
            if half[key].shape == v.shape and np.array_equal(half[key], v):
                return key, transposed
    for v, transposed in views:
        key = by_digest.get((v.shape, _digest(v)))
        if key is not None and np.array_equal(half[key], v):
            return key, transposed
    return None


def _unique(base: str, taken: set) -> str:
    """``base``, or ``base`` with a counter, not yet a value name in the graph (and now reserved)."""
    name, i = base, 1
    while name in taken:
        name, i = f"{base}.{i}", i + 1
    taken.add(name)
    return name
