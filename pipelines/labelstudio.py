"""Annotation queues in Label Studio: one project per task, driven with label-studio-sdk 2.x.

Public API (also used by the Streamlit UI)::

    ls_client(ws)                                 -> LabelStudio
    ensure_project(spec, ws)                      -> project id (created from the TaskSpec)
    push_questions(spec, rows, model_version, ws) -> {"pushed": n, "skipped": m}
    list_queue(task, ws)                          -> open questions, most uncertain first
    submit_answer(task, ls_task_id, label, ws)    -> annotation id
    pull_answers(task, ws)                        -> answers now in the workspace queue
    water_level(task, ws)                         -> {answers, new, level, reached, ...}

Questions carry a stable ``factory_id`` in their data, so pushing is idempotent:
every push first reads which ids the project already holds and imports only the
rest, which makes a retried push (after a timeout or a server restart) safe.
"""

from __future__ import annotations

import hashlib
import os
from xml.sax.saxutils import quoteattr

from factory.errors import TaskError
from factory.spec import TaskSpec
from factory.workspace import Workspace
from pipelines import lsserver, procs, queue
from pipelines.queue import water_level

__all__ = [
    "ls_client",
    "label_config",
    "ensure_project",
    "push_questions",
    "list_queue",
    "submit_answer",
    "pull_answers",
    "water_level",
    "project_title",
]

FROM_NAME = "label"
TO_NAME = "text"


def connection(ws: Workspace | None = None) -> tuple[str, str]:
    """(url, token): $FACTORY_LS_URL/$FACTORY_LS_TOKEN, else the server `factory up` started."""
    url, token = os.environ.get("FACTORY_LS_URL"), os.environ.get("FACTORY_LS_TOKEN")
    if url and token:
        return url.rstrip("/"), token
    ws = ws or Workspace()
    rec = procs.read_state(ws).get(lsserver.NAME)
    tok = lsserver.token_path(ws)
    if rec is None or not tok.is_file():
        raise TaskError(
            "a running Label Studio started by the factory",
            f"no Label Studio recorded in {ws.services_dir()}",
            "run `factory up` (or set FACTORY_LS_URL and FACTORY_LS_TOKEN for another server)",
            where="Label Studio",
        )
    return rec.url, tok.read_text(encoding="utf-8").strip()


def ls_client(ws: Workspace | None = None):
    """An SDK client for the factory's Label Studio."""
    from label_studio_sdk import LabelStudio

    url, token = connection(ws)
    return LabelStudio(base_url=url, api_key=token, timeout=30)


def project_title(task: str) -> str:
    """``factory:<task>``; Label Studio caps titles at 50 characters, so long names end in a hash."""
    title = f"factory:{task}"
    if len(title) <= 50:
        return title
    return f"factory:{task[:33]}~{hashlib.sha256(task.encode()).hexdigest()[:8]}"


def label_config(spec: TaskSpec) -> str:
    """Labeling interface for the task: the text and one single-choice per label.

    People see the label name; the stored value is the label id (``alias``).
    """
    choices = "\n".join(
        f"    <Choice value={quoteattr(lab.name)} alias={quoteattr(lab.id)}"
        + (f" hint={quoteattr(lab.description)}" if lab.description else "")
        + "/>"
        for lab in spec.labels
    )
    return (
        "<View>\n"
        f'  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>"
    )


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def find_project(client, task: str) -> int | None:
    for p in client.projects.list(title=project_title(task)):
        if _get(p, "title") == project_title(task):
            return int(_get(p, "id"))
    return None


def ensure_project(spec: TaskSpec, ws: Workspace | None = None, client=None) -> int:
    """The task's project id, creating it (uncertainty sampling) on first use."""
    client = client or ls_client(ws)
    pid = find_project(client, spec.name)
    if pid is not None:
        return pid
    p = client.projects.create(
        title=project_title(spec.name),
        description=f"Questions the factory's teacher is least sure of, for task {spec.name}.",
        label_config=label_config(spec),
        sampling="Uncertainty sampling",
        show_collab_predictions=True,
    )
    return int(p.id)


def _tasks(client, project: int, **kw):
    return client.tasks.list(project=project, page_size=100, **kw)


def existing_ids(client, project: int) -> set[str]:
    return {(_get(t, "data") or {}).get("factory_id") for t in _tasks(client, project)} - {None}


