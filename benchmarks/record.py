"""The benchmark record of DESIGN.md: one JSON object a run, plus a Markdown table.

Every benchmark (stage or full) returns rows built with :func:`result_row` and
hands them to :func:`make_record`, so results compare across versions/machines.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

from factory.atomic import atomic_write_json

# Published anchors (accuracy on test_public / test), from shared/data/README.md.
ANCHORS = {
    "eprstmt": {"finetune-BERT-base": 0.619, "PET": 0.867, "UniMC-110M": 0.8864, "GTS": 0.8831},
    "tnews": {"finetune-BERT-base": 0.405, "PET": 0.537, "UniMC-110M": 0.5432, "GTS": 0.7553},
}

SYSTEMS = (
    "tfidf-lr",
    "student-gold",
    "teacher-zero-shot",
    "teacher-icl",
    "teacher-finetuned",
    "factory-student",
    "factory-student-no-synthetic",
    "factory-student-hitl",
    "setfit",
)


def result_row(
    system: str,
    *,
    accuracy: float | None = None,
    macro_f1: float | None = None,
    ece: float | None = None,
    params: int | None = None,
    seconds: float | None = None,
    texts_per_second: float | None = None,
    **extra,
) -> dict:
    """One row of the record; fields that do not apply stay ``None`` (JSON null)."""
    row = {
        "system": system,
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "ece": ece,
        "params": params,
        "seconds": seconds,
        "texts_per_second": texts_per_second,
    }
    row.update(extra)
    return row


def machine_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)}"
    except Exception:
        pass
    import os

    return f"{platform.machine()} cpu x{os.cpu_count()} ({platform.processor() or platform.system()})"


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except Exception:
        return None


def make_record(task: str, split: int, results: list[dict], **extra) -> dict:
    return {
        "task": task,
        "split": split,
        "machine": machine_name(),
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results": results,
        "anchors": ANCHORS.get(task, {}),
        **extra,
    }


def _fmt(v, pct=False):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{100 * v:.1f}" if pct else (f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}")
    if isinstance(v, int):
        return f"{v / 1e6:.1f}M" if v >= 1_000_000 else str(v)
    return str(v)


def markdown_table(record: dict) -> str:
    """Render a record as a Markdown table (accuracy/F1 in %), anchors beneath."""
    lines = [
        f"### {record['task']} (split {record['split']}) — {record['machine']}",
        "",
        "| system | acc % | macro-F1 % | ECE | params | seconds | texts/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["results"]:
        cells = [
            r["system"] + (f" (N={r['human_answers']})" if r.get("human_answers") else ""),
            _fmt(r.get("accuracy"), pct=True),
            _fmt(r.get("macro_f1"), pct=True),
            _fmt(r.get("ece")),
            _fmt(r.get("params")),
            _fmt(r.get("seconds")),
            _fmt(r.get("texts_per_second")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if record.get("anchors"):
        lines.append("")
        lines.append("Published anchors: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in record["anchors"].items()))
    return "\n".join(lines)


def save_record(record: dict, out_dir: str | Path = "bench-results") -> Path:
    stage = record.get("stage") or "full"
    name = f"{record['task']}-{stage}-split{record['split']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    return atomic_write_json(Path(out_dir) / name, record)


def print_record(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(markdown_table(record))
