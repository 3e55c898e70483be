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
    UPLOAD_MAX_BYTES,
    Upload,
    check_uploads,
    human_size,
    columns,
    create_from_uploads,
    free_name,
    guess,
    name_taken,
)

LANG_CHOICES = {"detect": None, "Chinese (zh)": "zh", "English (en)": "en"}
UPLOAD_TYPES = ["csv", "tsv", "jsonl", "json"]


def preview(spec: TaskSpec) -> None:
    """Counts per split, examples per label and the first gold rows."""
    from factory.datacheck import data_warnings, resolve_conflicts

    info = summary(spec)
    c = info["counts"]
    for w in resolve_conflicts(spec, "warn")[1] + data_warnings(spec):  # never blocking: what to look at, and the fix
        st.warning(f"{w['message']}. **Fix:** {w['fix']}", icon=":material/warning:")
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
    left.dataframe(counts, width="stretch")
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
        help=f"CSV with a header row or JSON lines; at most {human_size(UPLOAD_MAX_BYTES)}. Nothing in the file is executed.",
    )
    with st.expander("More files (optional): dev, test, unlabeled pool"):
        extra = {
            split: st.file_uploader(f"{split.title()} set", type=UPLOAD_TYPES, key=_key(f"up-{split}"))
            for split in ("dev", "test", "unlabeled")
        }
    if gold is None:
        st.info(
            'Upload a CSV (columns such as `text,label`) or a JSON-lines file (`{"text": …, "label": …}` per line) to start.',
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
        if taken is not None:
            checked.errors.insert(0, taken)
        if checked.errors:
            show_errors(checked.errors, "The task cannot be created yet")
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
                create_from_uploads(ws, name, paths, text_field, label_field, lang, text_name=text_name, prompt=prompt)
            except TaskError as e:
                show_errors([e], "The task was not created")
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
        try:
            with st.spinner("Reading and checking the sample…"):
                create_sample(ws, key, name, split=split, with_pool=pool)
        except TaskError as e:
            show_errors([e], "The task was not created")
            return
        _created(name)
        st.rerun()


def task_table(ws) -> None:
    """Every task folder as a row; one whose files are damaged is marked broken with the reason, not left out."""
    # broken_tasks() loads each task fully, so a damaged task.json or data file shows here rather than
    # breaking the whole page (or a later run).
    broken = ws.broken_tasks()
    rows = []
    for name in sorted(set(ws.list_tasks()) | set(broken)):
        if name in broken:
            rows.append({"task": name, "status": "broken", "problem": broken[name]})
            continue
        meta = ws.task_meta(name)
        c = meta.get("counts", {})
        rows.append(
            {
                "task": name,
                "status": "ok",
                "language": meta.get("language"),
                "labels": len(meta.get("labels", [])),
                "gold": c.get("gold"),
                "dev": c.get("dev"),
                "test": c.get("test"),
                "unlabeled": c.get("unlabeled"),
                "models": len(ws.model_versions(name)),
                "created": meta.get("created"),
                "problem": "",
            }
        )
    if not rows:
        st.info("No tasks yet: create the first one in the **New task** tab.", icon=":material/inbox:")
        return
    for name, reason in sorted(broken.items()):
        st.error(f"Task **{name}** is broken and cannot be run: {reason}", icon=":material/error:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    _data_checks(ws, [r["task"] for r in rows if r["status"] == "ok"])


def _data_checks(ws, names: list[str]) -> None:
    """Before a run: the stored task's data warnings, each with its fix (the same checks as intake)."""
    from factory.datacheck import data_warnings, resolve_conflicts

    if not names:
        return
    name = st.selectbox("Data checks for", names, key="check-task")
    try:
        spec = ws.load_task(name)
    except TaskError as e:
        st.error(str(e))
        return
    warnings = resolve_conflicts(spec, "warn")[1] + data_warnings(spec)
    if not warnings:
        st.success(f"No data warnings for **{name}**.", icon=":material/check:")
    for w in warnings:
        st.warning(f"{w['message']}. **Fix:** {w['fix']}", icon=":material/warning:")


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
