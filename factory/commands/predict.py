"""``factory predict ARTIFACT --text …``: classify texts with an exported student."""

from __future__ import annotations

import json

import typer


def predict(
    artifact: str = typer.Argument(..., help="student zip (or unpacked folder) made by export"),
    text: list[str] = typer.Option(..., "--text", help="a text to classify; repeat for several"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object with the predictions"),
    backend: str = typer.Option("auto", "--backend", help="auto (int8 ONNX when present) | onnx | torch"),
):
    """Print the label and score the student gives each text."""
    from factory.errors import FactoryError
    from student.runtime import load_student

    try:
        clf = load_student(artifact, backend=backend)
    except FactoryError as err:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": str(err)}, ensure_ascii=False))
        else:
            typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    preds = clf.predict(list(text))
    if as_json:
        typer.echo(json.dumps({"ok": True, "predictions": [{"text": t, **p} for t, p in zip(text, preds)]}, ensure_ascii=False))
        return
    for t, p in zip(text, preds):
        typer.echo(f"{p['label']}\t{p['score']:.3f}\t{t}")
