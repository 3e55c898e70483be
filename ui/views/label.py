"""Label page: answer the task's annotation queue (stored in Label Studio) one click per question."""

from __future__ import annotations

import streamlit as st

from factory.errors import FactoryError
from ui.common import error_text, task_picker, workspace
from ui.services import label_studio_url

SKIPPED_KEY = "skipped"
PER_ROW = 5


def _escape(text: str) -> str:
    # Queue texts are user data: show them literally, never as Markdown or HTML.
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in text)


def _gauge(level: dict) -> None:
    new, target = level["new"], level["level"]
    cols = st.columns(3)
    cols[0].metric(
        "New answers",
        f"{new} / {target}",
        border=True,
        help="answers since the last iteration, against the water level",
    )
    cols[1].metric("All answers", level["answers"], border=True)
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


def _answer(task: str, q: dict, label_id: str, ws) -> None:
    from pipelines.labelstudio import pull_answers, submit_answer

    submit_answer(task, q["ls_task_id"], label_id, ws)
    pull_answers(task, ws)
    st.session_state["answered"] = (q["text"], label_id)


def _question(task: str, spec, q: dict, ws) -> None:
    names = dict(zip(spec.label_ids, spec.label_names))
    with st.container(border=True):
        st.caption("Question · the teacher is least sure about this one")
        st.markdown(f"#### {_escape(q['text'] or '')}")
        if q.get("suggestion") is not None:
            conf = q.get("score")
            left, right = st.columns([1, 3])
            with left:
                st.badge(
                    f"Teacher: {names.get(q['suggestion'], q['suggestion'])}",
                    icon=":material/smart_toy:",
                    color="violet",
                )
            if conf is not None:
                right.progress(float(conf), text=f"confidence {100 * float(conf):.0f}%")
        st.caption(
            "Keys: "
            + ", ".join(f"**{i + 1}** {names[lid]}" for i, lid in enumerate(spec.label_ids[:9]))
            + " · **S** skip"
        )
        ids = spec.label_ids
        for start in range(0, len(ids), PER_ROW):
            cols = st.columns(PER_ROW)
            for j, lid in enumerate(ids[start : start + PER_ROW]):
                i = start + j
                if cols[j].button(
                    names[lid],
                    key=f"answer-{lid}",
                    type="primary" if lid == q.get("suggestion") else "secondary",
                    shortcut=str(i + 1) if i < 9 else None,
                    width="stretch",
                ):
                    _answer(task, q, lid, ws)
                    st.rerun()
        if st.button("Skip for now", key="skip", shortcut="s", icon=":material/skip_next:"):
            st.session_state.setdefault(SKIPPED_KEY, set()).add(q["ls_task_id"])
            st.rerun()


def render() -> None:
    st.title("Label")
    ws = workspace()
    task = task_picker(ws)
    if task is None:
        return
    from pipelines.labelstudio import ensure_project, list_queue, pull_answers, water_level

    try:
        spec = ws.load_task(task)
    except FactoryError as e:  # a damaged task: say which file and the fix instead of a traceback
        st.error(error_text(e), icon=":material/error:")
        return
    try:
        project = ensure_project(spec, ws)
        pull_answers(task, ws)
        queue = list_queue(task, ws)
    except FactoryError as e:
        st.warning(error_text(e), icon=":material/cloud_off:")
        return
    except Exception as e:  # a down or unreachable server: say so and how to start it
        st.warning(
            f"Label Studio did not answer ({type(e).__name__}: {e}). Start the services with `factory up`.",
            icon=":material/cloud_off:",
        )
        return
    url = label_studio_url(ws)
    if url:
        st.link_button(
            "Open this project in Label Studio", f"{url}/projects/{project}/data", icon=":material/open_in_new:"
        )
    _gauge({**water_level(task, ws), "open": len(queue)})
    done = st.session_state.pop("answered", None)
    if done:
        st.toast(f"Saved “{done[0][:40]}” as {done[1]}", icon=":material/check:")
    skipped = st.session_state.get(SKIPPED_KEY, set())
    todo = [q for q in queue if q["ls_task_id"] not in skipped] or queue
    if not todo:
        st.info(
            "The queue is empty: nothing is waiting for an answer. A production run (see **Runs**) queues the questions the teacher is least sure of.",
            icon=":material/done_all:",
        )
        return
    _question(task, spec, todo[0], ws)
    with st.expander(f"All open questions ({len(queue)})"):
        names = dict(zip(spec.label_ids, spec.label_names))
        st.dataframe(
            [
                {"text": q["text"], "teacher": names.get(q["suggestion"], q["suggestion"]), "confidence": q["score"]}
                for q in queue
            ],
            column_config={
                "confidence": st.column_config.ProgressColumn(
                    "confidence", min_value=0.0, max_value=1.0, format="percent"
                )
            },
            hide_index=True,
            width="stretch",
        )


render()
