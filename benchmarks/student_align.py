"""Epochs and embedding alignment for the default (``small``) student, on the files of one bench run.

The same committee soft labels and teacher embeddings (the labeling step's
``teacher-embeddings.json``; computed here once if that run predates them),
the same seeded spec; each variant is distilled by :func:`student.ladder.distill_ladder`
with the ``small`` kind only and scored on the run's test texts. Variants are
chosen by dev accuracy; test is reported beside it::

    factory bench --task banking77 --shots 5 --quick --workdir /tmp/bench/banking77
    python -m benchmarks.student_align /tmp/bench/banking77/split0 benchmarks/results/banking77-5shot-align-quick.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from factory.atomic import atomic_write_json, read_jsonl
from recipe import steps

VARIANTS = (  # (epochs, embed_weight)
    (4, 0.0),
    (4, 1.0),
    (4, 3.0),
    (8, 0.0),
    (8, 1.0),
    (8, 3.0),
)


def main(work: Path, out: Path, variants=VARIANTS) -> list[dict]:
    from student import DistillConfig, DistillData
    from student.data import TeacherEmbeddings
    from student.evaluate import evaluate
    from student.ladder import KINDS, distill_ladder
    from benchmarks.student import ensure_embeddings

    spec = steps.load_spec(work / "spec.json")
    pool = read_jsonl(work / "labels" / "pool.jsonl")
    emb = ensure_embeddings(work)
    data = DistillData.from_spec(
        spec, soft=[(r["text"], r["probs"]) for r in pool], embeddings=TeacherEmbeddings.load(emb) if emb else None
    )
    rows = []
    for epochs, weight in variants:
        t0 = time.perf_counter()
        run = work / f"align-e{epochs}-w{weight}"
        art = distill_ladder(
            data, DistillConfig(epochs=epochs, embed_weight=weight), run, kinds={"small": KINDS["small"]}
        )
        m = evaluate(art, spec.test, run / "eval")
        rows.append(
            {
                "system": f"student-small-e{epochs}-align{weight:g}",
                "epochs": epochs,
                "embed_weight": weight,
                "best_epoch": art.best_epoch,
                "dev_accuracy": art.dev_metrics.get("accuracy"),
                "dev_by_epoch": [round(h.get("dev_accuracy", 0.0), 4) for h in art.history],
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "params": art.params,
                "base": art.base,
                "seconds": round(time.perf_counter() - t0, 1),
                "pool": len(pool),
                "dev_rows": len(spec.dev),
                "test_rows": len(spec.test),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        atomic_write_json(out, rows)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path, help="a bench run's split folder (spec.json, teacher/, labels/)")
    ap.add_argument("out", type=Path, help="where the JSON record goes")
    ap.add_argument("--variants", default=None, help="EPOCHS:WEIGHT,... (default: 4 and 8 epochs × 0, 1, 3)")
    a = ap.parse_args()
    chosen = VARIANTS
    if a.variants:
        chosen = tuple((int(e), float(w)) for e, w in (v.split(":") for v in a.variants.split(",")))
    main(a.workdir, a.out, chosen)
