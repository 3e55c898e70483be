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
    counts = at.table[0].value
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
    assert "shop" in [s.value for s in app.subheader]


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
    assert [s.value for s in at.subheader] == ["damaged", "fine"]
    assert any("8 gold" in c.value for c in at.caption)
    assert any(m.value.startswith(":red-badge[") and "broken" in m.value for m in at.markdown)
    assert not any(b.key.endswith("-damaged") for b in at.button if b.key)  # a broken task offers no Run
    (banner,) = [e.value for e in at.error if "damaged" in e.value]
    assert "broken" in banner and "task.json" in banner
    # The fix names the page's control, not the command line's flag.
    assert "tick 'Replace the existing task'" in banner and "--overwrite" not in banner
    assert at.selectbox(key="check-task").options == ["fine"]  # data checks only offer tasks that load


# -- page words, the task list, the pool -------------------------------------------


def _two_label_task(workspace, name: str, labels=("A", "B"), pool: int = 0):
    from factory.spec import Example, Label, TaskSpec

    gold = [Example(f"{lab} text {i}", lab, f"l{j}-{i}") for j, lab in enumerate(labels) for i in range(4)]
    unlabeled = [Example(f"pool text {i}", None, f"u{i}") for i in range(pool)]
    labs = [Label(lab, lab) for lab in labels]
    workspace.save_task(TaskSpec(name, "en", labs, gold, unlabeled=unlabeled))


def _created_ago(workspace, name: str, seconds: float) -> None:
    import time

    path = workspace.task_dir(name) / "task.json"
    meta = json.loads(path.read_text())
    meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - seconds))
    path.write_text(json.dumps(meta))


def test_reader_errors_on_the_page_give_the_fix_in_page_words_not_flags(app, workspace):
    import re

    body = '{"sentence": "good", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'
    at = _upload(app, "up-train", "mixed.jsonl", body.encode(), "application/json")
    at.selectbox(key="map-text").set_value("sentence").run()
    text = "\n".join(_errors(at))
    assert "mixed.jsonl line 2" in text
    assert "pick the text column in 'Text column'" in text
    assert not re.search(r"--[a-z]", text)


def test_data_warnings_in_the_upload_preview_name_the_page_controls_not_flags(app, workspace, gold_csv):
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    # The gold file uploaded again as the pool: the warning used to say "passed as --unlabeled".
    at.file_uploader(key="up-unlabeled").set_value(("reviews.csv", gold_csv, "text/csv"))
    at.selectbox(key="map-label").set_value("sentiment").run()
    warnings = " ".join(w.value for w in at.warning)
    assert "was the gold file also uploaded as the 'Unlabeled set'?" in warnings
    assert "'Unlabeled set' under 'More files'" in warnings
    assert "--unlabeled" not in warnings


def test_upload_preview_warns_when_there_is_no_unlabeled_pool(app, workspace, gold_csv, eprstmt_spec):
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    at.selectbox(key="map-label").set_value("sentiment").run()
    assert any(w.value.startswith("No unlabeled pool:") and "can't ask questions" in w.value for w in at.warning)
    pool = _csv([{"review": e.text} for e in eprstmt_spec.unlabeled[:50]], ["review"])
    at = _upload(at, "up-unlabeled", "pool.csv", pool)
    assert not _errors(at)
    assert not any("No unlabeled pool" in w.value for w in at.warning)


def test_upload_preview_shows_each_label_name_in_full(app, workspace):
    long = "a label name long enough that a dataframe cell would cut it off somewhere in the middle of it"
    rows = [{"text": f"text {i}", "label": long if i % 2 else "short"} for i in range(16)]
    at = _upload(app, "up-train", "long.csv", _csv(rows, ["text", "label"]))
    counts = at.table[0].value
    assert counts.loc[long, "name"] == long and counts.loc[long, "gold"] == 8


def test_task_list_shows_full_label_names_when_it_was_created_and_a_missing_pool(app, workspace):
    long = "a label name long enough to wrap onto a second line in the task list card of the page"
    _two_label_task(workspace, "nopool", labels=(long, "short one"))
    _two_label_task(workspace, "pooled", pool=5)
    _created_ago(workspace, "nopool", 3 * 3600 + 60)
    _created_ago(workspace, "pooled", 30 * 86400)
    at = app.run()
    assert not at.exception
    assert any(m.value == f"**Labels (2):** {long} · short one" for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert any("8 gold" in c and "created 3 h ago" in c for c in captions)
    assert any("5 unlabeled" in c and "created on " in c and "ago" not in c for c in captions)
    (no_pool,) = [w.value for w in at.warning if w.value.startswith("No pool:")]  # only the task without one
    assert "can't ask questions or learn from unlabeled texts" in no_pool and "add one" in no_pool


@pytest.mark.parametrize(
    "action,page,title", [("Run", "runs", "Runs"), ("Label", "label", "Label"), ("Models", "models", "Models")]
)
def test_a_task_s_action_opens_that_page_with_the_task_selected(app, workspace, monkeypatch, action, page, title):
    # No services: each page then says how to start them, which is all this test needs to see.
    for var in ("PREFECT_API_URL", "FACTORY_LS_URL", "FACTORY_LS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for name in ("first", "second"):
        _two_label_task(workspace, name)
    at = app.run()
    (button,) = [b for b in at.button if b.key == f"go-{page}-second"]
    assert button.label == action
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["task"] == "second"
    assert at.title[0].value == title
    assert at.selectbox(key="picker-task").value == "second"  # not the first task, the picker's default


def test_replace_the_existing_task_recreates_a_broken_task_from_the_page(app, workspace, gold_csv):
    _two_label_task(workspace, "reviews")
    meta = workspace.task_dir("reviews") / "task.json"
    meta.write_text(meta.read_text()[:25])
    at = _upload(app, "up-train", "reviews.csv", gold_csv)
    at.selectbox(key="map-label").set_value("sentiment").run()
    at.text_input(key="name-up").set_value("reviews").run()
    assert any("already exists" in e for e in _errors(at))
    at.checkbox(key="replace-up").check().run()
    assert not any("already exists" in e for e in _errors(at))
    at.button(key="create-up").click().run()
    assert not at.exception
    assert workspace.broken_tasks() == {}
    assert len(workspace.load_task("reviews").gold) == 32
