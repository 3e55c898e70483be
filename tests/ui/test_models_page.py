"""Models page: every version's metrics, plots and comparison, and the zip behind the download button."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
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


@pytest.fixture
def deferred_downloads(monkeypatch):
    """The data callables download buttons register, by file name: what a click would serve, read on demand."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    seen = {}
    register = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = (data_callable, mimetype)
        return register(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def test_download_button_serves_the_versions_zip_without_reading_it_on_render(app, published, deferred_downloads):
    at = page(app, "models")
    btn = at.download_button[0]
    zip_path = published.model_versions("shop")[-1] / "student.zip"
    assert zip_path.name in btn.label and f"{zip_path.stat().st_size} bytes" in btn.label
    # Deferred: the page registers a reader and no media URL; the bytes are read when the user clicks.
    assert btn.proto.HasField("deferred_file_id") and btn.proto.url == ""
    read, mime = deferred_downloads["shop-v2-student.zip"]
    assert mime == "application/zip" and read() == zip_path.read_bytes()
    with zipfile.ZipFile(zip_path) as z:
        assert "model/config.json" in z.namelist()


def test_versions_table_shows_each_versions_change_from_the_one_before(app, published):
    at = page(app, "models")
    versions = next(df.value for df in at.dataframe if "Δ accuracy" in df.value.columns)
    assert list(versions["version"]) == ["v2", "v1"]
    assert versions["Δ accuracy"][0] == pytest.approx(12.0) and pd.isna(versions["Δ accuracy"][1])
    assert versions["Δ macro-F1"][0] == pytest.approx(12.0)


def _diagnosed_version_dir(tmp_path, spec, test_total: int):
    """A version evaluated since predictions are saved: per-label figures, predictions.jsonl, named labels, and
    40 test texts of the ``test_total`` the run's intake capped."""
    from sklearn.metrics import accuracy_score, classification_report

    d = _version_dir(tmp_path, spec, 0.9)
    neg, pos = spec.label_ids
    rows = []
    for i, e in enumerate(spec.test[:40]):
        # Mistakes in both directions, each with its own confidence, so order and filters can be checked.
        predicted = neg if i % 5 == 0 else pos if i % 7 == 0 else e.label
        conf = round(0.5 + i / 100, 2)
        probs = {predicted: conf, (pos if predicted == neg else neg): round(1 - conf, 2)}
        rows.append({"text": e.text, "gold": e.label, "predicted": predicted, "confidence": conf, "probs": probs})
    (d / "predictions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    y_true, y_pred = [r["gold"] for r in rows], [r["predicted"] for r in rows]
    report = classification_report(y_true, y_pred, labels=spec.label_ids, output_dict=True, zero_division=0)
    metrics = json.loads((d / "metrics.json").read_text())
    metrics.update(
        n=40,
        test_total=test_total,
        accuracy=accuracy_score(y_true, y_pred),
        per_class={lab: report[lab] for lab in spec.label_ids},
        predictions_jsonl=str(d / "predictions.jsonl"),
    )
    metrics["teacher"]["n"] = 40
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "student.json").write_text(json.dumps({"label_ids": [neg, pos], "label_names": ["差评", "好评"]}))
    return d, rows


@pytest.fixture
def diagnosed(workspace, eprstmt_small, tmp_path):
    """Task "shop": v1 published before predictions were saved, v2 with them (40 of 610 test texts)."""
    from dataclasses import replace

    workspace.save_task(replace(eprstmt_small, name="shop"))
    workspace.publish_model("shop", _version_dir(tmp_path, eprstmt_small, 0.70))
    d, rows = _diagnosed_version_dir(tmp_path, eprstmt_small, test_total=610)
    workspace.publish_model("shop", d)
    return rows


def _table_with(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_per_label_table_shows_every_label_by_name_with_its_support(app, diagnosed):
    at = page(app, "models")
    table = _table_with(at, "support")
    assert list(table["label"]) == ["差评", "好评"] and list(table["id"]) == ["Negative", "Positive"]
    gold = [r["gold"] for r in diagnosed]
    assert list(table["support"]) == [gold.count("Negative"), gold.count("Positive")]
    assert table[["precision", "recall", "F1"]].notna().all().all()


def test_misclassified_table_lists_only_mistakes_confident_first_and_filters_narrow_it(app, diagnosed):
    at = page(app, "models")
    wrong = [r for r in diagnosed if r["gold"] != r["predicted"]]
    names = {"Negative": "差评", "Positive": "好评"}
    table = _table_with(at, "p(gold)")
    assert len(table) == len(wrong) and (table["gold"] != table["predicted"]).all()
    assert list(table["confidence"]) == sorted((r["confidence"] for r in wrong), reverse=True)
    assert any(f"{len(wrong)} of the {len(wrong)} mistakes on 40 test texts" in c.value for c in at.caption)

    at.selectbox(key="wrong-gold-shop-v2").set_value("Positive").run()
    narrowed = _table_with(at, "p(gold)")
    expected = [r for r in wrong if r["gold"] == "Positive"]
    assert 0 < len(narrowed) < len(wrong) and len(narrowed) == len(expected)
    assert set(narrowed["gold"]) == {names["Positive"]}

    needle = expected[0]["text"][:6]
    at.text_input(key="wrong-search-shop-v2").set_value(needle).run()
    searched = _table_with(at, "p(gold)")
    assert len(searched) >= 1 and all(needle in t for t in searched["text"])


def test_version_published_before_predictions_were_saved_shows_a_note(app, diagnosed):
    at = page(app, "models")
    at.segmented_control(key="version-shop").set_value("v1").run()
    assert not at.exception
    assert any("no saved test predictions" in c.value for c in at.caption)
    assert not any("p(gold)" in df.value.columns for df in at.dataframe)
    assert any("No per-label figures" in c.value for c in at.caption)


def test_every_test_figure_says_how_many_texts_it_was_measured_on(app, diagnosed):
    at = page(app, "models")
    assert any(c.value == "Accuracy and macro-F1 on 40 of 610 test texts." for c in at.caption)
    assert next(m for m in at.metric if m.label == "Accuracy").help == "on 40 of 610 test texts"
    table = _comparison(at)
    assert (
        table.loc["teacher", "test figures on"]
        == table.loc["student (v2)", "test figures on"]
        == "40 of 610 test texts"
    )
    assert _table_with(at, "Δ accuracy")["test texts"][0] == 40


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
    assert any(c.value == "Accuracy and macro-F1 on 40 test texts." for c in at.caption)
    per_label = _table_with(at, "support")
    assert list(per_label["label"]) == ["negative", "positive"] and per_label["support"].sum() == 40
    # The evaluation's predictions reached the version (listed in its manifest) but not the shareable artifact.
    version = workspace.model_versions("reviews")[-1]
    folder = version / "reviews-student"
    assert metrics["predictions_jsonl"] == "predictions.jsonl"
    assert "predictions.jsonl" not in json.loads((folder / "MANIFEST.json").read_text())["files"]
    assert not (folder / "predictions.jsonl").exists()
    assert "predictions.jsonl" in json.loads((version / "MANIFEST.json").read_text())["files"]
    predictions = [json.loads(line) for line in (version / "predictions.jsonl").read_text().splitlines()]
    wrong = sum(r["gold"] != r["predicted"] for r in predictions)
    assert len(predictions) == 40 and wrong == round(40 * (1 - metrics["accuracy"]))
    if wrong:
        assert len(_table_with(at, "p(gold)")) == wrong
    else:
        assert any("No mistakes on the 40 test texts" in c.value for c in at.caption)


@pytest.mark.integration
def test_download_and_try_it_use_the_published_zip(app, workspace, real_versions, deferred_downloads):
    at = page(app, "models")
    zip_path = workspace.model_versions("reviews")[-1] / "reviews-student.zip"
    read, _ = deferred_downloads["reviews-v2-reviews-student.zip"]
    assert read() == zip_path.read_bytes()
    with zipfile.ZipFile(zip_path) as z:
        onnx = {f"reviews-student/{f}" for f in ("onnx/model.int8.onnx", "onnx/model.onnx", "model/model.onnx")}
        assert onnx & set(z.namelist())

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