def push_questions(spec: TaskSpec, rows: list[dict], model_version: str, ws: Workspace | None = None) -> dict:
    """Queue questions ``{"text", "probs"}`` with the teacher's suggestion; skip ones already queued."""
    ws = ws or Workspace()
    client = ls_client(ws)
    project = ensure_project(spec, ws, client)
    have = existing_ids(client, project)
    new, ledger = [], []
    for r in rows:
        fid = queue.question_id(spec.name, r["text"])
        probs = [float(p) for p in r["probs"]]
        best = max(range(len(probs)), key=probs.__getitem__)
        label, score = spec.label_ids[best], probs[best]
        ledger.append(
            {"factory_id": fid, "text": r["text"], "label": label, "score": score, "model_version": model_version}
        )
        if fid in have:
            continue
        have.add(fid)
        new.append(
            {
                "data": {
                    "text": r["text"],
                    "factory_id": fid,
                    "teacher_label": label,
                    "teacher_confidence": round(score, 4),
                },
                "predictions": [
                    {
                        "model_version": model_version,
                        "score": score,
                        "result": [
                            {
                                "from_name": FROM_NAME,
                                "to_name": TO_NAME,
                                "type": "choices",
                                "value": {"choices": [label]},
                            }
                        ],
                    }
                ],
            }
        )
    if new:
        client.projects.import_tasks(project, request=new, return_task_ids=True)
    queue.record_pushed(ws, spec.name, ledger)
    return {"pushed": len(new), "skipped": len(rows) - len(new), "project": project}


def _answer_of(task_obj) -> tuple[str | None, str | None]:
    """(label id, time) of the latest non-cancelled annotation, or (None, None)."""
    best = None
    for a in _get(task_obj, "annotations") or []:
        if _get(a, "was_cancelled"):
            continue
        if best is None or str(_get(a, "created_at")) > str(_get(best, "created_at")):
            best = a
    if best is None:
        return None, None
    for res in _get(best, "result") or []:
        if _get(res, "from_name") == FROM_NAME:
            choices = (_get(res, "value") or {}).get("choices") or []
            if choices:
                return str(choices[0]), str(_get(best, "created_at"))
    return None, None


def list_queue(task: str, ws: Workspace | None = None) -> list[dict]:
    """Open questions ``{ls_task_id, factory_id, text, suggestion, score, model_version}``, least sure first."""
    client = ls_client(ws)
    project = find_project(client, task)
    if project is None:
        return []
    out = []
    for t in _tasks(client, project, fields="all"):
        if _answer_of(t)[0] is not None:
            continue
        data = _get(t, "data") or {}
        preds = _get(t, "predictions") or []
        p = preds[-1] if preds else None
        out.append(
            {
                "ls_task_id": int(_get(t, "id")),
                "factory_id": data.get("factory_id"),
                "text": data.get("text"),
                "suggestion": data.get("teacher_label"),
                "score": float(_get(p, "score")) if p is not None and _get(p, "score") is not None else None,
                "model_version": _get(p, "model_version") if p is not None else None,
            }
        )
    return sorted(out, key=lambda r: (r["score"] if r["score"] is not None else 1.0, r["ls_task_id"]))


def submit_answer(task: str, ls_task_id: int, label: str, ws: Workspace | None = None) -> int:
    """Record a human answer (a label id of the task) on a queued question."""
    ws = ws or Workspace()
    # A damaged task.json cannot say which labels are valid: refuse clearly rather than drop the answer.
    meta = ws.task_meta(task)
    try:
        spec_labels = [str(lab["id"]) for lab in meta["labels"]]
    except (KeyError, TypeError) as e:
        raise TaskError(
            "a task.json listing the task's labels",
            f"{type(e).__name__}: {e}",
            f"recreate it: `factory task create {task} ... --overwrite`",
            where=str(ws.task_dir(task) / "task.json"),
        ) from None
    if label not in spec_labels:
        raise TaskError(
            f"a label id in {spec_labels}", repr(label), "answer with one of the task's label ids", where="answer"
        )
    client = ls_client(ws)
    result = [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [label]}}]
    return int(client.annotations.create(id=int(ls_task_id), result=result).id)


def pull_answers(task: str, ws: Workspace | None = None) -> int:
    """Mirror every answered question into ``queue/answers.jsonl``; return how many there are."""
    ws = ws or Workspace()
    client = ls_client(ws)
    project = find_project(client, task)
    if project is None:
        return len(queue.read_answers(ws, task))
    rows = {r["factory_id"]: r for r in queue.read_answers(ws, task)}
    for t in _tasks(client, project, fields="all", only_annotated=True):
        label, when = _answer_of(t)
        data = _get(t, "data") or {}
        if label is None or not data.get("factory_id"):
            continue
        rows[data["factory_id"]] = {
            "factory_id": data["factory_id"],
            "ls_task_id": int(_get(t, "id")),
            "text": data.get("text"),
            "label": label,
            "annotated_at": when,
        }
    queue.write_answers(ws, task, list(rows.values()))
    return len(rows)
