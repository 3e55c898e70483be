"""Workspace side of the queue: stable question ids, the water level, the label config."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from factory.errors import TaskError
from factory.spec import Label
from pipelines import labelstudio, queue


def _answers(n):
    return [
        {
            "factory_id": f"q{i}",
            "ls_task_id": i,
            "text": f"text {i}",
            "label": "Positive",
            "annotated_at": f"2026-01-01T00:00:{i:02d}",
        }
        for i in range(n)
    ]


def test_question_id_is_stable_and_scoped_to_the_task():
    assert queue.question_id("a", "好评") == queue.question_id("a", "好评")
    assert queue.question_id("a", "好评") != queue.question_id("b", "好评")
    assert queue.question_id("a", "好评") != queue.question_id("a", "差评")


def test_water_level_counts_answers_since_the_last_iteration(workspace, eprstmt_small):
    workspace.save_task(replace(eprstmt_small, water_level=3))
    queue.write_answers(workspace, "eprstmt", _answers(2))
    assert queue.water_level("eprstmt", workspace)["reached"] is False
    queue.write_answers(workspace, "eprstmt", _answers(4))
    level = queue.water_level("eprstmt", workspace)
    assert (level["new"], level["reached"], level["announced"]) == (4, True, False)
    queue.write_state(workspace, "eprstmt", emitted_at=4)
    assert queue.water_level("eprstmt", workspace)["announced"] is True
    # An iteration consumed the 4 answers: the level starts again from there.
    queue.write_state(workspace, "eprstmt", consumed=4)
    queue.write_answers(workspace, "eprstmt", _answers(6))
    level = queue.water_level("eprstmt", workspace)
    assert (level["new"], level["reached"], level["announced"]) == (2, False, False)


def test_pushed_ledger_merges_by_question_id(workspace, eprstmt_small):
    workspace.save_task(eprstmt_small)
    queue.record_pushed(workspace, "eprstmt", [{"factory_id": "a", "score": 0.5}, {"factory_id": "b", "score": 0.6}])
    queue.record_pushed(workspace, "eprstmt", [{"factory_id": "a", "score": 0.7}])
    assert {r["factory_id"]: r["score"] for r in queue.read_pushed(workspace, "eprstmt")} == {"a": 0.7, "b": 0.6}


def test_label_config_escapes_names_and_stores_ids(eprstmt_small):
    spec = replace(eprstmt_small, labels=[Label("pos", 'good "&" <fine>'), Label("neg", "bad", description="not good")])
    root = ET.fromstring(labelstudio.label_config(spec))
    choices = root.find("Choices").findall("Choice")
    assert [(c.get("value"), c.get("alias")) for c in choices] == [('good "&" <fine>', "pos"), ("bad", "neg")]
    assert choices[1].get("hint") == "not good"
    assert root.find("Choices").get("choice") == "single"


def test_long_task_names_fit_label_studio_title_limit():
    name = "x" * 64
    title = labelstudio.project_title(name)
    assert len(title) <= 50 and title != labelstudio.project_title("x" * 63)


def test_water_level_skips_a_task_with_a_damaged_task_json_and_logs_it(workspace, eprstmt_small, caplog):
    from pipelines import waterlevel

    workspace.save_task(replace(eprstmt_small, water_level=1))
    queue.write_answers(workspace, "eprstmt", _answers(3))
    meta = workspace.task_dir("eprstmt") / "task.json"
    meta.write_text(meta.read_text()[:30])
    with caplog.at_level("WARNING", logger="pipelines.queue"):
        level = waterlevel.check_and_emit("eprstmt", workspace)  # never reaches Prefect: nothing is emitted
    assert level["reached"] is False and level["answers"] == 3 and "task.json" in level["skipped"]
    assert any("'eprstmt' skipped" in r.getMessage() for r in caplog.records)


def test_an_answer_for_a_task_whose_task_json_lost_its_labels_is_refused_clearly(workspace, eprstmt_small):
    workspace.save_task(eprstmt_small)
    meta = workspace.task_dir("eprstmt") / "task.json"
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "labels"}))
    with pytest.raises(TaskError, match="a task.json listing the task's labels") as err:
        labelstudio.submit_answer("eprstmt", 1, "Positive", workspace)  # refused before Label Studio is contacted
    assert "Fix:" in str(err.value)
    meta.write_text("{")
    with pytest.raises(TaskError, match="a readable task.json"):
        labelstudio.submit_answer("eprstmt", 1, "Positive", workspace)


def _queued_task(ws, spec, name, *, answered, pushed=3, published=True, water_level=20):
    """A task with ``pushed`` questions in Label Studio, the first ``answered`` of them answered in the mirror."""
    ws.save_task(replace(spec, name=name, water_level=water_level))
    queue.record_pushed(ws, name, [{"factory_id": f"q{i}", "text": f"text {i}"} for i in range(pushed)])
    queue.write_answers(ws, name, _answers(answered))
    if published:
        (ws.models_dir(name) / "v1").mkdir(parents=True)


def test_sync_selects_only_published_tasks_with_open_questions(workspace, eprstmt_small):
    _queued_task(workspace, eprstmt_small, "open", answered=1)
    _queued_task(workspace, eprstmt_small, "done", answered=3)
    _queued_task(workspace, eprstmt_small, "no-model", answered=0, published=False)
    workspace.save_task(replace(eprstmt_small, name="never-asked"))
    assert queue.open_questions(workspace, "open") == 2 and queue.open_questions(workspace, "done") == 0
    assert queue.tasks_to_sync(workspace) == {"open": "open questions"}


def test_an_unclear_answer_closes_its_question_for_the_sync(workspace, eprstmt_small):
    _queued_task(workspace, eprstmt_small, "unclear", answered=2, pushed=3)
    rows = _answers(3)
    rows[2].update(label=labelstudio.UNCLEAR, unclear=True)
    queue.write_answers(workspace, "unclear", rows)
    assert queue.tasks_to_sync(workspace) == {}


def test_sync_still_selects_a_task_whose_reached_water_level_is_not_announced(workspace, eprstmt_small):
    # The UI mirrors answers at once: the last open question can close before the sync announced the level.
    _queued_task(workspace, eprstmt_small, "full", answered=3, water_level=3)
    assert queue.tasks_to_sync(workspace) == {"full": "water level"}
    queue.write_state(workspace, "full", emitted_at=3)
    assert queue.tasks_to_sync(workspace) == {}


def test_sync_selection_skips_a_task_with_a_damaged_queue_and_keeps_the_others(workspace, eprstmt_small, caplog):
    _queued_task(workspace, eprstmt_small, "broken", answered=0)
    _queued_task(workspace, eprstmt_small, "open", answered=0)
    (workspace.queue_dir("broken") / queue.ANSWERS).write_text("{not json\n")
    with caplog.at_level("WARNING", logger="pipelines.queue"):
        assert queue.tasks_to_sync(workspace) == {"open": "open questions"}
    assert any("'broken' skipped" in r.getMessage() for r in caplog.records)


def test_answers_an_iteration_trained_on_never_count_as_new_even_when_rows_move(tmp_path):
    from factory.workspace import Workspace
    from pipelines import queue

    ws = Workspace(tmp_path / "ws2")
    rows = [
        {"factory_id": f"q{i}", "label": "pos", "text": f"t{i}", "annotated_at": f"2026-12-02T10:0{i}"}
        for i in range(3)
    ]
    queue.write_answers(ws, "t", rows)
    queue.mark_consumed(ws, "t", rows)
    # An answer older than the consumed ones arrives late (sorted before them), and one consumed answer is undone.
    late = {"factory_id": "q9", "label": "neg", "text": "t9", "annotated_at": "2026-12-02T09:00"}
    queue.write_answers(ws, "t", [late] + rows[1:])
    assert queue.water_level("t", ws)["new"] == 1
    # The same question answered differently is a new answer.
    queue.write_answers(ws, "t", [late] + rows[1:] + [{**rows[0], "label": "neg", "annotated_at": "2026-12-02T11:00"}])
    assert queue.water_level("t", ws)["new"] == 2
