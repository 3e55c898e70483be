"""Tasks page: uploads go through the CLI's intake validation; bad files create nothing."""

from __future__ import annotations

import csv
import io
import json

import pytest


def _csv(rows: list[dict], fields: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@pytest.fixture
def gold_csv(eprstmt_spec) -> bytes:
    """EPRSTMT's real train_0 as a CSV with user-chosen column names."""
    return _csv([{"review": e.text, "sentiment": e.label} for e in eprstmt_spec.gold], ["review", "sentiment"])


def _upload(at, key: str, name: str, data: bytes, mime: str = "text/csv"):
    at.file_uploader(key=key).set_value((name, data, mime))
    return at.run()


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_upload_good_csv_maps_columns_previews_and_creates_task(app, workspace, gold_csv, eprstmt_spec):
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    assert at.selectbox(key="map-text").value == "review"  # guessed from the header
    at.selectbox(key="map-label").set_value("sentiment").run()
    at.text_input(key="name-up").set_value("reviews").run()
    assert not _errors(at)
    assert any("All checks passed" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Gold"] == "32" and metrics["Labels"] == "2"
    counts = at.dataframe[0].value
    assert counts.loc["Positive", "gold"] == sum(e.label == "Positive" for e in eprstmt_spec.gold)
    assert workspace.list_tasks() == []  # preview writes nothing
    at.button(key="create-up").click().run()
    assert not at.exception
    assert workspace.list_tasks() == ["reviews"]
    spec = workspace.load_task("reviews")
    assert [e.text for e in spec.gold] == [e.text for e in eprstmt_spec.gold]
    assert any("reviews" in s.value and "created" in s.value for s in at.success)


def test_upload_rejects_bad_file_with_every_error_and_creates_nothing(app, workspace, eprstmt_spec):
    rows = [{"text": e.text, "label": e.label} for e in eprstmt_spec.gold[:6]]
    rows[2]["text"] = "   "  # an empty text
    bad_gold = _csv(rows, ["text", "label"])
    bad_pool = b'{"text": "ok"}\n{not json}\n'
    at = _upload(app, "up-train", "gold.csv", bad_gold)
    at.file_uploader(key="up-unlabeled").set_value(("pool.jsonl", bad_pool, "application/json"))
    at.text_input(key="name-up").set_value("../escape").run()
    errors = _errors(at)
    text = "\n".join(errors)
    assert "task name" in text and "../escape" in text
    assert "gold.csv line 4" in text and "non-empty text" in text
    assert "pool.jsonl line 2" in text and "malformed JSON" in text
    assert "How to fix" in text
    assert at.button(key="create-up-disabled").disabled
    assert workspace.list_tasks() == [] and not (workspace.root / "tasks").exists()


def test_upload_over_size_limit_is_refused_in_plain_words(app, workspace, gold_csv, monkeypatch):
    import ui.upload

    monkeypatch.setattr(ui.upload, "UPLOAD_MAX_BYTES", 1024)
    at = _upload(app, "up-train", "big.csv", gold_csv)
    text = "\n".join(_errors(at))
    assert "at most 1.0 KiB" in text  # the limit is stated in a readable unit
    assert "big.csv" in text and "upload a sample" in text
    assert workspace.list_tasks() == []


def test_upload_with_unknown_label_in_test_file_names_row(app, workspace, eprstmt_spec):
    gold = _csv([{"text": e.text, "label": e.label} for e in eprstmt_spec.gold], ["text", "label"])
    test = _csv([{"text": "质量一般", "label": "Neutral"}], ["text", "label"])
    at = _upload(app, "up-train", "gold.csv", gold)
    at = _upload(at, "up-test", "test.csv", test)
    text = "\n".join(_errors(at))
    assert "Neutral" in text and "test" in text
    assert workspace.list_tasks() == []


def test_bundled_sample_creates_fewclue_task(app, workspace):
    app.radio(key="source").set_value("Bundled sample").run()
    app.selectbox(key="sample").set_value("eprstmt").run()
    app.toggle(key="sample-pool").set_value(False).run()
    app.text_input(key="name-sample-eprstmt").set_value("shop").run()
    app.button(key="create-sample").click().run()
    assert not app.exception and not _errors(app)
    spec = workspace.load_task("shop")
    assert spec.counts()["gold"] == 32 and spec.counts()["unlabeled"] == 0 and spec.counts()["test"] == 610
    assert json.loads((workspace.task_dir("shop") / "intake.json").read_text())["fmt"] == "fewclue"
    # The new task is listed and selected for the other pages.
    assert app.session_state["task"] == "shop"
    assert "shop" in app.dataframe[-1].value["task"].tolist()


def test_duplicate_task_name_is_reported_not_overwritten(app, workspace):
    for _ in range(2):
        app.radio(key="source").set_value("Bundled sample").run()
        app.toggle(key="sample-pool").set_value(False).run()
        app.button(key="create-sample").click().run()
    assert any("already exists" in e for e in _errors(app))
    assert workspace.list_tasks() == ["eprstmt"]


def test_upload_jsonl_guesses_sentence_column_and_detects_language(app, workspace, eprstmt_spec):
    body = "".join(
        json.dumps({"id": i, "sentence": e.text, "label": e.label}, ensure_ascii=False) + "\n"
        for i, e in enumerate(eprstmt_spec.gold)
    )
    at = _upload(app, "up-train", "shop reviews.jsonl", body.encode("utf-8"), "application/json")
    assert at.selectbox(key="map-text").value == "sentence" and at.selectbox(key="map-label").value == "label"
    assert at.text_input(key="name-up").value == "shop-reviews"
    assert not _errors(at)
    assert any("Language: **zh**" in c.value for c in at.caption)
    at.button(key="create-up").click().run()
    assert workspace.load_task("shop-reviews").language == "zh"


def test_upload_preview_shows_data_warnings_with_their_fix(app, workspace):
    rows = [{"text": f"good {i}", "label": "a"} for i in range(12)] + [{"text": "bad one", "label": "b"}]
    at = _upload(app, "up-train", "skewed.csv", _csv(rows, ["text", "label"]))
    at.text_input(key="name-up").set_value("skewed").run()
    warnings = [w.value for w in at.warning]
    assert any("fewer than 4 gold examples: b (1)" in w and "Fix:" in w for w in warnings)
    assert any("imbalanced" in w for w in warnings)


def test_stored_tasks_show_their_data_warnings_before_a_run(app, workspace):
    from factory.spec import Example, Label, TaskSpec

    gold = [Example(f"good {i}", "a", f"a{i}") for i in range(9)] + [Example("bad", "b", "b0")]
    workspace.save_task(TaskSpec("skew", "en", [Label("a", "A"), Label("b", "B")], gold))
    at = app.run()
    at.selectbox(key="check-task").set_value("skew").run()
    assert not at.exception
    assert any("fewer than 4 gold examples: b (1)" in w.value for w in at.warning)


def test_upload_of_a_fewclue_file_picks_the_label_name_column_not_the_ids(app, eprstmt_spec):
    rows = [
        {"id": i, "sentence": e.text, "label": str(100 + i % 2), "label_desc": e.label}
        for i, e in enumerate(eprstmt_spec.gold)
    ]
    at = _upload(app, "up-train", "fewclue.csv", _csv(rows, ["id", "sentence", "label", "label_desc"]))
    assert at.selectbox(key="map-text").value == "sentence"
    assert at.selectbox(key="map-label").value == "label_desc"


def test_a_taken_task_name_is_reported_before_all_checks_pass_and_a_free_one_is_proposed(
    app, workspace, gold_csv, eprstmt_spec
):
    from dataclasses import replace

    workspace.save_task(replace(eprstmt_spec, name="reviews"))
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    assert at.text_input(key="name-up").value == "reviews-2"  # the file's name is taken: the next free one
    at.selectbox(key="map-label").set_value("sentiment").run()
    at.text_input(key="name-up").set_value("reviews").run()
    errors = " ".join(_errors(at))
    assert "already exists" in errors and "type another name in 'Task name'" in errors
    assert "--overwrite" not in errors  # page words, not command-line flags
    assert not any("All checks passed" in s.value for s in at.success)
    assert at.button(key="create-up-disabled").disabled
    assert len(workspace.load_task("reviews").gold) == len(eprstmt_spec.gold)


def test_the_upload_form_is_empty_again_after_a_create(app, workspace, gold_csv):
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    at.selectbox(key="map-label").set_value("sentiment").run()
    at.button(key="create-up").click().run()
    assert workspace.list_tasks() == ["reviews"]
    assert not _errors(at)  # the created task's name is not reported as taken by the stale form
    assert any("Upload a CSV" in i.value for i in at.info)
    assert not any(b.key == "create-up" for b in at.button)


def test_a_task_with_a_truncated_task_json_is_listed_as_broken_and_the_page_still_works(app, workspace):
    from factory.spec import Example, Label, TaskSpec

    gold = [Example(f"good {i}", "a", f"a{i}") for i in range(4)] + [
        Example(f"bad {i}", "b", f"b{i}") for i in range(4)
    ]
    for name in ("fine", "damaged"):
        workspace.save_task(TaskSpec(name, "en", [Label("a", "A"), Label("b", "B")], gold))
    meta = workspace.task_dir("damaged") / "task.json"
    meta.write_text(meta.read_text()[:25])  # a write cut short
    at = app.run()
    assert not at.exception, [e.value for e in at.exception]
    rows = at.dataframe[-1].value.set_index("task")
    assert rows.loc["fine", "status"] == "ok" and rows.loc["fine", "gold"] == 8
    assert rows.loc["damaged", "status"] == "broken" and "task.json" in rows.loc["damaged", "problem"]
    assert any("damaged" in e.value and "broken" in e.value and "--overwrite" in e.value for e in at.error)
    assert at.selectbox(key="check-task").options == ["fine"]  # data checks only offer tasks that load
