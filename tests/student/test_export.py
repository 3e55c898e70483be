"""The exported zip: plain transformers and onnxruntime agree, int8 tracks fp32, manifest checks out, CLI predicts."""

from __future__ import annotations

import json
import zipfile

import pytest

from factory.atomic import verify_manifest
from student import DistillConfig, DistillData, distill, evaluate, export_artifact, load_student


def _train_and_export(student: str, spec, root, **cfg):
    soft = [(e.text, (0.2, 0.8) if ("好" in e.text) else (0.75, 0.25)) for e in spec.unlabeled[:96]]
    data = DistillData.from_spec(spec, soft=soft)
    data.dev = data.dev[:16]
    art = distill(data, DistillConfig(student=student, batch_size=16, max_length=64, **cfg), out_dir=root / "run")
    metrics = evaluate(art, spec.test[:40], root / "eval", speed_texts=8)
    return export_artifact(art, spec, root / "export", metrics=metrics, teacher_info={"model": "test"})


@pytest.fixture(scope="module")
def exported(tiny_bert, eprstmt_spec, tmp_path_factory):
    return _train_and_export(str(tiny_bert), eprstmt_spec, tmp_path_factory.mktemp("export"), epochs=3, lr=1e-3)


def _pipeline_labels(model_dir, texts):
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(model_dir))
    return [r["label"] for r in clf(texts, batch_size=16, truncation=True, max_length=64)]


def test_zip_holds_model_onnx_card_metrics_and_a_verified_manifest(exported, tmp_path):
    with zipfile.ZipFile(exported) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
        zf.extractall(tmp_path)
    for need in ("model/config.json", "model/model.safetensors", "model/tokenizer.json", "onnx/model.onnx", "onnx/model.int8.onnx", "README.md", "metrics.json", "MANIFEST.json", "confusion_matrix.png", "learning_curve.png"):
        assert need in names
    folder = tmp_path / exported.stem
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert set(manifest["files"]) == names - {"MANIFEST.json"}
    assert verify_manifest(folder) == []
    card = (folder / "README.md").read_text()
    assert "Parameters" in card and "Accuracy" in card and "Intended use" in card


def test_plain_transformers_and_onnxruntime_give_the_same_labels(exported, fixture_texts):
    onnx = load_student(exported, backend="onnx", quantized=False)
    assert _pipeline_labels(onnx.model_dir, fixture_texts) == [r["label"] for r in onnx.predict(fixture_texts)]


def test_int8_model_agrees_with_fp32_on_at_least_98_percent(exported, fixture_texts):
    fp32 = [r["label"] for r in load_student(exported, quantized=False).predict(fixture_texts)]
    int8 = [r["label"] for r in load_student(exported, quantized=True).predict(fixture_texts)]
    agree = sum(a == b for a, b in zip(fp32, int8)) / len(fp32)
    assert agree >= 0.98


def test_load_student_predicts_label_ids_with_scores(exported):
    out = load_student(exported).predict(["质量很好，很满意", "太差了，退货"])
    assert [set(r) for r in out] == [{"label", "score"}] * 2
    assert all(r["label"] in ("Negative", "Positive") and 0.5 <= r["score"] <= 1 for r in out)


def test_predict_command_prints_json_predictions(exported):
    import typer
    from typer.testing import CliRunner

    from factory.commands.predict import predict

    app = typer.Typer()
    app.command()(predict)
    res = CliRunner().invoke(app, [str(exported), "--text", "很好", "--text", "很差", "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["ok"] and [p["text"] for p in body["predictions"]] == ["很好", "很差"]
    bad = CliRunner().invoke(app, [str(exported.parent / "missing.zip"), "--text", "x", "--json"])
    assert bad.exit_code == 1 and "does not exist" in json.loads(bad.output)["error"]


@pytest.mark.integration
def test_derived_student_exports_to_onnx_that_matches_transformers(tiny_gemma, eprstmt_spec, tmp_path, fixture_texts):
    zip_path = _train_and_export("derived", eprstmt_spec, tmp_path, derive_from=str(tiny_gemma), layers=2, layer_selection="first", epochs=1)
    onnx = load_student(zip_path, quantized=False)
    texts = fixture_texts[:60] + ["从没见过的字：𪚥 🍉"]
    assert _pipeline_labels(onnx.model_dir, texts) == [r["label"] for r in onnx.predict(texts)]
    meta = json.loads((onnx.root / "student.json").read_text())
    assert meta["kind"] == "derived" and meta["student_info"]["layers"] == [0, 1]
