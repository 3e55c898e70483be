"""Label page: answers given in the UI land in Label Studio and move the water-level gauge."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import wait
from dataclasses import replace

import pytest

from tests.ui.conftest import page

integration = pytest.mark.integration


@pytest.fixture
def queued(workspace, ls_env, eprstmt_small):
    """A task whose queue holds three real pool texts with teacher suggestions (pushed by the pipelines code)."""
    from pipelines.labelstudio import push_questions

    name = f"shop-{uuid.uuid4().hex[:8]}"  # one LS project per test on the shared server
    spec = replace(eprstmt_small, name=name, water_level=2)
    workspace.save_task(spec)
    rows = [
        {"text": spec.unlabeled[0].text, "probs": [0.45, 0.55]},
        {"text": spec.unlabeled[1].text, "probs": [0.9, 0.1]},
        {"text": spec.unlabeled[2].text, "probs": [0.3, 0.7]},
    ]
    push_questions(spec, rows, "teacher-test", workspace)
    return spec


def _shown(at) -> str:
    return "".join(m.value for m in at.markdown)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _settle(at, task: str) -> None:
    """Wait until this session's writes to Label Studio (answers and undos) are done."""
    state = at.session_state[f"label:{task}"]
    futures = [e["future"] for e in state["answers"]] + [u["future"] for u in state["undos"]]
    done, pending = wait(futures, timeout=60)
    assert not pending, "writes to Label Studio did not finish in 60 s"
    assert all(f.exception() is None for f in done), [f.exception() for f in done]


def _annotations(workspace, task: str) -> dict:
    """Label Studio's annotations by question text."""
    from pipelines.labelstudio import find_project, ls_client

    client = ls_client(workspace)
    out = {}
    for t in client.tasks.list(project=find_project(client, task), fields="all"):
        out[t.data["text"]] = [a if isinstance(a, dict) else a.dict() for a in t.annotations or []]
    return out


def _no_pool_task(workspace, eprstmt_small):
    spec = replace(eprstmt_small, name="nopool", unlabeled=[])
    workspace.save_task(spec)
    return spec


def test_label_page_without_label_studio_says_how_to_start_it(app, workspace, eprstmt_small, monkeypatch):
    monkeypatch.delenv("FACTORY_LS_URL", raising=False)
    monkeypatch.delenv("FACTORY_LS_TOKEN", raising=False)
    workspace.save_task(replace(eprstmt_small, name="shop"))
    at = page(app, "label")
    assert any("factory up" in w.value for w in at.warning)


@integration
def test_answering_shows_the_next_question_while_the_answer_is_still_being_written(app, workspace, queued, monkeypatch):
    from pipelines import labelstudio

    spec = queued
    calls = {"pull_answers": 0, "ensure_project": 0, "list_queue": 0}
    for name in calls:

        def counted(*a, _name=name, _real=getattr(labelstudio, name), **kw):
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(labelstudio, name, counted)
    # Label Studio "takes" as long as the test wants: the page must not wait for it.
    gate, real_submit = threading.Event(), labelstudio.submit_answer

    def slow_submit(*a, **kw):
        assert gate.wait(60), "the test never let the write through"
        return real_submit(*a, **kw)

    monkeypatch.setattr(labelstudio, "submit_answer", slow_submit)
    try:
        at = page(app, "label")
        # Least sure first: the 0.55 question.
        assert spec.unlabeled[0].text in _shown(at)
        assert _metrics(at)["New answers"] == "0 / 2"
        at.button(key="answer-Negative").click().run()
        assert not at.exception
        # The next question and the moved gauge are on screen although Label Studio has not got the answer yet.
        assert spec.unlabeled[2].text in _shown(at)
        assert _metrics(at)["New answers"] == "1 / 2"
        assert not _annotations(workspace, spec.name)[spec.unlabeled[0].text]
    finally:
        gate.set()
    at.button(key="answer-Positive").click().run()
    assert _metrics(at)["New answers"] == "2 / 2"
    assert any("Water level reached" in s.value for s in at.success)
    _settle(at, spec.name)
    at.run()  # a render after the writes: they show as saved, and still nothing is pulled
    assert not at.error

    # Label Studio (the system of record) holds both answers.
    answers = {
        text: anns[0]["result"][0]["value"]["choices"][0]
        for text, anns in _annotations(workspace, spec.name).items()
        if anns
    }
    assert answers == {spec.unlabeled[0].text: "Negative", spec.unlabeled[2].text: "Positive"}
    # No render pulled every answer back, the project was looked up once and the queue loaded once.
    assert calls == {"pull_answers": 0, "ensure_project": 1, "list_queue": 1}
    project = labelstudio.find_project(labelstudio.ls_client(workspace), spec.name)
    link = [b for b in at.get("link_button")]
    assert link and f"/projects/{project}/" in link[0].proto.url
    mine = next(e for e in at.expander if e.label.startswith("My answers"))
    assert mine.label == "My answers (2)"


@integration
def test_teacher_suggestion_is_text_and_every_label_button_looks_the_same(app, queued):
    at = page(app, "label")
    buttons = [at.button(key=f"answer-{lid}") for lid in queued.label_ids]
    assert {b.proto.type for b in buttons} == {"secondary"}
    assert any("teacher suggests: Positive, 55 %" in c.value for c in at.caption)


