"""Runs page: start the production flow (a Prefect deployment run) and watch its stages."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from factory.errors import FactoryError
from ui.common import STATE_COLORS, error_text, state_badge, task_picker, workspace
from ui.runs import BUDGETS, STUDENT_BUDGETS, list_runs, run_details, start_run
from ui.services import prefect_api_url, prefect_ui_url

DETAILED = 5  # runs whose stages are read on every refresh
STATE_ICONS = {
    "COMPLETED": ":material/check_circle:",
    "RUNNING": ":material/autorenew:",
    "FAILED": ":material/error:",
    "CRASHED": ":material/error:",
    "CANCELLED": ":material/cancel:",
}


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


def _run_card(ws, run: dict, ui_url: str | None, detailed: bool, first: bool) -> None:
    state = run.get("state") or "PENDING"
    label = f"{STATE_ICONS.get(state, ':material/schedule:')} {run['name']} · {run.get('flow') or 'flow'} · {run.get('state_name') or state.title()}"
    with st.expander(label, expanded=first or state in ("FAILED", "CRASHED")):
        cols = st.columns([1, 2, 2, 2])
        with cols[0]:
            state_badge(state, run.get("state_name"))
        cols[1].caption(f"started {_when(run.get('start'))}")
        dur = _duration(run)
        cols[2].caption(
            f"took {dur}" if run.get("end") and dur else (f"running for {dur}" if dur else "waiting for the runner")
        )
        if ui_url:
            cols[3].link_button(
                "Open in Prefect",
                f"{ui_url}/runs/flow-run/{run['id']}",
                icon=":material/open_in_new:",
                key=f"prefect-{run['id']}",
            )
        if not detailed:
            return
        d = run_details(ws, run["id"])
        if d["stages"]:
            st.progress(d["done"] / d["total"], text=f"{d['done']} of {d['total']} stages done")
            st.markdown(
                " ".join(
                    f":{STATE_COLORS.get(s['state'] or 'PENDING', 'gray')}-badge[{s['stage']}]" for s in d["stages"]
                )
            )
        if state in ("FAILED", "CRASHED"):
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
def _runs(ws, task: str, ui_url: str | None) -> None:
    try:
        runs = list_runs(ws, task)
    except Exception as e:  # Prefect went away between refreshes: say so, keep the page
        st.warning(f"Could not read runs from Prefect ({type(e).__name__}: {e}).", icon=":material/cloud_off:")
        return
    if not runs:
        st.info(
            f"No runs for **{task}** yet. Start one above; the finished student shows up on **Models**.",
            icon=":material/history:",
        )
        return
    st.caption(f"{len(runs)} recent run{'s' if len(runs) != 1 else ''} · refreshes every 5 s")
    for i, run in enumerate(runs):
        _run_card(ws, run, ui_url, detailed=i < DETAILED, first=i == 0)


def render() -> None:
    st.title("Runs")
    ws = workspace()
    task = task_picker(ws)
    if task is None:
        return
    if prefect_api_url(ws) is None:
        st.warning(
            "Prefect is not running. Start the factory's services with `factory up`, then come back.",
            icon=":material/cloud_off:",
        )
        return
    ui_url = prefect_ui_url(ws)
    if ui_url:
        st.link_button("Prefect UI", ui_url, icon=":material/open_in_new:")
    _start(ws, task, ui_url)
    _runs(ws, task, ui_url)


render()
