"""Tasks page: create a task from uploaded files or a bundled sample; list existing tasks."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from factory.summary import summary
from factory.errors import TaskError
from factory.spec import TaskSpec
from ui.common import TASK_KEY, show_errors, workspace
from ui.samples import SAMPLES, create_sample
from ui.upload import (
    LABEL_GUESSES,
    TEXT_GUESSES,
    UNLABELED_CONTROL,
    UPLOAD_MAX_BYTES,
    Upload,
    check_uploads,
    human_size,
    columns,
    create_from_uploads,
    free_name,
    guess,
    name_taken,
    page_error,
    page_fix,
    page_warning,
    when,
)

LANG_CHOICES = {"detect": None, "Chinese (zh)": "zh", "English (en)": "en"}
UPLOAD_TYPES = ["csv", "tsv", "jsonl", "json"]
NO_POOL = "the factory can't ask questions or learn from unlabeled texts"
# The pages a task's actions open (ui/app.py's navigation), by button.
TASK_ACTIONS = {
    "Run": ("runs", ":material/play_circle:"),
    "Label": ("label", ":material/label:"),
    "Models": ("models", ":material/deployed_code:"),
}


def _warn(w: dict) -> None:
    w = page_warning(w)
    st.warning(f"{w['message']}. **Fix:** {w['fix']}", icon=":material/warning:")


def preview(spec: TaskSpec) -> None:
    """Counts per split, examples per label and the first gold rows."""
    from intake.datacheck import data_warnings, resolve_conflicts

    info = summary(spec)
    c = info["counts"]
    for w in resolve_conflicts(spec, "warn")[1] + data_warnings(spec):  # never blocking: what to look at, and the fix
        _warn(w)
    if not spec.unlabeled:
        st.warning(
            f"No unlabeled pool: {NO_POOL}. **Fix:** add one as {UNLABELED_CONTROL}: texts like the gold ones, "
            "without labels (hundreds to a few thousand).",
            icon=":material/inventory_2:",
        )
    cols = st.columns(5)
    cols[0].metric("Labels", c["labels"], border=True)
    cols[1].metric("Gold", c["gold"], border=True, help="labeled few-shot examples")
    cols[2].metric("Dev", c["dev"], border=True)
    cols[3].metric("Test", c["test"], border=True)
    cols[4].metric("Unlabeled", f"{c['unlabeled']:,}", border=True, help="pool the teacher labels")
    st.caption(f"Language: **{info['language']}** · water level: **{info['water_level']}** answers per iteration")
    counts = pd.DataFrame(
        {split: info["label_counts"][split] for split in ("gold", "dev", "test")},
        index=pd.Index(spec.label_ids, name="label"),
    )
    counts.insert(0, "name", [lab.name for lab in spec.labels])
    left, right = st.columns([2, 3])
    left.markdown("**Examples per label**")
    left.table(counts)  # a table wraps long label names where a dataframe cell would cut them
    right.markdown("**First gold examples**")
    right.dataframe(
        pd.DataFrame([{"text": e.text, "label": e.label} for e in spec.gold[:20]]), width="stretch", hide_index=True
    )


FORM_KEYS = (
    "map-text",
    "map-label",
    "map-text-free",
    "map-label-free",
    "name-up",
    "lang-up",
    "text-name-up",
    "prompt-up",
    "replace-up",
)


def _key(base: str) -> str:
    """A file uploader's key for the current form: a new key after each create empties the uploaders."""
    gen = st.session_state.get("upload-form", 0)
    return base if not gen else f"{base}-{gen}"


def _created(name: str) -> None:
    st.session_state[TASK_KEY] = name
    st.session_state["created"] = name
    # Reset the form: fresh uploaders, and the column/name/prompt fields back to their guesses.
    st.session_state["upload-form"] = st.session_state.get("upload-form", 0) + 1
    for k in FORM_KEYS:
        st.session_state.pop(k, None)


