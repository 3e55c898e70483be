"""Annotation queues against a real Label Studio server (started once per session)."""

from __future__ import annotations

import stat

import pytest

from factory.errors import TaskError
from pipelines import labelstudio, lsserver, queue
from pipelines.annotator import SimulatedAnnotator

pytestmark = pytest.mark.integration


def _rows(spec, n, conf=0.6):
    """Questions as the teacher task writes them: pool texts with label probabilities."""
    return [
        {"text": e.text, "probs": [conf, 1 - conf] if i % 2 else [1 - conf, conf]}
        for i, e in enumerate(spec.unlabeled[:n])
    ]


def _project_tasks(spec):
    client = labelstudio.ls_client()
    pid = labelstudio.find_project(client, spec.name)
    return list(client.tasks.list(project=pid, fields="all"))


def test_bootstrap_keeps_credentials_and_token_private(services_ws, label_studio):
    for p in (
        lsserver.credentials_path(services_ws),
        lsserver.token_path(services_ws),
        lsserver.secret_key_path(services_ws),
    ):
        assert p.is_file()
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    token = lsserver.token_path(services_ws).read_text().strip()
    password = __import__("json").loads(lsserver.credentials_path(services_ws).read_text())["password"]
    log = open(label_studio.log, encoding="utf-8", errors="replace").read()
    assert token not in log and password not in log
    # Label Studio signs with the factory's key: it generated none of its own.
    assert "Will generate a random key" not in log
    # The token is a working personal access token.
    assert labelstudio.ls_client(services_ws).users.whoami().email == lsserver.ADMIN_EMAIL


def test_push_twice_creates_each_question_once_with_teacher_prediction(ls_task):
    rows = _rows(ls_task, 5)
    first = labelstudio.push_questions(ls_task, rows, "teacher-test")
    again = labelstudio.push_questions(ls_task, rows + _rows(ls_task, 6)[5:], "teacher-test")
    assert (first["pushed"], first["skipped"]) == (5, 0)
    assert (again["pushed"], again["skipped"]) == (1, 5)
    tasks = _project_tasks(ls_task)
    assert len(tasks) == 6
    assert len({t.data["factory_id"] for t in tasks}) == 6
    for t in tasks:
        (pred,) = t.predictions
        pred = pred if isinstance(pred, dict) else pred.dict()
        assert pred["model_version"] == "teacher-test"
        assert pred["score"] == pytest.approx(0.6)
        assert pred["result"][0]["value"]["choices"][0] in ls_task.label_ids


def test_label_config_shows_names_and_stores_label_ids(ls_task):
    cfg = labelstudio.label_config(ls_task)
    for lab in ls_task.labels:
        assert f'alias="{lab.id}"' in cfg
    client = labelstudio.ls_client()
    client.projects.validate_label_config(id=labelstudio.ensure_project(ls_task), label_config=cfg)


def test_queue_lists_open_questions_least_sure_first(ls_task):
    rows = [{"text": e.text, "probs": [p, 1 - p]} for e, p in zip(ls_task.unlabeled[:3], (0.9, 0.55, 0.7))]
    labelstudio.push_questions(ls_task, rows, "teacher-test")
    q = labelstudio.list_queue(ls_task.name)
    assert [r["score"] for r in q] == pytest.approx([0.55, 0.7, 0.9])
    assert q[0]["text"] == rows[1]["text"]


def test_answers_from_the_annotator_reach_the_workspace_queue_and_water_level(ls_task, services_ws):
    rows = _rows(ls_task, 4)
    labelstudio.push_questions(ls_task, rows, "teacher-test")
    truth = {r["text"]: ls_task.label_ids[i % 2] for i, r in enumerate(rows)}
    annotator = SimulatedAnnotator(truth)
    assert annotator.answer(ls_task.name, n=3) == 3
    assert labelstudio.pull_answers(ls_task.name) == 3
    answers = queue.read_answers(services_ws, ls_task.name)
    assert {a["text"]: a["label"] for a in answers} == {t: truth[t] for t in (a["text"] for a in answers)}
    level = labelstudio.water_level(ls_task.name)
    assert (level["answers"], level["new"], level["level"], level["reached"]) == (3, 3, 3, True)
    assert len(labelstudio.list_queue(ls_task.name)) == 1


def test_submit_answer_rejects_a_label_outside_the_task(ls_task):
    labelstudio.push_questions(ls_task, _rows(ls_task, 1), "teacher-test")
    (q,) = labelstudio.list_queue(ls_task.name)
    with pytest.raises(TaskError, match="label id"):
        labelstudio.submit_answer(ls_task.name, q["ls_task_id"], "Neutral")


def test_unclear_answer_is_a_cancelled_annotation_that_leaves_the_queue_and_is_pulled_flagged(ls_task, services_ws):
    labelstudio.push_questions(ls_task, _rows(ls_task, 2), "teacher-test")
    q = labelstudio.list_queue(ls_task.name)[0]
    labelstudio.submit_answer(ls_task.name, q["ls_task_id"], labelstudio.UNCLEAR)
    (ann,) = next(t for t in _project_tasks(ls_task) if t.id == q["ls_task_id"]).annotations
    assert (ann if isinstance(ann, dict) else ann.dict())["was_cancelled"] is True
    assert q["ls_task_id"] not in {r["ls_task_id"] for r in labelstudio.list_queue(ls_task.name)}
    assert labelstudio.pull_answers(ls_task.name) == 1
    (row,) = queue.read_answers(services_ws, ls_task.name)
    assert (row["text"], row["label"], row["unclear"]) == (q["text"], labelstudio.UNCLEAR, True)
    level = labelstudio.water_level(ls_task.name)
    assert (level["answers"], level["unclear"], level["new"]) == (1, 1, 0)


def test_deleted_answer_reopens_the_question_and_the_next_pull_drops_its_row(ls_task, services_ws):
    labelstudio.push_questions(ls_task, _rows(ls_task, 2), "teacher-test")
    q = labelstudio.list_queue(ls_task.name)[0]
    ann = labelstudio.submit_answer(ls_task.name, q["ls_task_id"], ls_task.label_ids[0])
    assert labelstudio.pull_answers(ls_task.name) == 1
    labelstudio.delete_answer(ann)
    labelstudio.delete_answer(ann)  # a retried undo: already gone is fine
    assert q["ls_task_id"] in {r["ls_task_id"] for r in labelstudio.list_queue(ls_task.name)}
    assert labelstudio.pull_answers(ls_task.name) == 0
    assert queue.read_answers(services_ws, ls_task.name) == []


def test_recorded_answer_moves_the_water_level_before_any_pull(ls_task, services_ws):
    labelstudio.push_questions(ls_task, _rows(ls_task, 1), "teacher-test")
    (q,) = labelstudio.list_queue(ls_task.name)
    labelstudio.record_answer(ls_task.name, q, ls_task.label_ids[1])
    assert labelstudio.water_level(ls_task.name)["new"] == 1
    # Label Studio never got it (the write failed): the next pull drops the mirrored row.
    assert labelstudio.pull_answers(ls_task.name) == 0
    assert labelstudio.forget_answer(ls_task.name, q["factory_id"]) is False
