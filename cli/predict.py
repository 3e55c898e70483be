"""``factory predict`` and ``factory serve``: use an exported student on texts, on files, or over HTTP."""

from __future__ import annotations

import json
from typing import Optional

import typer


def _fail(err, as_json: bool):
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": str(err)}, ensure_ascii=False))
    else:
        typer.echo(f"error: {err}", err=True)
    raise typer.Exit(1)


def predict(
    artifact: str = typer.Argument(..., help="student zip (or unpacked folder) made by export"),
    text: Optional[list[str]] = typer.Option(None, "--text", help="a text to classify; repeat for several"),
    as_json: bool = typer.Option(
        False, "--json", help="print one JSON object with the predictions (or the file run's report)"
    ),
    backend: str = typer.Option("auto", "--backend", help="auto (the artifact's ONNX file) | onnx | torch"),
    input_file: Optional[str] = typer.Option(
        None, "--input", help="classify every row of a CSV, JSONL or text file (one text a line)"
    ),
    output: Optional[str] = typer.Option(
        None, "--output", help="where --input's results go: .jsonl or .csv (default: INPUT.predictions.jsonl)"
    ),
    text_column: str = typer.Option("text", "--text-column", help="the CSV column / JSON field holding the text"),
    fmt: str = typer.Option("auto", "--format", help="auto (by suffix) | csv | jsonl | txt"),
    on_error: str = typer.Option("skip", "--on-error", help="a bad row: skip (reported with its line) | stop"),
    batch_size: int = typer.Option(64, "--batch-size", help="texts per model call"),
):
    """Print the label and score the student gives each text, or classify a whole file with --input."""
    from pathlib import Path

    from factory.errors import FactoryError
    from student.runtime import load_student

    if bool(text) == bool(input_file):
        _fail("expected --text (one or more) or --input FILE; found " + ("both" if text else "neither"), as_json)
    try:
        clf = load_student(artifact, backend=backend)
        if input_file:
            from student.batch import predict_file

            out = Path(output) if output else Path(input_file).with_name(Path(input_file).name + ".predictions.jsonl")
            report = predict_file(
                clf,
                input_file,
                out,
                fmt=fmt,
                text_column=text_column,
                batch_size=batch_size,
                on_error=on_error,
                progress=not as_json,
            )
    except FactoryError as err:
        _fail(err, as_json)
    if input_file:
        body = {"ok": True, "output": str(out), **report.to_dict()}
        if as_json:
            typer.echo(json.dumps(body, ensure_ascii=False))
        else:
            typer.echo(f"{report.predicted} rows classified into {out}; {report.skipped} skipped")
            for p in report.problems[:20]:
                typer.echo(f"  skipped {p}", err=True)
        return
    preds = clf.predict(list(text))
    if as_json:
        typer.echo(
            json.dumps({"ok": True, "predictions": [{"text": t, **p} for t, p in zip(text, preds)]}, ensure_ascii=False)
        )
        return
    for t, p in zip(text, preds):
        typer.echo(f"{p['label']}\t{p['score']:.3f}\t{t}")


def serve(
    artifact: str = typer.Argument(..., help="student zip (or unpacked folder) made by export"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to bind (loopback by default)"),
    port: int = typer.Option(8000, "--port"),
    backend: str = typer.Option("auto", "--backend", help="auto (the artifact's ONNX file) | onnx | torch"),
):
    """Serve the student over HTTP: POST /predict, GET /health, GET /metadata."""
    from factory.errors import FactoryError
    from student.runtime import load_student
    from student.serve import serve as run_server

    try:
        clf = load_student(artifact, backend=backend)
    except FactoryError as err:
        _fail(err, False)
    typer.echo(f"serving {artifact} on http://{host}:{port} (POST /predict, GET /health, GET /metadata)")
    run_server(clf, host=host, port=port)
