"""Label page: answers given in the UI land in Label Studio and move the water-level gauge."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from tests.ui.conftest import page

pytestmark = pytest.mark.integration


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


def test_label_page_without_label_studio_says_how_to_start_it(app, workspace, eprstmt_small, monkeypatch):
    monkeypatch.delenv("FACTORY_LS_URL", raising=False)
    monkeypatch.delenv("FACTORY_LS_TOKEN", raising=False)
    workspace.save_task(replace(eprstmt_small, name="shop"))
    at = page(app, "label")
    assert any("factory up" in w.value for w in at.warning)


def test_answering_queue_items_stores_them_in_label_studio(app, workspace, queued, ls_env):
    from pipelines.labelstudio import find_project, ls_client

    at = page(app, "label")
    spec = queued
    # Least sure first: the 0.55 question, with the teacher's suggestion highlighted.
    assert spec.unlabeled[0].text in "".join(m.value for m in at.markdown)
    assert at.button(key="answer-Positive").proto.type == "primary"
    assert {m.label: m.value for m in at.metric}["New answers"] == "0 / 2"
    at.button(key="answer-Negative").click().run()
    assert not at.exception
    # The next question is shown and the gauge moved.
    assert spec.unlabeled[2].text in "".join(m.value for m in at.markdown)
    assert {m.label: m.value for m in at.metric}["New answers"] == "1 / 2"
    at.button(key="answer-Positive").click().run()
    assert {m.label: m.value for m in at.metric}["New answers"] == "2 / 2"
    assert any("Water level reached" in s.value for s in at.success)

    # Label Studio (the system of record) holds both answers.
    client = ls_client(workspace)
    project = find_project(client, spec.name)
    answers = {}
    for t in client.tasks.list(project=project, fields="all"):
        for a in t.annotations or []:
            answers[t.data["text"]] = (
                a["result"][0]["value"]["choices"][0] if isinstance(a, dict) else a.result[0]["value"]["choices"][0]
            )
    assert answers == {spec.unlabeled[0].text: "Negative", spec.unlabeled[2].text: "Positive"}
    link = [b for b in at.get("link_button")]
    assert link and f"/projects/{project}/" in link[0].proto.url


def test_skip_moves_to_next_question_without_answering(app, workspace, queued):
    at = page(app, "label")
    at.button(key="skip").click().run()
    assert queued.unlabeled[2].text in "".join(m.value for m in at.markdown)
    assert {m.label: m.value for m in at.metric}["All answers"] == "0"
