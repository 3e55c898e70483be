"""Runs page: start the production flow (a Prefect deployment run) and follow every run of the task.

Every run is listed, however it was started (this page, `factory run`, `factory demo`, the water-level
trigger), under its one name (``pipeline-production-3``: the run folder, Prefect's flow run, the published
version's ``run``); a running one shows its stage's progress, its log tail and a Cancel button.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from factory.errors import FactoryError
from ui.common import STATE_COLORS, error_text, state_badge, task_picker, workspace
from ui.runs import (
    BUDGETS,
    FINAL,
    LOG_LINES,
    STUDENT_BUDGETS,
    cancel_run,
    list_runs,
    log_tail,
    progress_text,
    run_details,
    run_progress,
    start_run,
)
from ui.services import prefect_api_url, prefect_ui_url

DETAILED = 5  # runs whose stages are read on every refresh
STATE_ICONS = {
    "COMPLETED": ":material/check_circle:",
    "RUNNING": ":material/autorenew:",
    "FAILED": ":material/error:",
    "CRASHED": ":material/error:",
    "CANCELLED": ":material/cancel:",
    "CANCELLING": ":material/cancel:",
    "UNKNOWN": ":material/help:",
}
CONFIRM = "confirm-cancel"  # session key: the flow run whose Cancel awaits a yes


def _when(iso: str | None) -> str:
    if not iso:
        return "not started"
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: dict) -> str | None:
    if not run.get("start"):
        return None
    end = (
        datetime.fromisoformat(run["end"])
        if run.get("end")
        else datetime.now(datetime.fromisoformat(run["start"]).tzinfo)
    )
    secs = int((end - datetime.fromisoformat(run["start"])).total_seconds())
    return f"{secs // 60} min {secs % 60:02d} s"


def _open_model(task: str, version: str) -> None:
    # The Models page's picker and version control read these keys (ui.common.TASK_KEY, models' "version-<task>").
    st.session_state["task"] = task
    st.session_state[f"version-{task}"] = version
    st.switch_page("views/models.py", query_params={"task": task})


def _links(task: str, run: dict, ui_url: str | None) -> None:
    cols = st.columns([1, 1, 2])
    if ui_url and run.get("id"):
        cols[0].link_button(
            "Open in Prefect",
            f"{ui_url}/runs/flow-run/{run['id']}",
            icon=":material/open_in_new:",
            key=f"prefect-{run['key']}",
        )
    if run.get("version"):
        if cols[1].button(
            f"{run['version']} on Models",
            icon=":material/deployed_code:",
            key=f"models-{run['key']}",
            help=f"the version this run published, on the Models page (its run reads {run['name']})",
        ):
            _open_model(task, run["version"])
    if run.get("attempts"):
        parts = [
            f"[{a['state_name'] or a['state']}]({ui_url}/runs/flow-run/{a['id']})"
            if ui_url
            else (a["state_name"] or "")
            for a in run["attempts"]
        ]
        cols[2].caption(f"earlier attempts of this run (resumed after them): {', '.join(parts)}")


def _progress(run: dict, running_stages: set[str]) -> None:
    """The running stage's own progress (epochs, texts labeled) from the newest progress.json of the run."""
    p = run_progress(run)
    if not p or not p.get("total"):
        return
    # A finished stage's file stays behind: show it only while its stage runs (without Prefect: while unfinished).
    stale = p.get("step") not in running_stages if running_stages else p.get("done", 0) >= p["total"]
    if stale:
        return
    st.progress(min(p.get("done", 0) / p["total"], 1.0), text=progress_text(p))


def _logs(ws, run: dict) -> None:
    with st.expander(f"Log — last {LOG_LINES} lines", icon=":material/article:"):
        try:
            lines = log_tail(ws, run["id"])
        except Exception as e:  # Prefect went away: the rest of the card still helps
            st.caption(f"Could not read the log from Prefect ({type(e).__name__}: {e}).")
            return
        if not lines:
            st.caption("No log lines yet.")
            return
        st.code(
            "\n".join(f"{_when(x['time'])[11:]} {x['level']:<7} {x['message']}" for x in lines),
            language=None,
            wrap_lines=True,
        )


def _cancel_now(ws, run: dict) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        out = cancel_run(ws, run["id"])
    except Exception as e:  # Prefect refused or went away: say so on the card, keep the page
        st.session_state[f"cancel-error-{run['id']}"] = f"Prefect did not cancel the run ({type(e).__name__}: {e})."
        return
    st.session_state[f"cancelled-{run['id']}"] = f"Cancel requested: Prefect has the run as **{out['state_name']}**."


def _cancel(ws, run: dict) -> None:
    # Callbacks, not reruns: they run before the page (or its fragment) draws again, in full runs too.
    key = run["key"]
    if st.session_state.get(CONFIRM) != run["id"]:
        st.button(
            "Cancel run",
            icon=":material/cancel:",
            key=f"cancel-{key}",
            on_click=st.session_state.__setitem__,
            args=(CONFIRM, run["id"]),
        )
        return
    how = (
        "The process serving it stops it now."
        if run.get("deployment")
        else "It was started outside a deployment (`factory run`, `factory demo`): it stops when its stage ends."
    )
    st.warning(f"Cancel **{run['name']}**? {how} A later run of the same config resumes it.", icon=":material/warning:")
    yes, no, _ = st.columns([1, 1, 3])
    yes.button("Yes, cancel the run", type="primary", key=f"cancel-yes-{key}", on_click=_cancel_now, args=(ws, run))
    no.button("Keep it running", key=f"cancel-no-{key}", on_click=st.session_state.pop, args=(CONFIRM, None))


