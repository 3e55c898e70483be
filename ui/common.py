"""Pieces every page shares: the workspace, the task picker, error banners, status colors.

Pages are Streamlit scripts under ``ui/views``; they keep no state of their own
beyond ``st.session_state`` so that a reload (or another browser tab) shows the
same workspace.
"""

from __future__ import annotations

import streamlit as st

from factory.errors import TaskError
from factory.workspace import Workspace

TASK_KEY = "task"

# Prefect state types -> Streamlit badge colors (and a word people read).
STATE_COLORS = {
    "COMPLETED": "green",
    "RUNNING": "blue",
    "PENDING": "gray",
    "SCHEDULED": "gray",
    "PAUSED": "orange",
    "CANCELLING": "orange",
    "CANCELLED": "orange",
    "FAILED": "red",
    "CRASHED": "red",
}


def workspace() -> Workspace:
    """The workspace under ``$FACTORY_HOME`` (read on every run so tests can point it elsewhere)."""
    return Workspace()


def task_picker(ws: Workspace, *, where=None) -> str | None:
    """A task selector kept in ``st.session_state['task']``; ``None`` (with a hint) when there are no tasks."""
    where = where or st
    tasks = ws.list_tasks()
    if not tasks:
        where.info(
            "No tasks yet. Create one on the **Tasks** page (upload a file or pick a bundled sample).",
            icon=":material/info:",
        )
        return None
    # A ?task= link opens that task; after that the picker (and the session) decide.
    current = st.session_state.get(TASK_KEY) or st.query_params.get("task")
    index = tasks.index(current) if current in tasks else 0
    name = where.selectbox("Task", tasks, index=index, key=f"picker-{TASK_KEY}")
    st.session_state[TASK_KEY] = name
    st.query_params["task"] = name
    return name


def error_text(err: BaseException) -> str:
    """One error in plain words: where, what was expected, what was found, and the fix."""
    if isinstance(err, TaskError):
        head = f"**{err.where}** — " if err.where else ""
        return f"{head}expected {err.expected}, but found {err.found}.  \n**How to fix:** {err.fix}"
    return str(err)


def show_errors(errors: list[BaseException], title: str) -> None:
    """A red banner per error so none is hidden behind the first."""
    st.error(f"{title} ({len(errors)} problem{'s' if len(errors) != 1 else ''})", icon=":material/error:")
    for err in errors:
        st.error(error_text(err))


def state_badge(state_type: str | None, name: str | None = None) -> None:
    """A colored badge for a Prefect state."""
    key = (state_type or "PENDING").upper()
    st.badge(name or key.title(), color=STATE_COLORS.get(key, "gray"))


def fmt_pct(v) -> str:
    return "–" if v is None else f"{100 * float(v):.1f}%"
