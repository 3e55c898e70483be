"""Annotation queues in Label Studio: one project per task, driven with label-studio-sdk 2.x.

Public API (also used by the Streamlit UI)::

    ls_client(ws)                                 -> LabelStudio
    ensure_project(spec, ws)                      -> project id (created from the TaskSpec)
    push_questions(spec, rows, model_version, ws) -> {"pushed": n, "skipped": m}
    list_queue(task, ws)                          -> open questions, most uncertain first
    submit_answer(task, ls_task_id, label, ws)    -> annotation id (label may be UNCLEAR)
    delete_answer(annotation_id, ws)              -> None (the question is open again)
    record_answer(task, question, label, ws)      -> the row mirrored into the workspace queue
    forget_answer(task, factory_id, ws)           -> whether a mirrored row was removed
    pull_answers(task, ws)                        -> answers now in the workspace queue
    water_level(task, ws)                         -> {answers, new, level, reached, ...}

Questions carry a stable ``factory_id`` in their data, so pushing is idempotent:
every push first reads which ids the project already holds and imports only the
rest, which makes a retried push (after a timeout or a server restart) safe.

"Unclear" answers are cancelled annotations (``was_cancelled``, what Label Studio's
own *Skip* button writes), so existing projects need no new choice in their
labeling config: the question leaves the queue, and the pulled row has the label
:data:`UNCLEAR` and ``"unclear": true`` so that training leaves it out.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from xml.sax.saxutils import quoteattr

from factory.errors import TaskError
from factory.spec import TaskSpec
from factory.workspace import Workspace
from pipelines import endpoints, lsserver, queue
from pipelines.queue import water_level

__all__ = [
    "ls_client",
    "label_config",
    "ensure_project",
    "push_questions",
    "list_queue",
    "submit_answer",
    "delete_answer",
    "record_answer",
    "forget_answer",
    "pull_answers",
    "water_level",
    "project_title",
    "UNCLEAR",
]

FROM_NAME = "label"
TO_NAME = "text"
UNCLEAR = "__unclear__"  # the answer "unclear / junk": a cancelled annotation in Label Studio, never a label


def _mirror_lock(ws: Workspace, task: str):
    """answers.jsonl is read, changed and rewritten by UI sessions, the sync flow and iterations (threads and
    processes): one at a time, or one's change would overwrite another's."""
    from factory.atomic import exclusive

    return exclusive(ws.queue_dir(task) / ".answers.lock")


def connection(ws: Workspace | None = None) -> tuple[str, str]:
    """(url, token): $FACTORY_LS_URL/$FACTORY_LS_TOKEN, else the server `factory up` started."""
    override = endpoints.label_studio_override()
    if override is not None:
        return override
    ws = ws or Workspace()
    url = endpoints.recorded_url(ws, endpoints.LABEL_STUDIO, live_only=False)
    tok = lsserver.token_path(ws)
    if url is None or not tok.is_file():
        raise TaskError(
            "a running Label Studio started by the factory",
            f"no Label Studio recorded in {ws.services_dir()}",
            "run `factory up` (or set FACTORY_LS_URL and FACTORY_LS_TOKEN for another server)",
            where="Label Studio",
        )
    return url, tok.read_text(encoding="utf-8").strip()


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
    """(label id, time) of the task's latest annotation, (UNCLEAR, time) when it was cancelled, or (None, None).

    The latest annotation decides, so a later answer (or a later "unclear") replaces an earlier one.
    """
    anns = sorted(_get(task_obj, "annotations") or [], key=lambda a: str(_get(a, "created_at")), reverse=True)
    if not anns:
        return None, None
    latest = anns[0]
    if _get(latest, "was_cancelled"):
        return UNCLEAR, str(_get(latest, "created_at"))
    for res in _get(latest, "result") or []:
        if _get(res, "from_name") == FROM_NAME:
            choices = (_get(res, "value") or {}).get("choices") or []
            if choices:
                return str(choices[0]), str(_get(latest, "created_at"))
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


def _now() -> str:
    # Label Studio's own timestamp format, so mirrored and pulled rows sort together.
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _answer_row(factory_id: str, ls_task_id: int, text: str | None, label: str, when: str | None) -> dict:
    return {
        "factory_id": factory_id,
        "ls_task_id": int(ls_task_id),
        "text": text,
        "label": label,
        "unclear": label == UNCLEAR,
        "annotated_at": when,
    }


def submit_answer(task: str, ls_task_id: int, label: str, ws: Workspace | None = None) -> int:
    """Record a human answer (a label id of the task, or :data:`UNCLEAR`) on a queued question.

    An unclear answer is a cancelled annotation: the question leaves the queue and never reaches training.
    """
    ws = ws or Workspace()
    if label == UNCLEAR:
        client = ls_client(ws)
        return int(client.annotations.create(id=int(ls_task_id), result=[], was_cancelled=True).id)
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
            f"a label id in {spec_labels} (or {UNCLEAR!r})",
            repr(label),
            "answer with one of the task's label ids",
            where="answer",
        )
    client = ls_client(ws)
    result = [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [label]}}]
    return int(client.annotations.create(id=int(ls_task_id), result=result).id)


def delete_answer(annotation_id: int, ws: Workspace | None = None) -> None:
    """Take an answer back: delete the annotation, so its question is open again.

    An annotation that is already gone counts as deleted, so a retried undo is safe.
    """
    from label_studio_sdk.core.api_error import ApiError

    client = ls_client(ws)
    try:
        client.annotations.delete(id=int(annotation_id))
    except ApiError as e:
        if e.status_code != 404:
            raise


def record_answer(task: str, question: dict, label: str, ws: Workspace | None = None) -> dict:
    """Mirror one answer into ``queue/answers.jsonl`` now, without reading Label Studio.

    ``question`` is a :func:`list_queue` row. The UI calls this while the answer itself is still on its way to
    Label Studio, so the water level moves at once; the next :func:`pull_answers` replaces the row with what
    Label Studio holds (and drops it if the answer never arrived there).
    """
    ws = ws or Workspace()
    row = _answer_row(question["factory_id"], question["ls_task_id"], question.get("text"), label, _now())
    with _mirror_lock(ws, task):
        rows = {r["factory_id"]: r for r in queue.read_answers(ws, task)}
        rows[row["factory_id"]] = row
        queue.write_answers(ws, task, list(rows.values()))
    return row


def forget_answer(task: str, factory_id: str, ws: Workspace | None = None) -> bool:
    """Drop a question's row from ``queue/answers.jsonl`` (its answer was taken back); whether there was one."""
    ws = ws or Workspace()
    with _mirror_lock(ws, task):
        rows = queue.read_answers(ws, task)
        kept = [r for r in rows if r["factory_id"] != factory_id]
        if len(kept) == len(rows):
            return False
        queue.write_answers(ws, task, kept)
    return True


def pull_answers(task: str, ws: Workspace | None = None) -> int:
    """Mirror every answered question into ``queue/answers.jsonl``; return how many there are.

    Unclear answers are rows too (label :data:`UNCLEAR`, ``"unclear": true``). A question that is open again in
    Label Studio (its answer deleted, or a mirrored answer that never arrived) loses its row.
    """
    ws = ws or Workspace()
    client = ls_client(ws)
    project = find_project(client, task)
    if project is None:
        return len(queue.read_answers(ws, task))
    # Every task, not only annotated ones: the open ones say which mirrored rows are stale.
    found: dict[str, dict | None] = {}
    for t in _tasks(client, project, fields="all"):
        data = _get(t, "data") or {}
        fid = data.get("factory_id")
        if fid:
            label, when = _answer_of(t)
            found[fid] = _answer_row(fid, _get(t, "id"), data.get("text"), label, when) if label else None
    with _mirror_lock(ws, task):
        rows = {r["factory_id"]: r for r in queue.read_answers(ws, task)}
        for fid, row in found.items():
            if row:
                rows[fid] = row
            else:
                rows.pop(fid, None)
        queue.write_answers(ws, task, list(rows.values()))
    return len(rows)
