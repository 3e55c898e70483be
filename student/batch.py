"""Batch prediction over files: stream CSV / JSONL / plain text in, write labels and per-label scores out.

Rows are read one at a time and classified in batches, so memory stays
bounded on files of millions of rows. A row that cannot be read (bad JSON, no
text column, an empty text) is reported with its line number and skipped, or
stops the run when ``on_error="stop"``. The output is written to a temporary
file and renamed into place when complete: a stopped run leaves no
half-written results behind.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from factory.errors import TaskError

FORMATS = ("auto", "csv", "jsonl", "txt")


@dataclass
class BatchReport:
    """Counts of one run and the first problems, each with its line number."""

    rows: int = 0
    predicted: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "predicted": self.predicted, "skipped": self.skipped, "problems": self.problems[:20]}


def detect(path: Path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise TaskError(
            f"a format among {FORMATS}",
            repr(fmt),
            "pass --format csv, jsonl or txt (or auto)",
            where="predict --format",
        )
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    return {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}.get(suffix, "txt")


def iter_texts(
    path: str | Path, fmt: str = "auto", text_column: str = "text"
) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text, problem)`` for every row; ``text`` is None when the row has a problem."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(
            "an input file",
            f"{path} does not exist",
            "pass the path of a CSV, JSONL or text file",
            where="predict --input",
        )
    kind = detect(path, fmt)
    with open(path, encoding="utf-8-sig", errors="strict", newline="" if kind == "csv" else None) as fh:
        try:
            if kind == "csv":
                reader = csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
                if reader.fieldnames is None or text_column not in reader.fieldnames:
                    raise TaskError(
                        f"a CSV header with a {text_column!r} column",
                        f"columns {reader.fieldnames}",
                        "pass --text-column with the column that holds the text",
                        where=str(path),
                    )
                for row in reader:
                    yield _check(reader.line_num, row.get(text_column))
            elif kind == "jsonl":
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except ValueError as e:
                        yield n, None, f"line {n}: not JSON ({e.msg})"
                        continue
                    if isinstance(obj, str):
                        yield _check(n, obj)
                    elif isinstance(obj, dict):
                        yield _check(n, obj.get(text_column), f"no {text_column!r} field")
                    else:
                        yield n, None, f"line {n}: expected an object or a string, found {type(obj).__name__}"
            else:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        yield _check(n, line.rstrip("\r\n"))
        except UnicodeDecodeError as e:
            raise TaskError(
                "a UTF-8 text file",
                f"bytes that are not UTF-8 ({e.reason} at byte {e.start})",
                "save the file as UTF-8",
                where=str(path),
            ) from None


def _check(n: int, value, missing: str = "no text") -> tuple[int, str | None, str | None]:
    if value is None:
        return n, None, f"line {n}: {missing}"
    if not isinstance(value, str):
        return n, None, f"line {n}: the text is a {type(value).__name__}, not a string"
    if not value.strip():
        return n, None, f"line {n}: empty text"
    return n, value, None


class _Writer:
    def __init__(self, path: Path, label_ids: list[str]):
        self.path, self.labels = path, label_ids
        self.kind = "csv" if path.suffix.lower() == ".csv" else "jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="")
        if self.kind == "csv":
            self.csv = csv.writer(self.fh)
            self.csv.writerow(["line", "text", "label", "score", *[f"p_{lab}" for lab in label_ids]])

    def write(self, line: int, text: str, probs) -> None:
        best = int(probs.argmax())
        if self.kind == "csv":
            self.csv.writerow([line, text, self.labels[best], f"{probs[best]:.6f}", *[f"{p:.6f}" for p in probs]])
        else:
            row = {
                "line": line,
                "text": text,
                "label": self.labels[best],
                "score": round(float(probs[best]), 6),
                "scores": {lab: round(float(p), 6) for lab, p in zip(self.labels, probs)},
            }
            self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    def commit(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def predict_file(
    clf,
    input_path: str | Path,
    output_path: str | Path,
    *,
    fmt: str = "auto",
    text_column: str = "text",
    batch_size: int = 64,
    on_error: str = "skip",
    progress: bool = False,
) -> BatchReport:
    """Classify every row of ``input_path`` with ``clf`` (a :class:`student.StudentClassifier`) into ``output_path``."""
    from tqdm.auto import tqdm

    if on_error not in ("skip", "stop"):
        raise TaskError(
            "on_error 'skip' or 'stop'", repr(on_error), "pass --on-error skip or stop", where="predict --on-error"
        )
    report = BatchReport()
    out = _Writer(Path(output_path), list(clf.label_ids))
    batch: list[tuple[int, str]] = []
    bar = tqdm(desc="classifying", unit="rows", disable=not progress)

    def flush():
        if batch:
            for (line, text), p in zip(batch, clf.predict_proba([t for _, t in batch], batch_size=batch_size)):
                out.write(line, text, p)
            report.predicted += len(batch)
            bar.update(len(batch))
            batch.clear()

    try:
        for line, text, problem in iter_texts(input_path, fmt, text_column):
            report.rows += 1
            if problem:
                if on_error == "stop":
                    raise TaskError(
                        "rows with a text",
                        problem,
                        "fix the row, or pass --on-error skip to skip bad rows",
                        where=str(input_path),
                    )
                report.skipped += 1
                report.problems.append(problem)
                continue
            batch.append((line, text))
            if len(batch) >= batch_size:
                flush()
        flush()
    except BaseException:
        out.abort()
        raise
    finally:
        bar.close()
    out.commit()
    return report
