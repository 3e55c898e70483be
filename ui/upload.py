"""Uploaded files -> the same intake validation as ``factory task create``.

An upload is written to a private temporary directory (never executed, never
unpickled: the readers parse it as UTF-8 CSV or JSON lines), size-checked first,
then read by :mod:`intake.readers` and checked by :func:`intake.create.build_spec`.
Each file is checked on its own before the combined checks so that one bad
file does not hide the problems of another.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from factory.errors import TaskError
from intake.create import IntakeConfig, build_spec, create_task
from intake.readers import Fields, read_examples
from factory.spec import TaskSpec, validate_task_name
from factory.workspace import Workspace

# The upload form's controls, as the page names them in its advice.
REPLACE_CONTROL = "'Replace the existing task'"
UNLABELED_CONTROL = "the 'Unlabeled set' under 'More files'"
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


def name_taken(ws, name: str, can_replace: bool = True) -> TaskError | None:
    """The error to show when ``name`` is already a task of ``ws``, in the page's words.

    ``can_replace``: the form offers 'Replace the existing task' (uploads do, the bundled samples do not).
    """
    try:
        if not ws.has_task(name):
            return None
    except TaskError:
        return None  # not a valid name at all: the name check reports that
    fix = "type another name in 'Task name' (the existing task and its models stay as they are)"
    if can_replace:
        fix += f", or tick {REPLACE_CONTROL} to replace its data (its runs and models stay)"
    return TaskError("a new task name", f"a task called {name!r} already exists", fix, where="task name")


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
    overwrite: bool = False,
) -> TaskSpec:
    """Store the task through :func:`intake.create.create_task`, exactly as the CLI does.

    ``overwrite`` replaces the data and settings of a task of that name (its runs and models stay).
    """
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
        overwrite=overwrite,
    )


# -- page words ------------------------------------------------------------------
# The library's messages are written for the command line ("pass --text-field NAME"); the Tasks page shows
# the same errors and warnings, where a flag means nothing: the advice has to name the page's controls.
# Every flag those messages can carry needs an entry here (tests/ui/test_page_words.py scans for new ones).
PAGE_FLAGS: dict[str, str] = {
    "--text-field": "'Text column'",
    "--label-field": "'Label column'",
    "--unlabeled": UNLABELED_CONTROL,
    "--train": "'Gold examples'",
    "--dev": "the 'Dev set' under 'More files'",
    "--test": "the 'Test set' under 'More files'",
    "--format": "the file type",
    "--language": "'Language'",
    # The page reads the label set from the gold file: there is no list to declare.
    "--labels": "the labels in the gold file",
    "--labels-file": "the labels in the gold file",
    "--overwrite": REPLACE_CONTROL,
    "--conflicts": "conflicting labels",
    "--shots": "the number of gold examples per label",
    "--workspace": "the workspace folder ($FACTORY_HOME)",
}

# Whole pieces of advice first: a sentence rewritten as a whole reads better than one with a flag swapped out.
_PAGE_PHRASES: list[tuple[re.Pattern, str]] = [
    (re.compile(p), r)
    for p, r in (
        (r"pass --text-field NAME|name the text field with --text-field", "pick the text column in 'Text column'"),
        (r"pass --label-field NAME", "pick the label column in 'Label column'"),
        (r"was the train file passed as --unlabeled\?", "was the gold file also uploaded as the 'Unlabeled set'?"),
        (r"pass the unlabeled pool file as --unlabeled", f"upload the unlabeled pool as {UNLABELED_CONTROL}"),
        (r"pass the file as --unlabeled", f"upload the file as {UNLABELED_CONTROL}"),
        (r"pass --format csv, jsonl, fewclue, sst or banking", "upload a .csv, .tsv, .jsonl or .json file"),
        (r"pass --format explicitly", "rename the file so that it ends in .csv, .tsv, .jsonl or .json"),
        (r",? or --format in(?: \[[^\]]*\])?", ""),
        (
            r"pass --language zh or --language en, or leave it out to detect it",
            "choose Chinese (zh) or English (en) in 'Language', or leave it at 'detect'",
        ),
        (r"pass --language zh or --language en", "choose Chinese (zh) or English (en) in 'Language'"),
        (r"either --labels or --labels-file", "one set of labels"),
        (r"add it to --labels / the labels file", "add gold examples of it to the gold file"),
        (r"remove empty entries from --labels", "remove the empty labels from the file"),
        (r"pick another name or pass --overwrite", f"type another name in 'Task name', or tick {REPLACE_CONTROL}"),
        (
            r"recreate it: `factory task create \S+ \.\.\. --overwrite`",
            f"create it again on the 'New task' tab under the same name and tick {REPLACE_CONTROL}",
        ),
        (r"create it with `factory task create`", "create it on the 'New task' tab"),
        (r"pass --conflicts drop to drop the later rows", "delete the later rows from the dev or test file"),
        (r"--conflicts one of", "conflict handling one of"),
        (r"pass --shots 5 or --shots 10", "use 5 or 10 gold examples per label"),
        (r"pass --workspace a folder", "point $FACTORY_HOME at a folder and restart the app"),
    )
]
# Then any flag left, on its own. Only known flags: an unknown "--x" may be part of the user's own text.
_PAGE_FLAG = re.compile(
    r"(?<![\w-])(pass )?(" + "|".join(re.escape(f) for f in sorted(PAGE_FLAGS, key=len, reverse=True)) + r")"
    r"(?![\w-])( NAME)?"
)


def page_fix(message: str) -> str:
    """``message`` with its command-line advice (``--text-field NAME``, ``--overwrite``…) in the page's words."""
    for pattern, words in _PAGE_PHRASES:
        message = pattern.sub(words, message)
    return _PAGE_FLAG.sub(lambda m: ("use " if m[1] else "") + PAGE_FLAGS[m[2]], message)


def page_error(err: BaseException) -> BaseException:
    """A :class:`TaskError` as the page shows it: expected, where and fix in page words (what was found is the
    user's data, left as it is); any other error unchanged."""
    if not isinstance(err, TaskError):
        return err
    where = page_fix(err.where) if err.where else err.where
    return TaskError(page_fix(err.expected), err.found, page_fix(err.fix), where=where)


def page_warning(warning: dict) -> dict:
    """A :mod:`intake.datacheck` warning with its message and fix in page words."""
    return {**warning, "message": page_fix(warning["message"]), "fix": page_fix(warning["fix"])}


def when(stamp: str | None, now: float | None = None) -> str:
    """A stored ``%Y-%m-%dT%H:%M:%S%z`` time as people say it: ``just now``, ``3 h ago``, ``on 4 Mar 2025``."""
    if not stamp:
        return "at an unknown time"
    try:
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (TypeError, ValueError):
        return f"on {stamp}"
    age = (time.time() if now is None else now) - t
    if age < 60:
        return "just now"  # also a clock a little behind the writer's: not "in 2 s"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    if age < 86400:
        return f"{int(age // 3600)} h ago"
    if age < 7 * 86400:
        days = int(age // 86400)
        return f"{days} day{'s' if days > 1 else ''} ago"
    # Older than a week, a date says more than "23 days ago".
    day = datetime.fromtimestamp(t, timezone.utc)
    return f"on {day.day} {day:%b %Y}"
