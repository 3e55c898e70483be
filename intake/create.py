"""Task intake: read the user's files, validate everything, then store the task atomically.

Entry point: :func:`create_task` (or :func:`intake` with an :class:`IntakeConfig`).
Every check runs before the first byte is written, so a bad file leaves the
workspace exactly as it was. The config is saved as ``intake.json`` beside
``task.json``, with the sha256 of every source file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import Field

from factory.atomic import sha256_file
from factory.config import StageConfig
from intake.checks import check_spec, detect_language
from intake.datacheck import CONFLICT_MODES, data_warnings, resolve_conflicts
from factory.errors import TaskError
from intake.labels import SST_LABELS, fewclue_labels, infer_labels, parse_label_list, read_labels_file
from intake.readers import FEWCLUE_FIELDS, FORMATS, Fields, banking_labels, detect_format, read_examples
from factory.spec import LANGUAGES, Label, TaskSpec, validate_task_name
from intake.textfile import check_exists
from factory.workspace import Workspace

INPUT_SPLITS = {"train": "gold", "dev": "dev", "test": "test", "unlabeled": "unlabeled"}


class IntakeConfig(StageConfig):
    """Everything :func:`intake` needs. ``fmt=None`` guesses the format from the train file name.

    The cheap things (name, format, language, label options, paths) are checked when the config is built,
    before any file is read.
    """

    name: str
    train: str
    dev: str | None = None
    test: str | None = None
    unlabeled: str | None = None
    fmt: str | None = None
    language: str | None = None
    text_field: str | None = None
    label_field: str | None = None
    id_field: str | None = None
    labels: list[str] | None = None
    labels_file: str | None = None
    text_name: str | None = None  # what a text is called in the teacher's and generator's prompts ("商品评论")
    prompt: str | None = None  # the LLM teacher's prompt with {text} (and optionally {options}); None = its default
    overwrite: bool = False
    conflicts: str = "warn"  # a text labeled differently across gold/dev/test: warn | drop (the later rows) | refuse
    sources: dict = Field(default_factory=dict)
    warnings: list = Field(default_factory=list)  # filled by intake: intake.datacheck warnings, each with its fix

    def check(self) -> None:
        """Name, format (guessed from the train file name when unset), language, label options, paths, conflicts."""
        validate_task_name(self.name)
        if self.fmt is None:
            # Written past pydantic: assigning the field from inside its own check would run the check again.
            self.__dict__["fmt"] = detect_format(self.train)
        if self.fmt not in FORMATS:
            raise TaskError(
                f"a format in {list(FORMATS)}",
                repr(self.fmt),
                "pass --format csv, jsonl, fewclue, sst or banking",
                where="--format",
            )
        if self.language is not None and self.language not in LANGUAGES:
            raise TaskError(
                f"a language in {list(LANGUAGES)}",
                repr(self.language),
                "pass --language zh or --language en, or leave it out to detect it",
                where="--language",
            )
        if self.labels is not None and self.labels_file is not None:
            raise TaskError(
                "either --labels or --labels-file", "both", "declare the label set one way only", where="labels"
            )
        for opt in ("train", "dev", "test", "unlabeled", "labels_file"):
            if getattr(self, opt) is not None:
                check_exists(getattr(self, opt), f"--{opt.replace('_', '-')} file")
        if self.conflicts not in CONFLICT_MODES:
            raise TaskError(
                f"--conflicts one of {CONFLICT_MODES}",
                repr(self.conflicts),
                "use warn (default), drop or refuse",
                where="--conflicts",
            )

    def fields(self) -> Fields:
        base = FEWCLUE_FIELDS if self.fmt == "fewclue" else Fields()
        return Fields(
            text=self.text_field or base.text, label=self.label_field or base.label, id=self.id_field or base.id
        )


def _declared_labels(cfg: IntakeConfig) -> list[Label] | None:
    if cfg.labels is not None:
        return parse_label_list(",".join(cfg.labels))
    if cfg.labels_file is not None:
        return read_labels_file(cfg.labels_file)
    return None


def _check_declared(labels: list[Label], splits: dict[str, list]) -> None:
    known = {lab.id for lab in labels}
    for split, rows in splits.items():
        for e in rows:
            if e.label is not None and e.label not in known:
                raise TaskError(
                    f"a label in the declared set {sorted(known)}",
                    f"{e.label!r} (row id {e.id}) in {split}",
                    "correct the label in the file, or add it to --labels / the labels file",
                    where=split,
                )


def build_spec(cfg: IntakeConfig, notes: list[dict] | None = None) -> TaskSpec:
    """Read and validate every file of ``cfg``; returns a checked :class:`TaskSpec`, writes nothing.

    What was normalised on the way (labels with surrounding spaces) is appended to ``notes`` as warnings
    in the :mod:`intake.datacheck` shape, each with its fix.
    """
    fields = cfg.fields()
    splits = {}
    stripped: dict[str, str] = {}
    for opt, split in INPUT_SPLITS.items():
        path = getattr(cfg, opt)
        splits[split] = read_examples(path, cfg.fmt, fields, split != "unlabeled", stripped) if path else []
    if notes is not None and stripped:
        notes.append(_stripped_labels_warning(stripped))
    declared = _declared_labels(cfg)
    if declared is not None:
        _check_declared(declared, splits)
        labels = declared
    elif cfg.fmt == "fewclue":
        labels = fewclue_labels(splits["gold"], cfg.train)
    elif cfg.fmt == "banking":
        labels = banking_labels(splits["gold"])
    else:
        labels = infer_labels(splits["gold"])
        if cfg.fmt == "sst" and {lab.id for lab in labels} <= {"0", "1"} and len(labels) == 2:
            labels = list(SST_LABELS)
    language = cfg.language or detect_language([e.text for e in splits["gold"] + splits["dev"]])
    spec = TaskSpec(
        name=cfg.name,
        language=language,
        labels=labels,
        text_name=(cfg.text_name or "").strip() or None,
        prompt=cfg.prompt or None,
        **splits,
    )
    return check_spec(spec, across=False)


def _stripped_labels_warning(stripped: dict[str, str]) -> dict:
    shown = ", ".join(f"label {raw!r} was stripped to {clean!r}" for raw, clean in list(stripped.items())[:5])
    more = f" (and {len(stripped) - 5} more)" if len(stripped) > 5 else ""
    return {
        "check": "label-whitespace",
        "message": shown + more,
        "fix": "remove the spaces around those labels in the file: labels differing only by them are one label",
        "labels": stripped,
    }


def intake(cfg: IntakeConfig, workspace: Workspace | str | os.PathLike | None = None) -> TaskSpec:
    """Build the spec from ``cfg`` and store it in ``workspace``; on any error nothing is written."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    if ws.has_task(cfg.name) and not cfg.overwrite:
        raise TaskError(
            "a new task name",
            f"task {cfg.name!r} already exists in {ws.root}",
            "pick another name or pass --overwrite",
            where="task name",
        )
    notes: list[dict] = []
    spec, conflict_notes = resolve_conflicts(build_spec(cfg, notes), cfg.conflicts)
    cfg.warnings = notes + conflict_notes + data_warnings(spec)
    cfg.sources = {
        opt: {
            "path": str(Path(getattr(cfg, opt)).resolve()),
            "sha256": sha256_file(getattr(cfg, opt)) if Path(getattr(cfg, opt)).is_file() else None,
        }
        for opt in (*INPUT_SPLITS, "labels_file")
        if getattr(cfg, opt)
    }
    record = {**cfg.to_dict(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "counts": spec.counts()}
    ws.save_task(spec, overwrite=cfg.overwrite, intake=record)
    return spec


def create_task(
    name: str,
    train: str | os.PathLike,
    dev: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    unlabeled: str | os.PathLike | None = None,
    fmt: str | None = None,
    language: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    id_field: str | None = None,
    labels: list[str] | str | None = None,
    labels_file: str | os.PathLike | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
    overwrite: bool = False,
    text_name: str | None = None,
    prompt: str | None = None,
    conflicts: str = "warn",
) -> TaskSpec:
    """Read, validate and store a task (see :class:`IntakeConfig` for the arguments)."""
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",")]

    def s(p):
        return None if p is None else str(p)

    cfg = IntakeConfig(
        name=name,
        train=str(train),
        dev=s(dev),
        test=s(test),
        unlabeled=s(unlabeled),
        fmt=fmt,
        language=language,
        text_field=text_field,
        label_field=label_field,
        id_field=id_field,
        labels=labels,
        labels_file=s(labels_file),
        overwrite=overwrite,
        text_name=text_name,
        prompt=prompt,
        conflicts=conflicts,
    )
    return intake(cfg, workspace)
