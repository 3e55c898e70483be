"""Student choices on the files of one ``factory bench --workdir`` run: the base to derive from, and pool size.

Every student is distilled and scored by the recipe's own steps on that run's
spec (its seeded caps) and committee soft labels; the default is chosen by
dev accuracy, test is reported beside it::

    factory bench --task eprstmt --quick --workdir /tmp/bench/eprstmt
    python -m benchmarks.student_choices /tmp/bench/eprstmt/split0 benchmarks/results/eprstmt-students-quick.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, read_jsonl
from recipe import steps

CHOICES = (
    ("student-embeddinggemma-6", None, {"epochs": 4, "derive_from": "embeddinggemma-300m"}),
    ("student-gemma-6-pool400", 400, {"epochs": 4}),
    ("student-embeddinggemma-6-pool400", 400, {"epochs": 4, "derive_from": "embeddinggemma-300m"}),
)


def main(work: Path, out: Path) -> list[dict]:
    from student import StudentArtifact

    spec = str(work / "spec.json")
    pool = read_jsonl(work / "labels" / "pool.jsonl")
    rows = []
    for name, n, cfg in CHOICES:
        soft = work / "labels" / "pool.jsonl"
        if n is not None:
            soft = atomic_write_jsonl(work / f"pool-{n}" / "pool.jsonl", pool[:n])
        t0 = time.perf_counter()
        d = steps.distill_student(spec, [str(soft)], cfg, str(work / f"x-{name}"))
        m = steps.evaluate_student(d, spec, str(work / f"x-eval-{name}"))
        art = StudentArtifact.load(d)
        rows.append(
            {
                "system": name,
                "pool": n or len(pool),
                "dev_accuracy": art.dev_metrics.get("accuracy"),
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "params": art.params,
                "seconds": round(time.perf_counter() - t0, 1),
                "texts_per_second": m.get("texts_per_second"),
                "config": cfg,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        atomic_write_json(out, rows)
    return rows


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
