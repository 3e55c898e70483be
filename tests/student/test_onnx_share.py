"""The shared fp32 ONNX file: the fp32 file's logits, a fraction of its size, its weights read from model.safetensors."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from factory.errors import TaskError
from student.export import export_onnx, halve_weights
from student.onnx_share import FILE_KEY, LAYOUT_KEY, check_weights, read_safetensors_header, share_weights

TEXTS = ["质量很好，很满意", "太差了，退货", "一般般吧", "物流很快，包装完好，下次还会再来买的"]


@pytest.fixture(scope="module")
def fp16_model(tiny_bert, tmp_path_factory) -> Path:
    """A tiny BERT classifier stored as the export stores it (fp16 safetensors), and its fp32 ONNX file beside."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root = tmp_path_factory.mktemp("share")
    model = root / "model"
    AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3).save_pretrained(model)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(model)
    halve_weights(model)
    export_onnx(model, root / "fp32.onnx")
    return root


def _logits(path: Path, model_dir: Path) -> np.ndarray:
    """Plain onnxruntime on the file, as a user of the artifact would run it."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    enc = AutoTokenizer.from_pretrained(model_dir)(TEXTS, padding=True, return_tensors="np")
    sess = ort.InferenceSession(str(path))
    feed = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}
    return sess.run(["logits"], feed)[0]


def _copy(fp16_model: Path, tmp_path: Path) -> Path:
    shutil.copytree(fp16_model, tmp_path / "m")
    return tmp_path / "m"


def test_the_shared_file_computes_the_fp32_files_logits_with_no_weights_of_its_own(fp16_model, tmp_path):
    import onnx

    root = _copy(fp16_model, tmp_path)
    stats = share_weights(root / "fp32.onnx", root / "model" / "model.safetensors", root / "model" / "model.onnx")
    shared = root / "model" / "model.onnx"
    fp32 = _logits(root / "fp32.onnx", root / "model")
    # The same fp16 values widened to fp32: the same model, not an approximation of it.
    np.testing.assert_allclose(_logits(shared, root / "model"), fp32, atol=1e-5, rtol=0)
    params = sum(
        int(np.prod(i["shape"])) for i in read_safetensors_header(root / "model" / "model.safetensors")[0].values()
    )
    assert stats["shared_params"] >= 0.95 * params
    assert shared.stat().st_size == stats["onnx_bytes"] < (root / "fp32.onnx").stat().st_size / 20
    graph = onnx.load(str(shared), load_external_data=False).graph
    external = [t for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert 0 < len(external) <= stats["shared"]  # one per safetensors tensor, however many initializers use it
    assert {t.data_type for t in external} == {onnx.TensorProto.FLOAT16}
    assert {e.value for t in external for e in t.external_data if e.key == "location"} == {"model.safetensors"}
    ops = [n.op_type for n in graph.node]
    # Both kinds of match happen: the embedding table as stored, Linear weights transposed for MatMul.
    assert ops.count("Cast") >= stats["shared"] and "Transpose" in ops[: stats["shared"] * 2]
    onnx.checker.check_model(str(shared))  # external data inside the model's folder, valid offsets


def test_onnxruntime_folds_the_casts_so_the_optimized_graph_is_the_fp32_files(fp16_model, tmp_path):
    import onnx
    import onnxruntime as ort

    root = _copy(fp16_model, tmp_path)
    share_weights(root / "fp32.onnx", root / "model" / "model.safetensors", root / "model" / "model.onnx")
    graphs = {}
    for name, path in (("fp32", root / "fp32.onnx"), ("shared", root / "model" / "model.onnx")):
        opts = ort.SessionOptions()
        opts.optimized_model_filepath = str(tmp_path / f"opt-{name}.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        graphs[name] = onnx.load(str(tmp_path / f"opt-{name}.onnx"))
    ops = {k: sorted(n.op_type for n in g.graph.node) for k, g in graphs.items()}
    dtypes = {k: sorted(t.data_type for t in g.graph.initializer) for k, g in graphs.items()}
    # No Cast or Transpose of a weight is left to run at inference, and no fp16 weight stays.
    assert ops["shared"] == ops["fp32"] and dtypes["shared"] == dtypes["fp32"]


def test_weights_that_are_not_exactly_fp16_stay_inside_the_file(fp16_model, tmp_path):
    from safetensors.numpy import load_file, save_file

    root = _copy(fp16_model, tmp_path)
    weights = root / "model" / "model.safetensors"
    # Nudge each tensor by one fp16 step: no fp32 initializer of the ONNX file equals it any more.
    tensors = {k: (v + np.float16(1e-3) * np.sign(v)).astype(np.float16) for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights))
    stats = share_weights(root / "fp32.onnx", weights, root / "model" / "model.onnx")
    assert stats["shared"] == 0
    np.testing.assert_array_equal(
        _logits(root / "model" / "model.onnx", root / "model"), _logits(root / "fp32.onnx", root / "model")
    )


def test_the_file_must_sit_beside_the_weights_and_bad_weights_are_refused_without_writing(fp16_model, tmp_path):
    root = _copy(fp16_model, tmp_path)
    weights = root / "model" / "model.safetensors"
    with pytest.raises(TaskError, match="in the folder of model.safetensors"):
        share_weights(root / "fp32.onnx", weights, root / "shared.onnx")
    assert not (root / "shared.onnx").exists()
    bad = root / "model" / "bad.safetensors"
    for body in (b"not a safetensors file", struct.pack("<Q", 10**12) + b"{}", struct.pack("<Q", 2) + b"[]"):
        bad.write_bytes(body)
        with pytest.raises(TaskError, match="safetensors") as err:
            share_weights(root / "fp32.onnx", bad, root / "model" / "model.onnx")
        assert "Fix:" in str(err.value)
    header = json.dumps({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 4096]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)  # offsets past the end of the file
    with pytest.raises(TaskError, match="data_offsets inside the file"):
        share_weights(root / "fp32.onnx", bad, root / "model" / "model.onnx")
    assert not (root / "model" / "model.onnx").exists()


def test_a_weights_file_resaved_with_another_layout_is_refused_and_one_with_new_values_is_read(fp16_model, tmp_path):
    from safetensors.numpy import load_file, save_file

    root = _copy(fp16_model, tmp_path)
    weights, shared = root / "model" / "model.safetensors", root / "model" / "model.onnx"
    share_weights(root / "fp32.onnx", weights, shared)
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(shared), load_external_data=False).metadata_props}
    assert meta[FILE_KEY] == "model.safetensors"
    check_weights(shared, meta)
    tensors = load_file(str(weights))
    save_file({k: v * np.float16(2) for k, v in tensors.items()}, str(weights), {"format": "pt"})  # new values only
    check_weights(shared, meta)
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(weights), {"format": "pt"})  # offsets move
    with pytest.raises(TaskError, match="another layout"):
        check_weights(shared, meta)
    check_weights(shared, {k: v for k, v in meta.items() if k != LAYOUT_KEY})  # not a shared file: nothing to check
