"""Label page: answer the task's annotation queue (stored in Label Studio) one click per question.

The page talks to Label Studio as little as it can, because every round trip is time a person waits: the
project is looked up once per session and task, the queue is loaded once (again only on demand or when it runs
out), and answers go to Label Studio from background threads while the next question is already on screen. An
answer is also mirrored into the workspace queue at once, so the water-level gauge moves with the click. A write
that fails stays in this session's list of answers, with a Retry button: nothing is dropped silently.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import streamlit as st

from factory.errors import FactoryError
from ui.common import error_text, task_picker, workspace
from ui.services import label_studio_url

PER_ROW = 5
WRITERS = 4  # threads writing to Label Studio, shared by every session of this server


def _escape(text: str) -> str:
    # Queue texts are user data: show them literally, never as Markdown or HTML.
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in text)


@st.cache_resource(show_spinner=False)
def _writer() -> ThreadPoolExecutor:
    """The threads that send answers (and undos) to Label Studio off the page's render path."""
    return ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="label-writer")


def _state(task: str) -> dict:
    """This session's labeling state for ``task``: project, loaded queue, answers given, undos in flight."""
    return st.session_state.setdefault(
        f"label:{task}",
        {"project": None, "queue": None, "checked": False, "answers": [], "undos": [], "skipped": set(), "flash": None},
    )


def _failed(fut: Future | None) -> BaseException | None:
    if fut is None or not fut.done() or fut.cancelled():
        return None
    return fut.exception()


def _status(entry: dict) -> str:
    err = _failed(entry["future"])
    if err is not None:
        return f"not saved: {type(err).__name__}"
    return "saved" if entry["future"].done() else "saving…"


def _open(state: dict) -> list[dict]:
    """Loaded questions this session has not answered (answers still on their way to Label Studio included)."""
    answered = {e["ls_task_id"] for e in state["answers"]}
    return [q for q in state["queue"] or [] if q["ls_task_id"] not in answered]


def _take_back(answer: Future, ws) -> None:
    """Delete the annotation ``answer`` created (waiting for it if it is still being written)."""
    from pipelines import labelstudio

    try:
        annotation = answer.result()
    except Exception:  # the answer never reached Label Studio: there is nothing to delete
        return
    labelstudio.delete_answer(annotation, ws)


# Button callbacks run before the page script, so the rerun they cause already shows the next question.


def _on_answer(task: str, q: dict, label: str, shown: str, ws) -> None:
    from pipelines import labelstudio

    state = _state(task)
    if any(e["ls_task_id"] == q["ls_task_id"] for e in state["answers"]):
        return  # a second click (or key press) that arrived before the page moved on
    fut = _writer().submit(labelstudio.submit_answer, task, q["ls_task_id"], label, ws)
    state["answers"].append(
        {
            "ls_task_id": q["ls_task_id"],
            "factory_id": q["factory_id"],
            "text": q["text"],
            "label": label,
            "shown": shown,
            "time": datetime.now().strftime("%H:%M:%S"),
            "question": q,
            "future": fut,
        }
    )
    if q.get("factory_id"):
        labelstudio.record_answer(task, q, label, ws)
    state["flash"] = f"Answered “{(q['text'] or '')[:40]}” as {shown}"


def _on_undo(task: str, ws) -> None:
    from pipelines import labelstudio

    state = _state(task)
    if not state["answers"]:
        return
    entry = state["answers"].pop()
    if entry["factory_id"]:
        labelstudio.forget_answer(task, entry["factory_id"], ws)
    if not entry["future"].cancel():  # already sent (or sending): delete it in Label Studio too
        state["undos"].append({"entry": entry, "future": _writer().submit(_take_back, entry["future"], ws)})
    # The question comes back as the next one to answer.
    q = entry["question"]
    rest = [x for x in state["queue"] or [] if x["ls_task_id"] != q["ls_task_id"]]
    state["queue"] = [q, *rest]
    state["skipped"].discard(q["ls_task_id"])
    state["flash"] = f"Took back the answer to “{(entry['text'] or '')[:40]}”"


def _on_skip(task: str, q: dict) -> None:
    _state(task)["skipped"].add(q["ls_task_id"])


def _on_refresh(task: str) -> None:
    state = _state(task)
    state["queue"], state["checked"] = None, False


def _on_retry(task: str, ws) -> None:
    from pipelines import labelstudio

    state = _state(task)
    for entry in state["answers"]:
        if _failed(entry["future"]) is not None:
            entry["future"] = _writer().submit(labelstudio.submit_answer, task, entry["ls_task_id"], entry["label"], ws)
            if entry["factory_id"]:  # a pull may have dropped the mirrored row while Label Studio lacked it
                labelstudio.record_answer(task, entry["question"], entry["label"], ws)
    for undo in state["undos"]:
        if _failed(undo["future"]) is not None:
            undo["future"] = _writer().submit(_take_back, undo["entry"]["future"], ws)


