"""Each int8 scheme of the export on a bench workdir's published student: parity with fp32, file size, speed, test accuracy.

Run after ``factory bench --task eprstmt --quick --workdir /tmp/bench/eprstmt``::

    python -m benchmarks.export_int8 --workdir /tmp/bench/eprstmt/split0 \
        --out benchmarks/results/eprstmt-export-int8.json

It exports the student the ladder published once (``recipe.steps.export_student``,
the step the flows run) and, beside it, scores the fp32 ONNX file and every
int8 scheme of :func:`student.export.quantize_onnx` on the same test texts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from factory.atomic import atomic_write_json


def _score(path: Path, model_dir: Path, texts: list[str], labels: list[int], pad: int, max_length: int) -> dict:
    from student.export import onnx_logits

    t = time.perf_counter()
    pred = onnx_logits(path, model_dir / "tokenizer.json", pad, texts, max_length).argmax(1)
    secs = time.perf_counter() - t
    return {
        "mb": round(path.stat().st_size / 1e6, 1),
        "test_accuracy": round(float((pred == labels).mean()), 4),
        "texts_per_second": round(len(texts) / secs, 1),
        "pred": pred,
    }


def main(argv: list[str] | None = None) -> dict:
    """Export, then compare the schemes; print one JSON object and write it to ``--out``."""
    import numpy as np

    from recipe import steps
    from student.export import INT8_SCHEMES, export_onnx, quantize_onnx
    from student.ladder import read_ladder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="a bench split folder (spec.json, student/, eval/, teacher/)")
    ap.add_argument("--out", help="where to write the record (JSON)")
    args = ap.parse_args(argv)
    w = Path(args.workdir)
    ladder = read_ladder(w / "student") or {"published": ""}
    art_dir = w / "student" / ladder["published"]
    metrics = json.loads((w / "eval" / "metrics.json").read_text(encoding="utf-8"))
    spec = json.loads((w / "spec.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="export-int8-") as tmp:
        t = time.perf_counter()
        out = Path(steps.export_student(str(art_dir), str(w / "spec.json"), metrics, tmp, str(w / "teacher")))
        export_s = time.perf_counter() - t
        zip_path = next(out.glob("*.zip"))
        folder = zip_path.with_suffix("")
        shipped = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["parity"]
        model = folder / "model"
        cfg = json.loads((model / "config.json").read_text(encoding="utf-8"))
        ids = [cfg["label2id"][e["label"]] for e in spec["test"]]
        texts, labels = [e["text"] for e in spec["test"]], np.array(ids)
        pad, max_length = cfg.get("pad_token_id") or 0, json.loads((folder / "student.json").read_text())["max_length"]
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, fp32)
        rows = {"fp32": _score(fp32, model, texts, labels, pad, max_length)}
        for scheme in INT8_SCHEMES:
            q = quantize_onnx(fp32, Path(tmp) / f"{scheme}.onnx", scheme)
            rows[scheme] = _score(q, model, texts, labels, pad, max_length)
        ref = rows["fp32"]["pred"]
        for r in rows.values():
            r["test_agreement_with_fp32"] = round(float((r.pop("pred") == ref).mean()), 4)
        record = {
            "workdir": str(w),
            "kind": ladder["published"],
            "params": json.loads((folder / "student.json").read_text())["params"],
            "export_seconds": round(export_s, 1),
            "zip_mb": round(zip_path.stat().st_size / 1e6, 1),
            "shipped": {k: shipped.get(k) for k in ("scheme", "agreement", "n", "on", "tried", "shipped")},
            "test_n": len(texts),
            "schemes": rows,
        }
    print(json.dumps(record, indent=2))
    if args.out:
        atomic_write_json(args.out, record)
    return record


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
