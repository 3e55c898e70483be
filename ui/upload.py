"""Uploaded files -> the same intake validation as ``factory task create``.

An upload is written to a private temporary directory (never executed, never
unpickled: the readers parse it as UTF-8 CSV or JSON lines), size-checked first,
then read by :mod:`factory.readers` and checked by :func:`factory.intake.build_spec`.
Each file is checked on its own before the combined checks so that one bad
file does not hide the problems of another.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from factory.errors import TaskError
from factory.intake import IntakeConfig, build_spec, create_task
from factory.readers import Fields, read_examples
from factory.spec import TaskSpec, validate_task_name
from factory.workspace import Workspace

# A few-shot task's files are small; the whole EPRSTMT pool is ~3 MB.
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
SPLITS = ("train", "dev", "test", "unlabeled")
TEXT_GUESSES = ("text", "sentence", "content", "review", "utterance", "query")
# Label *names* first: FewCLUE files carry ids in `label` ("100") and the names a teacher needs in `label_desc`.
LABEL_GUESSES = ("label_desc", "label_des", "label_name", "label", "labels", "category", "class", "intent", "sentiment")


@dataclass
class Upload:
    """One uploaded file: the name the user gave it and its bytes."""

    name: str
    data: bytes


@dataclass
class Checked:
    """The outcome of checking uploads: a spec when everything passed, else every error found."""

    spec: TaskSpec | None = None
    errors: list[TaskError] = field(default_factory=list)


def human_size(n: int) -> str:
    """Bytes in the unit people read: bytes, KiB or MiB."""
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def file_format(filename: str) -> str:
    """``csv`` or ``jsonl`` from the upload's extension (the uploader only accepts these)."""
    ext = Path(filename).suffix.lower()
    if ext not in EXTENSIONS:
        raise TaskError(
            "a .csv, .tsv, .jsonl or .json file",
            repr(filename),
            "save the data as CSV with a header row, or as JSON lines",
            where=filename,
        )
    return EXTENSIONS[ext]


def save_upload(up: Upload, dest: Path) -> Path:
    """Write ``up`` into ``dest`` under a safe name (its extension kept), enforcing :data:`UPLOAD_MAX_BYTES`."""
    file_format(up.name)
    if len(up.data) > UPLOAD_MAX_BYTES:
        raise TaskError(
            f"a file of at most {human_size(UPLOAD_MAX_BYTES)}",
            human_size(len(up.data)),
            "upload a sample of the data: few-shot tasks need a dozen examples per class and a modest pool",
            where=up.name,
        )
    # The user's name shows up in error messages; only its harmless characters reach the disk.
    base = Path(up.name).name
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(base).stem)[:60].strip("._") or "upload"
    path = dest / f"{stem}{Path(base).suffix.lower()}"
    n = 1
    while path.exists():
        path = dest / f"{stem}-{n}{Path(base).suffix.lower()}"
        n += 1
    path.write_bytes(up.data)
    return path


def columns(up: Upload, limit: int = 200) -> list[str]:
    """Column names (CSV header) or JSON keys (first ``limit`` lines) to offer for mapping; ``[]`` if unreadable."""
    try:
        text = up.data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return []
    if file_format(up.name) == "csv":
        delim = "\t" if up.name.lower().endswith(".tsv") else ","
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        except (StopIteration, csv.Error):
            return []
        return [h.strip() for h in header if h.strip()]
    keys: list[str] = []
    for line in text.split("\n")[:limit]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            keys += [k for k in row if k not in keys]
    return keys


def free_name(ws, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… : the first task name not taken in ``ws``."""
    try:
        if not ws.has_task(stem):
            return stem
    except TaskError:
        return stem  # the name check below explains what is wrong with it
    i = 2
    while ws.has_task(f"{stem[:60]}-{i}"):
        i += 1
    return f"{stem[:60]}-{i}"


def name_taken(ws, name: str) -> TaskError | None:
    """The error to show when ``name`` is already a task of ``ws``, in the page's words."""
    try:
        if not ws.has_task(name):
            return None
    except TaskError:
        return None  # not a valid name at all: the name check reports that

    return TaskError(
        "a new task name",
        f"a task called {name!r} already exists",
        "type another name in 'Task name' (the existing task and its models stay as they are)",
        where="task name",
    )


def guess(cols: list[str], names: tuple[str, ...]) -> str | None:
    """The first column whose name is a usual name for the text or the label."""
    low = {c.lower(): c for c in cols}
    return next((low[n] for n in names if n in low), None)


def _config(
    name: str,
    paths: dict[str, Path],
    fmt: str,
    text_field: str,
    label_field: str,
    language: str | None,
    text_name: str | None = None,
    prompt: str | None = None,
) -> IntakeConfig:
    return IntakeConfig(
        name=name,
        fmt=fmt,
        language=language,
        text_field=text_field,
        label_field=label_field,
        text_name=text_name,
        prompt=prompt,
        **{k: str(v) for k, v in paths.items()},
    )


def check_uploads(
    name: str,
    uploads: dict[str, Upload],
    text_field: str,
    label_field: str,
    dest: Path,
    language: str | None = None,
    text_name: str | None = None,
    prompt: str | None = None,
) -> tuple[Checked, dict[str, Path]]:
    """Save ``uploads`` (keys in :data:`SPLITS`) under ``dest`` and run the intake checks.

    Returns every error found: the name, each file on its own, then (when all
    files read) the checks across files. Nothing is written to the workspace.
    """
    out = Checked()
    try:
        validate_task_name(name)
    except TaskError as e:
        out.errors.append(e)
    if "train" not in uploads:
        out.errors.append(
            TaskError(
                "a file of labeled gold examples", "no file", "upload the gold examples first", where="gold examples"
            )
        )
        return out, {}
    paths: dict[str, Path] = {}
    fmts = set()
    for split, up in uploads.items():
        try:
            fmt = file_format(up.name)
            path = save_upload(up, dest)
            read_examples(path, fmt, Fields(text=text_field, label=label_field), labeled=split != "unlabeled")
            paths[split] = path
            fmts.add(fmt)
        except TaskError as e:
            out.errors.append(e)
    if out.errors:
        return out, paths
    if len(fmts) > 1:
        out.errors.append(
            TaskError(
                "all files in one format",
                f"{sorted(fmts)}",
                "upload every file as CSV, or every file as JSON lines",
                where="files",
            )
        )
        return out, paths
    try:
        out.spec = build_spec(_config(name, paths, fmts.pop(), text_field, label_field, language, text_name, prompt))
    except TaskError as e:
        out.errors.append(e)
    return out, paths


def create_from_uploads(
    ws: Workspace,
    name: str,
    paths: dict[str, Path],
    text_field: str,
    label_field: str,
    language: str | None,
    text_name: str | None = None,
    prompt: str | None = None,
) -> TaskSpec:
    """Store the task through :func:`factory.intake.create_task`, exactly as the CLI does."""
    fmt = file_format(paths["train"].name)
    return create_task(
        name,
        paths["train"],
        dev=paths.get("dev"),
        test=paths.get("test"),
        unlabeled=paths.get("unlabeled"),
        fmt=fmt,
        language=language,
        text_field=text_field,
        label_field=label_field,
        workspace=ws,
        text_name=text_name,
        prompt=prompt,
    )