def _gauge(level: dict) -> None:
    new, target = level["new"], level["level"]
    cols = st.columns(3)
    cols[0].metric(
        "New answers",
        f"{new} / {target}",
        border=True,
        help="answers since the last iteration, against the water level (unclear ones do not count)",
    )
    cols[1].metric(
        "All answers",
        level["answers"],
        border=True,
        help=f"{level.get('unclear', 0)} of them marked unclear" if level.get("unclear") else None,
    )
    cols[2].metric("Open questions", level.get("open", 0), border=True)
    st.progress(
        min(new / target, 1.0) if target else 0.0,
        text=f"Labeled queue: {new} of {target} answers to the next iteration",
    )
    if level["reached"]:
        st.success(
            "Water level reached: the next iteration (teacher update, relabel, new student) is triggered.",
            icon=":material/water_full:",
        )


def _problems(task: str, state: dict, ws) -> None:
    """Writes that did not reach Label Studio, with a Retry button (finished undos are forgotten here)."""
    state["undos"] = [u for u in state["undos"] if not u["future"].done() or _failed(u["future"]) is not None]
    answers = [e for e in state["answers"] if _failed(e["future"]) is not None]
    undos = [u for u in state["undos"] if _failed(u["future"]) is not None]
    if not answers and not undos:
        return
    err = _failed((answers[0] if answers else undos[0])["future"])
    what = [f"{len(answers)} answer{'s' if len(answers) != 1 else ''}"] if answers else []
    what += [f"{len(undos)} undo{'s' if len(undos) != 1 else ''}"] if undos else []
    head = f"{' and '.join(what)} did not reach Label Studio; they are kept in this session (see **My answers**)."
    if isinstance(err, FactoryError):  # it names its own fix
        st.error(f"{head}  \n{error_text(err)}", icon=":material/sync_problem:")
    else:
        st.error(
            f"{head} Last error: {type(err).__name__}: {err}.  \n"
            "**How to fix:** make sure Label Studio runs (`factory up`), then retry.",
            icon=":material/sync_problem:",
        )
    st.button("Retry", key="retry-writes", icon=":material/refresh:", on_click=_on_retry, args=(task, ws))


def _question(task: str, spec, q: dict, ws) -> None:
    from pipelines.labelstudio import UNCLEAR

    names = dict(zip(spec.label_ids, spec.label_names))
    with st.container(border=True):
        st.caption("Question · the teacher is least sure about this one")
        st.markdown(f"#### {_escape(q['text'] or '')}")
        if q.get("suggestion") is not None:
            # Plain text, not a highlighted button: the person's answer should not lean on the teacher's.
            conf = q.get("score")
            name = _escape(str(names.get(q["suggestion"], q["suggestion"])))
            st.caption(
                f":material/smart_toy: teacher suggests: {name}"
                + (f", {100 * float(conf):.0f} %" if conf is not None else "")
            )
        st.caption(
            "Keys: "
            + ", ".join(f"**{i + 1}** {_escape(names[lid])}" for i, lid in enumerate(spec.label_ids[:9]))
            + " · **U** unclear · **S** skip · **Z** undo"
        )
        ids = spec.label_ids
        for start in range(0, len(ids), PER_ROW):
            cols = st.columns(PER_ROW)
            for j, lid in enumerate(ids[start : start + PER_ROW]):
                i = start + j
                cols[j].button(
                    names[lid],
                    key=f"answer-{lid}",
                    type="secondary",
                    shortcut=str(i + 1) if i < 9 else None,
                    width="stretch",
                    on_click=_on_answer,
                    args=(task, q, lid, names[lid], ws),
                )
        left, right, _ = st.columns([1, 1, 3])
        left.button(
            "Unclear / junk",
            key="unclear",
            shortcut="u",
            icon=":material/help:",
            help="The text cannot be labeled: it leaves the queue and is never used for training.",
            on_click=_on_answer,
            args=(task, q, UNCLEAR, "unclear", ws),
        )
        right.button(
            "Skip for now", key="skip", shortcut="s", icon=":material/skip_next:", on_click=_on_skip, args=(task, q)
        )


def _empty(task: str, spec, ws) -> None:
    """Why there is no question to show, and what to do about it."""
    from pipelines import queue

    if not spec.unlabeled:
        st.info(
            "This task has no unlabeled pool, so there are no questions to ask. Add a pool on the **Tasks** page "
            "(create the task again with an unlabeled file under *More files*) to get questions.",
            icon=":material/inventory_2:",
        )
    elif not queue.read_pushed(ws, task) and not queue.read_answers(ws, task):
        st.info(
            "No run has queued questions yet. Start a run on the **Runs** page: it queues the questions the "
            "teacher is least sure of.",
            icon=":material/play_circle:",
        )
    else:
        st.success(
            "All questions answered: nothing is waiting for an answer. The next run (see **Runs**) queues new ones.",
            icon=":material/done_all:",
        )


def _my_answers(state: dict) -> None:
    with st.expander(f"My answers ({len(state['answers'])})", icon=":material/history:"):
        if not state["answers"]:
            st.caption("Answers you give in this session are listed here; **Undo** takes back the last one.")
            return
        st.dataframe(
            [
                {"time": e["time"], "text": e["text"], "answer": e["shown"], "status": _status(e)}
                for e in reversed(state["answers"])
            ],
            hide_index=True,
            width="stretch",
        )


