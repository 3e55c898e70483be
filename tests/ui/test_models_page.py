"""Models page: every version's metrics, plots and comparison, and the zip behind the download button."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.ui.conftest import page


def _version_dir(tmp_path, spec, accuracy: float):
    """A finished artifact directory as the student stage leaves it: metrics, plots, the zip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    d = tmp_path / f"artifact-{accuracy}"
    d.mkdir()
    y_true = [e.label for e in spec.test[:40]]
    y_pred = [y if i % 5 else spec.label_ids[0] for i, y in enumerate(y_true)]
    disp = ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=spec.label_ids)
    disp.figure_.savefig(d / "confusion_matrix.png")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.9, 0.5, 0.3])
    fig.savefig(d / "learning_curve.png")
    plt.close("all")
    metrics = {
        "accuracy": accuracy,
        "macro_f1": accuracy - 0.02,
        "params": 39_400_000,
        "texts_per_second": 120.0,
        "teacher": {"accuracy": 0.75, "macro_f1": 0.74, "params": 268_098_176},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    with zipfile.ZipFile(d / "student.zip", "w") as z:
        z.writestr("model/config.json", json.dumps({"labels": spec.label_ids}))
        z.writestr("metrics.json", json.dumps(metrics))
    return d


def _comparison(at):
    """The teacher-vs-student table (the one with test accuracy per system)."""
    return next(df.value for df in at.dataframe if "test accuracy" in df.value.columns)


@pytest.fixture
def published(workspace, eprstmt_small, tmp_path):
    from dataclasses import replace

    workspace.save_task(replace(eprstmt_small, name="shop"))
    for acc in (0.70, 0.82):
        workspace.publish_model("shop", _version_dir(tmp_path, eprstmt_small, acc))
    return workspace


def test_models_page_without_tasks_points_to_tasks_page(app):
    at = page(app, "models")
    assert any("Tasks" in i.value for i in at.info)


def test_models_page_shows_newest_version_metrics_plots_and_comparison(app, published):
    at = page(app, "models")
    assert at.segmented_control(key="version-shop").value == "v2"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy"] == "82.0%" and metrics["Parameters"] == "39.4M"
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 2 and "true label" in captions[0] and "epoch" in captions[1]
    table = _comparison(at)
    assert list(table.index) == ["student (v2)", "teacher"]
    assert table.loc["teacher", "test accuracy"] == pytest.approx(0.75)
    assert table.loc["student (v2)", "test accuracy"] == pytest.approx(0.82)
    versions = next(df.value for df in at.dataframe if "version" in df.value.columns)
    assert list(versions["version"]) == ["v2", "v1"] and list(versions["accuracy"]) == pytest.approx([0.82, 0.70])
    at.segmented_control(key="version-shop").set_value("v1").run()
    assert {m.label: m.value for m in at.metric}["Accuracy"] == "70.0%"


def test_download_button_serves_the_versions_zip(app, published):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    at = page(app, "models")
    btn = at.download_button[0]
    zip_path = published.model_versions("shop")[-1] / "student.zip"
    assert zip_path.name in btn.label and f"{zip_path.stat().st_size} bytes" in btn.label
    # The media URL is the hash of bytes, type and file name: the button serves exactly the published zip.
    expected = _calculate_file_id(zip_path.read_bytes(), "application/zip", "shop-v2-student.zip")
    assert btn.proto.url.endswith(f"/{expected}.zip")
    with zipfile.ZipFile(zip_path) as z:
        assert "model/config.json" in z.namelist()


@pytest.fixture
def real_versions(workspace, student_export):
    """Two versions published from a real student export, as the production and iteration flows do."""
    spec, export = student_export
    workspace.save_task(spec)
    workspace.publish_model(spec.name, export, extra={"kind": "production", "human_answers": 0})
    workspace.publish_model(spec.name, export, extra={"kind": "iteration", "human_answers": 20})
    return spec


@pytest.mark.integration
def test_real_artifact_version_shows_test_metrics_teacher_and_plots(app, workspace, real_versions):
    at = page(app, "models")
    metrics = json.loads((workspace.model_versions("reviews")[-1] / "reviews-student" / "metrics.json").read_text())
    shown = {m.label: m.value for m in at.metric}
    assert shown["Accuracy"] == f"{100 * metrics['accuracy']:.1f}%"
    assert shown["Latency"].endswith("ms")
    assert any("iteration" in c.value and "20 human answers" in c.value for c in at.caption)
    table = _comparison(at)
    assert list(table.index) == ["student (v2)", "teacher"]
    assert table.loc["teacher", "dev accuracy"] == pytest.approx(0.8125)
    assert table.loc["student (v2)", "test accuracy"] == pytest.approx(metrics["accuracy"])
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 2
    # 40 test texts: the evaluation flags the sample size, and the page shows it above the figures.
    assert metrics["flags"] and any("only 40 test texts" in w.value for w in at.warning)


@pytest.mark.integration
def test_download_and_try_it_use_the_published_zip(app, workspace, real_versions):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    at = page(app, "models")
    zip_path = workspace.model_versions("reviews")[-1] / "reviews-student.zip"
    btn = at.download_button[0]
    expected = _calculate_file_id(zip_path.read_bytes(), "application/zip", "reviews-v2-reviews-student.zip")
    assert btn.proto.url.endswith(f"/{expected}.zip")
    with zipfile.ZipFile(zip_path) as z:
        assert {"reviews-student/onnx/model.int8.onnx", "reviews-student/onnx/model.onnx"} & set(z.namelist())

    at.text_area(key="try-text-v2").set_value("a gripping , beautifully acted film\nthe plot is a mess")
    next(b for b in at.button if b.label == "Classify").click().run()
    assert not at.exception
    rows = at.dataframe[-1].value
    assert list(rows["text"]) == ["a gripping , beautifully acted film", "the plot is a mess"]
    assert set(rows["label"]) <= {"0", "1"} and set(rows["name"]) <= {"negative", "positive"}
    assert rows["score"].between(0.5, 1.0).all()


@pytest.mark.integration
def test_teacher_row_comes_from_the_publishing_runs_teacher(app, workspace, student_export, tmp_path):
    """Versions published by the flows name their run; the teacher saved in that run fills the comparison."""
    import shutil

    spec, export = student_export
    workspace.save_task(spec)
    bare = tmp_path / "export-without-teacher"
    shutil.copytree(export, bare)
    student_json = bare / f"{spec.name}-student" / "student.json"
    meta = json.loads(student_json.read_text())
    meta["teacher"] = {}  # the production flow exports without teacher info
    student_json.write_text(json.dumps(meta))
    run_teacher = workspace.task_dir(spec.name) / "runs" / "pipeline-production-1" / "teacher"
    run_teacher.mkdir(parents=True)
    (run_teacher / "teacher.json").write_text(
        json.dumps({"metrics": {"model": "gemma-3-270m", "mode": "finetune", "dev": {"accuracy": 0.6875, "ece": 0.11}}})
    )
    workspace.publish_model(
        spec.name, bare, extra={"kind": "production", "run": "pipeline-production-1", "human_answers": 0}
    )
    at = page(app, "models")
    table = _comparison(at)
    assert table.loc["teacher", "dev accuracy"] == pytest.approx(0.6875)
    assert table.loc["teacher", "model"] == "gemma-3-270m finetune"
    assert any("run pipeline-production-1" in c.value for c in at.caption)


@pytest.mark.integration
def test_models_page_plots_every_student_kind_the_run_trained(app, workspace, real_versions):
    at = page(app, "models")
    ladder = json.loads((workspace.model_versions("reviews")[-1] / "reviews-student" / "metrics.json").read_text())[
        "ladder"
    ]
    assert [k["kind"] for k in ladder["kinds"]] == ["static", "small"]
    assert any("Student kinds trained" in m.value and ladder["published"] in m.value for m in at.markdown)
    kinds = next(df.value for df in at.dataframe if "ms a text" in df.value.columns)
    assert len(kinds) == 2 and sum("(published)" in k for k in kinds.index) == 1


@pytest.mark.integration
def test_a_file_uploaded_on_the_models_page_is_classified_and_offered_for_download(app, workspace, real_versions):
    at = page(app, "models")
    csv_bytes = b"text\na gripping , beautifully acted film\n\nthe plot is a mess\n"
    at.file_uploader(key="file-reviews-v2").set_value(("reviews.csv", csv_bytes, "text/csv")).run()
    assert not at.exception
    assert any("2 rows classified, 0 skipped" in s.value for s in at.success)
    assert any(b.label == "Download predictions.csv" for b in at.download_button)
    from ui.predict import predict_upload

    data, report = predict_upload(
        str(workspace.model_versions("reviews")[-1] / "reviews-student.zip"), "reviews.csv", csv_bytes
    )
    rows = data.decode("utf-8").splitlines()
    assert rows[0].startswith("line,text,label,score,p_") and len(rows) == 3 and report["predicted"] == 2


@pytest.mark.integration
def test_two_versions_are_compared_on_the_same_uploaded_file(app, workspace, real_versions):
    at = page(app, "models")
    at.file_uploader(key="file-reviews-v2").set_value(
        ("r.csv", b"text\ngreat film\nawful plot\nfine\n", "text/csv")
    ).run()
    at.selectbox(key="file-cmp-reviews-v2").set_value("v1").run()
    assert not at.exception
    # v1 and v2 are the same artifact published twice: they must agree on every row.
    assert any(m.label == "v2 and v1 agree on" and m.value == "100.0%" for m in at.metric)