def _run_card(ws, task: str, run: dict, ui_url: str | None, detailed: bool, first: bool) -> None:
    state = run.get("state") or "PENDING"
    version = f" · published {run['version']}" if run.get("version") else ""
    label = (
        f"{STATE_ICONS.get(state, ':material/schedule:')} {run['name']} · {run.get('flow') or 'flow'}"
        f" · {run.get('state_name') or state.title()}{version}"
    )
    with st.expander(label, expanded=first or state in ("FAILED", "CRASHED")):
        cols = st.columns([1, 2, 2])
        with cols[0]:
            state_badge(state, run.get("state_name"))
        cols[1].caption(f"started {_when(run.get('start'))}")
        dur = _duration(run)
        if state == "UNKNOWN":
            cols[2].caption("Prefect has no record of it; the workspace's run ledger lists it")
        else:
            cols[2].caption(
                f"took {dur}" if run.get("end") and dur else (f"running for {dur}" if dur else "waiting for the runner")
            )
        _links(task, run, ui_url)
        cancelled = st.session_state.get(f"cancelled-{run.get('id')}")
        if cancelled:
            st.info(cancelled, icon=":material/cancel:")
        if st.session_state.get(f"cancel-error-{run.get('id')}"):
            st.error(st.session_state.pop(f"cancel-error-{run.get('id')}"), icon=":material/error:")
        if not detailed:
            return
        running: set[str] = set()
        d = None
        if run.get("id"):
            try:
                d = run_details(ws, run["id"])
            except Exception as e:  # Prefect went away between the list and the details
                st.caption(f"Could not read the run's stages from Prefect ({type(e).__name__}: {e}).")
        if d and d["stages"]:
            st.progress(d["done"] / d["total"], text=f"{d['done']} of {d['total']} stages done")
            st.markdown(
                " ".join(
                    f":{STATE_COLORS.get(s['state'] or 'PENDING', 'gray')}-badge[{s['stage']}]" for s in d["stages"]
                )
            )
            running = {s["stage"] for s in d["stages"] if s["state"] == "RUNNING"}
        if state == "RUNNING" or (state == "UNKNOWN" and run.get("ledger_status") != "done"):
            _progress(run, running)
        if d and state in ("FAILED", "CRASHED"):
            failed = [s for s in d["stages"] if s["state"] in ("FAILED", "CRASHED") and s["message"]]
            if failed:
                # The stage's message is the cause; the flow's repeats it, so show the stages' only.
                for s in failed:
                    st.error(f"**The run failed at stage {s['stage']}.** {s['message']}", icon=":material/error:")
            else:
                st.error(
                    f"**The run failed.** {d['message'] or 'Prefect recorded no message; open the run in Prefect for its logs.'}",
                    icon=":material/error:",
                )
        if run.get("id"):
            if state not in FINAL and state != "CANCELLING" and not cancelled:
                _cancel(ws, run)
            _logs(ws, run)


def _start(ws, task: str, ui_url: str | None) -> None:
    with st.container(border=True):
        st.markdown(
            "**Start a production run**: teacher and generator, labels, questions for humans, student, artifact."
        )
        left, mid, right = st.columns([3, 3, 1], vertical_alignment="bottom")
        budget = left.selectbox("Budget", list(BUDGETS), key="budget")
        student = mid.selectbox(
            "Student",
            list(STUDENT_BUDGETS),
            key="student-budget",
            help="which student kinds to train; the best on dev is published",
        )
        if right.button("Start run", type="primary", icon=":material/play_arrow:", key="start-run", width="stretch"):
            try:
                run_id = start_run(ws, task, BUDGETS[budget], STUDENT_BUDGETS[student])
            except FactoryError as e:
                st.error(error_text(e))
                return
            except Exception as e:  # the deployment is not served, or Prefect is unreachable
                st.error(
                    f"Prefect did not accept the run ({type(e).__name__}: {e}). Are the deployments served? Run `factory up`."
                )
                return
            st.session_state["started-run"] = run_id
        started = st.session_state.get("started-run")
        if started:
            link = f" · [open in Prefect]({ui_url}/runs/flow-run/{started})" if ui_url else ""
            st.success(
                f"Run `{started}` scheduled{link}. It appears below and updates on its own.",
                icon=":material/rocket_launch:",
            )


@st.fragment(run_every="5s")
def _runs(ws, task: str, ui_url: str | None, use_prefect: bool = True) -> None:
    try:
        runs = list_runs(ws, task, use_prefect=use_prefect)
    except Exception as e:  # Prefect went away between refreshes: say so, list what the workspace knows
        st.warning(f"Could not read runs from Prefect ({type(e).__name__}: {e}).", icon=":material/cloud_off:")
        runs = list_runs(ws, task, use_prefect=False)
    if not runs:
        st.info(
            f"No runs for **{task}** yet. Start one above; the finished student shows up on **Models**.",
            icon=":material/history:",
        )
        return
    st.caption(f"{len(runs)} recent run{'s' if len(runs) != 1 else ''} · refreshes every 5 s")
    for i, run in enumerate(runs):
        _run_card(ws, task, run, ui_url, detailed=i < DETAILED, first=i == 0)


def render() -> None:
    st.title("Runs")
    ws = workspace()
    task = task_picker(ws)
    if task is None:
        return
    if prefect_api_url(ws) is None:
        st.warning(
            "Prefect is not running. Start the factory's services with `factory up`, then come back."
            " Below: the runs the workspace recorded.",
            icon=":material/cloud_off:",
        )
        _runs(ws, task, None, use_prefect=False)
        return
    ui_url = prefect_ui_url(ws)
    if ui_url:
        st.link_button("Prefect UI", ui_url, icon=":material/open_in_new:")
    _start(ws, task, ui_url)
    _runs(ws, task, ui_url)


render()