@integration
def test_undo_takes_the_last_answer_back_from_label_studio_and_shows_the_question_again(app, workspace, queued):
    from pipelines import labelstudio, queue

    spec, first = queued, queued.unlabeled[0].text
    at = page(app, "label")
    at.button(key="answer-Negative").click().run()
    _settle(at, spec.name)  # the answer is in Label Studio: undo has to delete it there
    assert _annotations(workspace, spec.name)[first]
    at.button(key="undo").click().run()
    assert not at.exception
    assert first in _shown(at)
    assert _metrics(at)["New answers"] == "0 / 2"
    _settle(at, spec.name)
    assert _annotations(workspace, spec.name)[first] == []
    assert first in {q["text"] for q in labelstudio.list_queue(spec.name, workspace)}
    assert queue.read_answers(workspace, spec.name) == []
    assert labelstudio.pull_answers(spec.name, workspace) == 0
    assert at.button(key="undo").disabled


@integration
def test_unclear_takes_the_question_out_of_the_queue_and_out_of_training(app, workspace, queued, tmp_path):
    from pipelines import labelstudio, queue
    from recipe import steps

    spec, junk = queued, queued.unlabeled[0].text
    at = page(app, "label")
    at.button(key="unclear").click().run()
    assert not at.exception
    assert spec.unlabeled[2].text in _shown(at)
    # An unclear answer is an answer, but it does not move the water level.
    assert (_metrics(at)["All answers"], _metrics(at)["New answers"]) == ("1", "0 / 2")
    _settle(at, spec.name)
    (ann,) = _annotations(workspace, spec.name)[junk]
    assert ann["was_cancelled"] is True
    assert junk not in {q["text"] for q in labelstudio.list_queue(spec.name, workspace)}
    assert labelstudio.pull_answers(spec.name, workspace) == 1
    (row,) = queue.read_answers(workspace, spec.name)
    assert (row["text"], row["label"], row["unclear"]) == (junk, labelstudio.UNCLEAR, True)
    path = steps.intake(
        workspace.load_task(spec.name),
        tmp_path / "run",
        pool_cap=None,
        dev_cap=None,
        test_cap=None,
        answers=queue.read_answers(workspace, spec.name),
    )
    snap = json.loads(open(path, encoding="utf-8").read())
    assert junk not in {e["text"] for e in snap["gold"] + snap["unlabeled"]}


def test_empty_queue_of_a_task_without_a_pool_says_to_add_one(app, workspace, eprstmt_small, monkeypatch):
    # No Label Studio needed: a task without a pool that never queued anything has nothing to ask.
    monkeypatch.delenv("FACTORY_LS_URL", raising=False)
    monkeypatch.delenv("FACTORY_LS_TOKEN", raising=False)
    _no_pool_task(workspace, eprstmt_small)
    at = page(app, "label")
    (info,) = at.info
    assert "no unlabeled pool" in info.value and "Tasks" in info.value
    assert not at.warning


@integration
def test_empty_queue_before_any_run_says_to_start_one(app, workspace, ls_env, eprstmt_small):
    workspace.save_task(replace(eprstmt_small, name=f"fresh-{uuid.uuid4().hex[:8]}"))
    at = page(app, "label")
    (info,) = at.info
    assert "No run has queued questions yet" in info.value and "Runs" in info.value


def test_label_studio_login_shows_the_email_and_where_the_password_is_never_the_password(
    app, workspace, eprstmt_small, monkeypatch, capsys, caplog
):
    from pipelines import lsserver, procs

    monkeypatch.setenv("FACTORY_LS_URL", "http://127.0.0.1:9")  # nothing answers: the login shows anyway
    monkeypatch.setenv("FACTORY_LS_TOKEN", "unused")
    _no_pool_task(workspace, eprstmt_small)
    password = "s3cret-" + uuid.uuid4().hex
    creds = procs.services_dir(workspace) / lsserver.NAME / "credentials.json"
    creds.parent.mkdir(parents=True, exist_ok=True)
    creds.write_text(json.dumps({"email": lsserver.ADMIN_EMAIL, "password": password}), encoding="utf-8")
    creds.chmod(0o600)
    at = page(app, "label")
    (login,) = [e for e in at.expander if e.label == "Label Studio login"]
    text = " ".join(m.value for m in login.markdown)
    assert lsserver.ADMIN_EMAIL in text and "http://127.0.0.1:9/user/login/" in text
    assert str(creds) in " ".join(c.value for c in login.caption)
    # Every browser looks local behind 127.0.0.1, so the password is in no widget, text or log.
    assert not login.text_input
    shown = " ".join(
        str(e.value) for kind in ("markdown", "caption", "code", "text", "text_input") for e in at.get(kind)
    )
    out = capsys.readouterr()
    assert password not in shown + out.out + out.err + caplog.text


@integration
def test_an_answer_that_fails_to_reach_label_studio_is_listed_and_sent_again_on_retry(
    app, workspace, queued, monkeypatch
):
    from pipelines import labelstudio

    spec, first = queued, queued.unlabeled[0].text
    real_submit = labelstudio.submit_answer

    def down(*a, **kw):
        raise ConnectionError("Label Studio is down")

    monkeypatch.setattr(labelstudio, "submit_answer", down)
    at = page(app, "label")
    at.button(key="answer-Negative").click().run()
    wait([e["future"] for e in at.session_state[f"label:{spec.name}"]["answers"]], timeout=60)
    at.run()
    (err,) = at.error
    assert "1 answer did not reach Label Studio" in err.value and "ConnectionError" in err.value
    assert spec.unlabeled[2].text in _shown(at)  # labeling goes on meanwhile
    monkeypatch.setattr(labelstudio, "submit_answer", real_submit)
    at.button(key="retry-writes").click().run()
    _settle(at, spec.name)
    at.run()
    assert not at.error
    (ann,) = _annotations(workspace, spec.name)[first]
    assert ann["result"][0]["value"]["choices"] == ["Negative"]