def from_upload(ws) -> None:
    gold = st.file_uploader(
        "Gold examples — labeled, a dozen or more per class",
        type=UPLOAD_TYPES,
        key=_key("up-train"),
        help=f"CSV with a header row or JSON lines; at most {human_size(UPLOAD_MAX_BYTES)}. "
        "Nothing in the file is executed.",
    )
    with st.expander("More files (optional): dev, test, unlabeled pool"):
        extra = {
            split: st.file_uploader(f"{split.title()} set", type=UPLOAD_TYPES, key=_key(f"up-{split}"))
            for split in ("dev", "test", "unlabeled")
        }
    if gold is None:
        st.info(
            "Upload a CSV (columns such as `text,label`) or a JSON-lines file "
            '(`{"text": …, "label": …}` per line) to start.',
            icon=":material/upload:",
        )
        return
    uploads = {"train": Upload(gold.name, gold.getvalue())}
    uploads.update({k: Upload(f.name, f.getvalue()) for k, f in extra.items() if f is not None})
    cols = columns(uploads["train"])
    c1, c2, c3, c4 = st.columns(4)
    if cols:
        text_field = c1.selectbox(
            "Text column", cols, index=cols.index(guess(cols, TEXT_GUESSES) or cols[0]), key="map-text"
        )
        default_label = guess(cols, LABEL_GUESSES) or cols[min(1, len(cols) - 1)]
        label_field = c2.selectbox("Label column", cols, index=cols.index(default_label), key="map-label")
    else:
        # Unreadable header: the checks below say why; keep the defaults so they can.
        text_field = c1.text_input("Text column", "text", key="map-text-free")
        label_field = c2.text_input("Label column", "label", key="map-label-free")
    # A file name makes a fine first guess at a task name once path-like characters are gone.
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(gold.name).stem).strip("-._")[:64] or "task"
    name = c3.text_input("Task name", value=st.session_state.get("name-up", free_name(ws, stem)), key="name-up")
    lang = LANG_CHOICES[c4.selectbox("Language", list(LANG_CHOICES), key="lang-up")]
    with st.expander("Prompt settings (optional)", icon=":material/chat:"):
        p1, p2 = st.columns([1, 3])
        text_name = (
            p1.text_input("A text is called", "", key="text-name-up", placeholder="商品评论 / customer message") or None
        )
        prompt = (
            p2.text_input(
                "Teacher prompt",
                "",
                key="prompt-up",
                placeholder="判断这条评论的情感。可选：{options}。\n评论：{text}",
                help="{text} is the text, {options} the label words; empty = the teacher's default",
            )
            or None
        )
    with tempfile.TemporaryDirectory(prefix="factory-upload-") as tmp:
        checked, paths = check_uploads(
            name, uploads, text_field, label_field, Path(tmp), language=lang, text_name=text_name, prompt=prompt
        )
        taken = name_taken(ws, name)
        replace = taken is not None and st.checkbox(
            "Replace the existing task",
            key="replace-up",
            help=f"task {name!r} gets these files' data and settings; its runs and models stay",
        )
        if taken is not None and not replace:
            checked.errors.insert(0, taken)
        if checked.errors:
            show_errors([page_error(e) for e in checked.errors], "The task cannot be created yet")
            st.button(
                "Create task",
                type="primary",
                disabled=True,
                key="create-up-disabled",
                help="fix the problems above first",
            )
            return
        st.success("All checks passed.", icon=":material/check_circle:")
        preview(checked.spec)
        if st.button("Create task", type="primary", key="create-up", icon=":material/add_task:"):
            try:
                create_from_uploads(
                    ws,
                    name,
                    paths,
                    text_field,
                    label_field,
                    lang,
                    text_name=text_name,
                    prompt=prompt,
                    overwrite=replace,
                )
            except TaskError as e:
                show_errors([page_error(e)], "The task was not created")
                return
            _created(name)
            st.rerun()


def from_sample(ws) -> None:
    key = st.selectbox("Sample", list(SAMPLES), format_func=lambda k: SAMPLES[k].title, key="sample")
    st.caption(SAMPLES[key].description)
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Task name", value=key, key=f"name-sample-{key}")
    split = c2.selectbox(
        "Few-shot split", [0, 1, 2, 3, 4], key="sample-split", help="FewCLUE's five official few-shot splits"
    )
    pool = c3.toggle("Include the unlabeled pool", value=True, key="sample-pool")
    if st.button("Create task", type="primary", key="create-sample", icon=":material/add_task:"):
        # Checked here so that the advice fits this form, which has no 'Replace the existing task'.
        taken = name_taken(ws, name, can_replace=False)
        if taken is not None:
            show_errors([taken], "The task was not created")
            return
        try:
            with st.spinner("Reading and checking the sample…"):
                create_sample(ws, key, name, split=split, with_pool=pool)
        except TaskError as e:
            show_errors([page_error(e)], "The task was not created")
            return
        _created(name)
        st.rerun()


