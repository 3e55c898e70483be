"""``factory task create|show|list``: bring a task in and look at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from factory.errors import FactoryError, TaskError
from factory.summary import summary

app = typer.Typer(no_args_is_help=True, add_completion=False)

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="workspace root (default: $FACTORY_HOME or the user data dir)"
)


def open_workspace(path, as_json: bool):
    """The workspace at ``path``, or the CLI's error output (a file given as the workspace, ...)."""
    from factory.workspace import Workspace

    try:
        return Workspace(path)
    except FactoryError as err:
        fail(err, as_json)


def fail(err: FactoryError, as_json: bool) -> None:
    """Report a user error (what was expected, found, the fix) and exit with status 1."""
    if as_json:
        info = {"message": str(err)}
        if isinstance(err, TaskError):
            info.update(expected=err.expected, found=err.found, fix=err.fix, where=err.where)
        typer.echo(json.dumps({"ok": False, "error": info}, ensure_ascii=False))
    else:
        typer.echo(f"error: {err}", err=True)
    raise typer.Exit(1)


def _print_summary(info: dict, task_dir: Path | None = None) -> None:
    c = info["counts"]
    typer.echo(
        f"task {info['name']} ({info['language']}, {c['labels']} labels)" + (f" in {task_dir}" if task_dir else "")
    )
    typer.echo(f"  gold {c['gold']}  dev {c['dev']}  test {c['test']}  unlabeled {c['unlabeled']}")
    if info.get("text_name") or info.get("prompt"):
        typer.echo(
            f"  prompt: {info.get('prompt') or 'teacher default'} (texts called {info.get('text_name') or 'default'})"
        )
    width = max(len(lab["id"]) for lab in info["labels"])
    typer.echo(f"  {'label'.ljust(width)}  {'gold':>5} {'dev':>5} {'test':>5}  name / verbalizer")
    for lab in info["labels"]:
        n = [info["label_counts"][s][lab["id"]] for s in ("gold", "dev", "test")]
        extra = lab["name"] + (f" / {'|'.join(lab['verbalizer'])}" if lab["verbalizer"] else "")
        typer.echo(f"  {lab['id'].ljust(width)}  {n[0]:>5} {n[1]:>5} {n[2]:>5}  {extra}")


@app.command("create")
def create(
    name: str = typer.Argument(..., help="task name: letters, digits, '_', '-', '.'"),
    train: Path = typer.Option(..., "--train", help="gold few-shot examples (labeled)"),
    dev: Optional[Path] = typer.Option(None, "--dev", help="labeled dev set for model selection"),
    test: Optional[Path] = typer.Option(None, "--test", help="labeled test set"),
    unlabeled: Optional[Path] = typer.Option(None, "--unlabeled", help="unlabeled pool (labels ignored)"),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="fewclue | csv | jsonl | sst | banking (default: from the file name)"
    ),
    language: Optional[str] = typer.Option(None, "--language", help="zh | en (default: detected)"),
    text_field: Optional[str] = typer.Option(
        None, "--text-field", help="text column / JSON key (default text; sentence for fewclue)"
    ),
    label_field: Optional[str] = typer.Option(None, "--label-field", help="label column / JSON key (default label)"),
    id_field: Optional[str] = typer.Option(
        None, "--id-field", help="id column / JSON key (default id; rows are numbered if absent)"
    ),
    labels: Optional[str] = typer.Option(None, "--labels", help="declare the label set, comma-separated: neg,pos"),
    labels_file: Optional[Path] = typer.Option(
        None, "--labels-file", help="label set file: one per line, a JSON list, or FewCLUE label JSON lines"
    ),
    text_name: Optional[str] = typer.Option(
        None, "--text-name", help="what a text is called in prompts, e.g. 商品评论 or 'customer message'"
    ),
    prompt: Optional[str] = typer.Option(
        None,
        "--prompt",
        help="the LLM teacher's prompt with {text} (and {options} for the label words); default: the teacher's",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace an existing task's data (its runs and models stay)"
    ),
    conflicts: str = typer.Option(
        "warn",
        "--conflicts",
        help="a text labeled differently across train/dev/test: warn | drop (the later rows) | refuse",
    ),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Read, validate and store a task. Nothing is written unless every check passes; data warnings are printed with their fix."""
    from intake.create import create_task

    ws = open_workspace(workspace, as_json)
    try:
        spec = create_task(
            name,
            train,
            dev=dev,
            test=test,
            unlabeled=unlabeled,
            fmt=fmt,
            language=language,
            text_field=text_field,
            label_field=label_field,
            id_field=id_field,
            labels=labels,
            labels_file=labels_file,
            workspace=ws,
            overwrite=overwrite,
            text_name=text_name,
            prompt=prompt,
            conflicts=conflicts,
        )
    except FactoryError as err:
        fail(err, as_json)
    info = summary(spec)
    warnings = json.loads((ws.task_dir(name) / "intake.json").read_text(encoding="utf-8")).get("warnings", [])
    if as_json:
        typer.echo(
            json.dumps({"ok": True, "path": str(ws.task_dir(name)), **info, "warnings": warnings}, ensure_ascii=False)
        )
    else:
        _print_summary(info, ws.task_dir(name))
        _print_warnings(warnings)


def _print_warnings(warnings: list[dict]) -> None:
    for w in warnings:
        typer.echo(f"warning: {w['message']}. Fix: {w['fix']}", err=True)


@app.command("check")
def check(
    name: str = typer.Argument(..., help="task name"),
    model: bool = typer.Option(
        False,
        "--model",
        help="also check the label names with the sentence encoder (EmbeddingGemma): too similar, or confused zero-shot on the gold",
    ),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print the warnings as JSON"),
):
    """Data checks before a run: warnings with their fix (they never block a run)."""
    from intake.datacheck import data_warnings, label_warnings, resolve_conflicts

    try:
        spec = open_workspace(workspace, as_json).load_task(name)
        warnings = resolve_conflicts(spec, "warn")[1] + data_warnings(spec)
        if model:
            from teacher.embedding import EmbeddingTeacherConfig, load_encoder

            cfg = EmbeddingTeacherConfig(progress=False)
            warnings += label_warnings(spec, load_encoder(cfg.model, cfg))
    except FactoryError as err:
        fail(err, as_json)
    if as_json:
        typer.echo(json.dumps({"ok": True, "task": name, "warnings": warnings}, ensure_ascii=False))
        return
    _print_warnings(warnings)
    typer.echo(f"{name}: {len(warnings)} warning{'s' if len(warnings) != 1 else ''}")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="task name"),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print as JSON"),
):
    """Print a stored task: counts per split and per label."""

    ws = open_workspace(workspace, as_json)
    try:
        spec = ws.load_task(name)
    except FactoryError as err:
        fail(err, as_json)
    info = summary(spec)
    if as_json:
        typer.echo(json.dumps({"ok": True, "path": str(ws.task_dir(name)), **info}, ensure_ascii=False))
    else:
        _print_summary(info, ws.task_dir(name))


@app.command("list")
def list_tasks(
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print as JSON"),
):
    """List the tasks in the workspace."""

    ws = open_workspace(workspace, as_json)
    broken = ws.broken_tasks()
    names = sorted(set(ws.list_tasks()) | set(broken))
    if as_json:
        typer.echo(json.dumps({"root": str(ws.root), "tasks": names, "broken": broken}, ensure_ascii=False))
    else:
        typer.echo(
            "\n".join(f"{n}  (broken: {broken[n]})" if n in broken else n for n in names)
            if names
            else f"no tasks in {ws.root}"
        )
