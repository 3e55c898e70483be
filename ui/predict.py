"""The try-it box's bridge to the student package, imported lazily.

``student`` pulls in onnxruntime/torch; importing it only when someone presses
*Classify* keeps every page fast to load and lets the UI start on machines
where the student's dependencies are still being installed.
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(zip_path: str):
    from student import load_student

    return load_student(zip_path)


def _as_row(text: str, pred) -> dict:
    """Normalise one prediction (a label, a dict, or an object with label/score) to a table row."""
    if isinstance(pred, dict):
        row = {"text": text, **pred}
    elif hasattr(pred, "label"):
        row = {"text": text, "label": pred.label}
        for attr in ("confidence", "score", "name"):
            if hasattr(pred, attr):
                row[attr] = getattr(pred, attr)
    else:
        row = {"text": text, "label": pred}
    if isinstance(row.get("probs"), (list, tuple, dict)):
        row.pop("probs")
    return row


def predict_rows(zip_path: str, texts: list[str]) -> list[dict]:
    """Run the exported student on ``texts``; one row per text for a table."""
    clf = _load(zip_path)
    preds = clf.predict(texts)
    return [_as_row(t, p) for t, p in zip(texts, preds)]


def predict_upload(zip_path: str, name: str, data: bytes, text_column: str = "text") -> tuple[bytes, dict]:
    """Classify an uploaded CSV / JSONL / text file; returns the results file (same format family) and the run's report."""
    import tempfile
    from pathlib import Path

    from student.batch import predict_file

    clf = _load(zip_path)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / Path(name).name
        src.write_bytes(data)
        out = Path(tmp) / ("predictions.csv" if src.suffix.lower() in (".csv", ".tsv") else "predictions.jsonl")
        report = predict_file(clf, src, out, text_column=text_column)
        return out.read_bytes(), {**report.to_dict(), "file_name": out.name}