def _md(text: str) -> str:
    """``text`` shown literally in markdown: label names are the user's, and may hold ``*``, ``_`` or ``[``."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$:])", r"\\\1", text)


def _label_text(label: dict) -> str:
    """A stored label by its full name, with its id beside it when the file used another one ("故事 (100)")."""
    lid = str(label.get("id"))
    name = str(label.get("name") or lid)
    return name if name == lid else f"{name} ({lid})"


def _open_page(name: str, page: str) -> None:
    """Select task ``name`` for the other pages (their task picker reads it) and switch to ``page``."""
    st.session_state[TASK_KEY] = name
    st.switch_page(f"views/{page}.py")


def _task_card(ws, name: str) -> None:
    """One stored task: its counts, every label name in full, when it was made, a missing pool, and its actions."""
    meta = ws.task_meta(name)
    c = meta.get("counts", {})
    labels = meta.get("labels", [])
    models = len(ws.model_versions(name))
    with st.container(border=True):
        info, actions = st.columns([4, 1])
        info.subheader(name, anchor=False)
        info.caption(
            f"{meta.get('language')} · {c.get('gold', 0)} gold · {c.get('dev', 0)} dev · {c.get('test', 0)} test · "
            f"{c.get('unlabeled', 0):,} unlabeled · {models} model{'s' if models != 1 else ''} · "
            f"created {when(meta.get('created'))}",
            help=meta.get("created"),
        )
        info.markdown(f"**Labels ({len(labels)}):** " + " · ".join(_md(_label_text(lab)) for lab in labels))
        if not c.get("unlabeled"):
            info.warning(
                f"No pool: {NO_POOL} — add one: create the task again with {UNLABELED_CONTROL} "
                "and tick 'Replace the existing task'.",
                icon=":material/inventory_2:",
            )
        for title, (page, icon) in TASK_ACTIONS.items():
            if actions.button(title, key=f"go-{page}-{name}", icon=icon, width="stretch"):
                _open_page(name, page)


def task_table(ws) -> None:
    """Every task folder as a card; one whose files are damaged is marked broken with the reason, not left out."""
    # broken_tasks() loads each task fully, so a damaged task.json or data file shows here rather than
    # breaking the whole page (or a later run).
    broken = ws.broken_tasks()
    names = sorted(set(ws.list_tasks()) | set(broken))
    if not names:
        st.info("No tasks yet: create the first one in the **New task** tab.", icon=":material/inbox:")
        return
    for name, reason in sorted(broken.items()):
        st.error(f"Task **{name}** is broken and cannot be run: {page_fix(reason)}", icon=":material/error:")
    for name in names:
        if name in broken:
            with st.container(border=True):
                st.subheader(name, anchor=False)
                st.badge("broken: cannot be run (see above)", icon=":material/error:", color="red")
        else:
            _task_card(ws, name)
    _data_checks(ws, [n for n in names if n not in broken])


def _data_checks(ws, names: list[str]) -> None:
    """Before a run: the stored task's data warnings, each with its fix (the same checks as intake)."""
    from intake.datacheck import data_warnings, resolve_conflicts

    if not names:
        return
    name = st.selectbox("Data checks for", names, key="check-task")
    try:
        spec = ws.load_task(name)
    except TaskError as e:
        st.error(page_fix(str(e)))
        return
    warnings = resolve_conflicts(spec, "warn")[1] + data_warnings(spec)
    if not warnings:
        st.success(f"No data warnings for **{name}**.", icon=":material/check:")
    for w in warnings:
        _warn(w)


def render() -> None:
    st.title("Tasks")
    ws = workspace()
    created = st.session_state.pop("created", None)
    if created:
        st.success(
            f"Task **{created}** created. Next: start a run on the **Runs** page, or answer its queue on **Label**.",
            icon=":material/task_alt:",
        )
    new, existing = st.tabs(["New task", f"Your tasks ({len(ws.list_tasks())})"])
    with new:
        source = st.radio("Start from", ["Upload files", "Bundled sample"], horizontal=True, key="source")
        if source == "Upload files":
            from_upload(ws)
        else:
            from_sample(ws)
    with existing:
        task_table(ws)


render()
