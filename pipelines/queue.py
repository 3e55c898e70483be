"""The task's labeled queue in the workspace: human answers and the water level.

``queue/answers.jsonl`` mirrors every answer pulled from Label Studio (one row
per question, keyed by its stable ``factory_id``); ``queue/state.json`` counts
how many answers iterations have already consumed and the answer count at
which the last water-level event was emitted, so one level is announced once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, read_jsonl
from factory.errors import TaskError
from factory.workspace import Workspace

log = logging.getLogger(__name__)

ANSWERS = "answers.jsonl"
PUSHED = "pushed.jsonl"
STATE = "state.json"


def question_id(task: str, text: str) -> str:
    """Stable external id of a question: the same text in the same task is the same question."""
    return hashlib.sha256(f"{task}\0{text}".encode("utf-8")).hexdigest()[:20]


def _qdir(ws: Workspace, task: str) -> Path:
    d = ws.queue_dir(task)
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_answers(ws: Workspace, task: str) -> list[dict]:
    """Pulled answers ``{factory_id, ls_task_id, text, label, annotated_at}``, oldest first."""
    p = ws.queue_dir(task) / ANSWERS
    return read_jsonl(p) if p.is_file() else []


def write_answers(ws: Workspace, task: str, rows: list[dict]) -> Path:
    rows = sorted(rows, key=lambda r: (r.get("annotated_at") or "", r["factory_id"]))
    return atomic_write_jsonl(_qdir(ws, task) / ANSWERS, rows)


def read_pushed(ws: Workspace, task: str) -> list[dict]:
    """Questions sent to Label Studio ``{factory_id, text, label, score, model_version}``."""
    p = ws.queue_dir(task) / PUSHED
    return read_jsonl(p) if p.is_file() else []


def record_pushed(ws: Workspace, task: str, rows: list[dict]) -> Path:
    """Merge ``rows`` into the pushed ledger (by ``factory_id``; later rows win)."""
    merged = {r["factory_id"]: r for r in read_pushed(ws, task)}
    for r in rows:
        merged[r["factory_id"]] = r
    return atomic_write_jsonl(_qdir(ws, task) / PUSHED, list(merged.values()))


def asked_texts(ws: Workspace, task: str) -> list[str]:
    """Texts already put to people, pushed to Label Studio or answered, sorted: the next questions leave them out."""
    return sorted({r["text"] for r in read_pushed(ws, task)} | {a["text"] for a in read_answers(ws, task)})


def read_state(ws: Workspace, task: str) -> dict:
    p = ws.queue_dir(task) / STATE
    base = {"consumed": 0, "emitted_at": None}
    if p.is_file():
        base.update(json.loads(p.read_text(encoding="utf-8")))
    return base


def write_state(ws: Workspace, task: str, **changes) -> dict:
    state = read_state(ws, task)
    state.update(changes)
    atomic_write_json(_qdir(ws, task) / STATE, state)
    return state


def answer_key(row: dict) -> tuple[str, str]:
    """What makes an answer new: its question and its label (an answer changed in Label Studio is new again)."""
    return (str(row.get("factory_id")), str(row.get("label")))


def mark_consumed(ws: Workspace, task: str, answers: list[dict]) -> dict:
    """Record that an iteration trained on ``answers``: later answers, not later positions, raise the level.

    Rows move in ``answers.jsonl`` (an undo removes one, a pull re-times one), so a count of consumed rows alone
    would hide new answers or count old ones again.
    """
    return write_state(ws, task, consumed=len(answers), consumed_keys=sorted(answer_key(a) for a in answers))


def water_level(task: str, ws: Workspace | None = None) -> dict:
    """Where the task's labeled queue stands against its water level (workspace files only).

    Returns ``{answers, consumed, new, unclear, level, reached, announced}``: ``new`` answers
    arrived since the last iteration consumed them; ``reached`` when ``new >= level``;
    ``announced`` when the event for the current answer count was already emitted. A task whose
    ``task.json`` is damaged is logged and reported with ``reached`` false and the reason under
    ``skipped``, so a sync over many tasks goes on with the others and never triggers an iteration on it.

    Answers marked unclear count in ``answers`` and are consumed like the others (an iteration snapshots every
    row), but they do not raise ``new``: they add nothing to the gold, so they never trigger an iteration.
    """
    ws = ws or Workspace()
    rows = read_answers(ws, task)
    answers = len(rows)
    state = read_state(ws, task)
    keys = state.get("consumed_keys")
    if isinstance(keys, list):  # the answers the last iteration trained on, by question and label
        seen = {tuple(k) for k in keys}
        new = sum(1 for r in rows if not r.get("unclear") and answer_key(r) not in seen)
    else:  # state written before keys were kept: rows are in answer-time order, the new ones are the tail
        new = sum(1 for r in rows[int(state["consumed"]) :] if not r.get("unclear"))
    unclear = sum(1 for r in rows if r.get("unclear"))
    try:
        level = int(ws.task_meta(task).get("water_level", 20))
    except (TaskError, TypeError, ValueError) as e:
        log.warning("water level of task %r skipped: %s", task, e)
        return {
            "answers": answers,
            "consumed": int(state["consumed"]),
            "new": new,
            "unclear": unclear,
            "level": None,
            "reached": False,
            "announced": False,
            "skipped": str(e),
        }
    emitted = state.get("emitted_at")
    return {
        "answers": answers,
        "consumed": int(state["consumed"]),
        "new": new,
        "unclear": unclear,
        "level": level,
        "reached": new >= level,
        "announced": emitted is not None and emitted >= int(state["consumed"]) + level,
    }


def open_questions(ws: Workspace, task: str) -> int:
    """How many pushed questions have no answer (a label or "unclear") in the workspace mirror yet."""
    answered = {r["factory_id"] for r in read_answers(ws, task)}
    return sum(1 for r in read_pushed(ws, task) if r["factory_id"] not in answered)


def tasks_to_sync(ws: Workspace) -> dict[str, str]:
    """Tasks the queue sync should pull now, with the reason; decided from workspace files alone.

    A task needs a published model (an iteration improves on a production run) and either open questions
    (``"open questions"``: pushed, not answered in the mirror) or a water level that is reached but not yet
    announced (``"water level"``: answers given in the UI are mirrored at once, so the last open question can
    close with the event still owed). Every other task is idle: each question it asked has an answer in the
    mirror (one deleted in Label Studio itself shows up at the task's next pull). A task whose queue files are
    damaged is logged and left out, so one broken task never stops the sync of the others.
    """
    out = {}
    for name in ws.list_tasks():
        if not (ws.queue_dir(name) / PUSHED).is_file() or not ws.model_versions(name):
            continue
        try:
            if open_questions(ws, name):
                out[name] = "open questions"
                continue
            level = water_level(name, ws)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("queue of task %r skipped: %s", name, e)
            continue
        if level["reached"] and not level["announced"]:
            out[name] = "water level"
    return out