def _login(ws) -> None:
    """Where Label Studio's login lives: its URL, the admin email and the 0600 file holding the password.

    The password itself never reaches the page: every browser reaches the UI through 127.0.0.1 (a tunnel or a
    proxy looks local too), so the page cannot tell the machine's own user from anyone else.
    """
    from pipelines import lsserver

    # The path lsserver.credentials_path names, built here because that helper creates folders as it goes.
    path = ws.services_dir() / lsserver.NAME / "credentials.json"
    url = label_studio_url(ws)
    with st.expander("Label Studio login", icon=":material/key:"):
        if url:
            st.markdown(f"Label Studio runs at [{url}]({url}/user/login/); it asks for this login once per browser.")
        if not path.is_file():
            st.caption(
                f"No login is stored in this workspace (`{path}` is missing): this Label Studio was not started here "
                "by `factory up`. Ask whoever runs it for an account."
            )
            return
        try:
            email = str(json.loads(path.read_text(encoding="utf-8"))["email"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            st.warning(
                f"**{path}** — expected JSON with `email` and `password`, but found {type(e).__name__}.  \n"
                "**How to fix:** restore the file, or set a new admin password with "
                "`label-studio reset_password` and write it there.",
                icon=":material/error:",
            )
            return
        st.markdown(f"Email: `{email}`")
        st.caption(
            f"The password is in `{path}`, readable only by the account that runs the factory: on that machine, "
            f"`python -c \"import json; print(json.load(open('{path}'))['password'])\"` prints it."
        )


def _queue_page(task: str, spec, ws) -> None:
    from pipelines import labelstudio, queue

    state = _state(task)
    if state["queue"] is None and not spec.unlabeled and not queue.read_pushed(ws, task):
        _empty(task, spec, ws)  # no pool and nothing ever queued: no need to ask Label Studio
        return
    try:
        if state["project"] is None:
            state["project"] = labelstudio.ensure_project(spec, ws)
        # Loaded once; reloaded on demand (Refresh) or once when it runs out.
        if state["queue"] is None or not (_open(state) or state["checked"]):
            state["queue"] = labelstudio.list_queue(task, ws)
    except FactoryError as e:
        st.warning(error_text(e), icon=":material/cloud_off:")
        return
    except Exception as e:  # a down or unreachable server: say so and how to start it
        st.warning(
            f"Label Studio did not answer ({type(e).__name__}: {e}). Start the services with `factory up`.",
            icon=":material/cloud_off:",
        )
        return
    open_qs = _open(state)
    state["checked"] = not open_qs
    url = label_studio_url(ws)
    if url:
        st.link_button(
            "Open this project in Label Studio",
            f"{url}/projects/{state['project']}/data",
            icon=":material/open_in_new:",
            help="Label Studio asks for a login: see **Label Studio login** at the bottom of this page.",
        )
    _gauge({**labelstudio.water_level(task, ws), "open": len(open_qs)})
    flash, state["flash"] = state["flash"], None
    if flash:
        st.toast(flash, icon=":material/check:")
    tools = st.columns([1, 1, 3])
    tools[0].button(
        "Undo last answer",
        key="undo",
        shortcut="z",
        icon=":material/undo:",
        disabled=not state["answers"],
        on_click=_on_undo,
        args=(task, ws),
    )
    tools[1].button(
        "Refresh queue",
        key="refresh-queue",
        icon=":material/sync:",
        help="Load the questions Label Studio holds now (new runs add some).",
        on_click=_on_refresh,
        args=(task,),
    )
    _problems(task, state, ws)
    todo = [q for q in open_qs if q["ls_task_id"] not in state["skipped"]] or open_qs
    if todo:
        _question(task, spec, todo[0], ws)
    else:
        _empty(task, spec, ws)
    _my_answers(state)
    if open_qs:
        with st.expander(f"All open questions ({len(open_qs)})"):
            names = dict(zip(spec.label_ids, spec.label_names))
            st.dataframe(
                [
                    {
                        "text": q["text"],
                        "teacher": names.get(q["suggestion"], q["suggestion"]),
                        "confidence": q["score"],
                    }
                    for q in open_qs
                ],
                column_config={
                    "confidence": st.column_config.ProgressColumn(
                        "confidence", min_value=0.0, max_value=1.0, format="percent"
                    )
                },
                hide_index=True,
                width="stretch",
            )


def render() -> None:
    """The Label page: the task's next question, the water level, undo, this session's answers, the login."""
    st.title("Label")
    ws = workspace()
    task = task_picker(ws)
    if task is None:
        return
    try:
        spec = ws.load_task(task)
    except FactoryError as e:  # a damaged task: say which file and the fix instead of a traceback
        st.error(error_text(e), icon=":material/error:")
        return
    _queue_page(task, spec, ws)
    _login(ws)


render()
