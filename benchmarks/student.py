"""Student stage benchmark: the teacher committee and every student kind on the same test texts, in one process.

``factory bench --task eprstmt --stage student --quick --json [--workdir DIR]``

The recipe's own steps make the inputs (seeded caps, committee, soft labels of
the pool; no synthetic samples, so every kind sees the same data); with
``--workdir`` pointing at an earlier ``factory bench`` run they are reused, not
remade. The ladder (:mod:`student.ladder`) then trains every kind, each is
exported as a user gets it (one parity-checked ONNX file, fp16 weights) and
scored from its zip with onnxruntime on the same test texts: accuracy,
texts/s at batch 32, median batch-1 latency, parameters, zip size, and its
throughput as a multiple of the committee's on those texts.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.full import bench_preset
from benchmarks.record import result_row
from benchmarks.tasks import with_task_settings
from factory.spec import TaskSpec
from recipe import RecipeConfig, steps

# The caps of the whole-factory budget (configs/bench-quick.yaml, bench-full.yaml), so both benches label the same pool.
# Students train as the product's do (DistillConfig's epochs, early stopping on dev).
CAPS = ("pool_cap", "dev_cap", "test_cap")


def _done(folder: Path) -> bool:
    return (folder / steps.STEP_FILE).is_file()


def _inputs(spec: TaskSpec, cfg: RecipeConfig, work: Path) -> tuple[str, str, str, str | None]:
    """Spec, committee, pool soft labels and teacher embeddings: the recipe's steps, reusing a finished step's files.

    A workdir labeled before the labeling step kept the embeddings gets them computed here, once.
    """
    spec_path = work / "spec.json"
    if not spec_path.is_file():
        steps.intake(spec, work, pool_cap=cfg.pool_cap, dev_cap=cfg.dev_cap, test_cap=cfg.test_cap, seed=cfg.seed)
    teacher = work / "teacher"
    if not _done(teacher):
        steps.adapt_teacher(str(spec_path), cfg.teacher, str(teacher))
    labels = work / "labels"
    if not (_done(labels) and (labels / "pool.jsonl").is_file()):
        steps.label_texts(str(teacher), str(spec_path), [], str(labels))
    return str(spec_path), str(teacher), str(labels / "pool.jsonl"), ensure_embeddings(work)


def ensure_embeddings(work: Path) -> str | None:
    """The labeling step's ``teacher-embeddings.json`` in ``work/labels``; computed once for a workdir labeled
    before that step kept them (None when the committee has no embedding member)."""
    from factory.atomic import read_jsonl
    from teacher import load_labeler

    labels = work / "labels"
    emb = labels / "teacher-embeddings.json"
    if not emb.is_file():
        texts = [r["text"] for r in read_jsonl(labels / "pool.jsonl")]
        texts += [e.text for e in steps.load_spec(work / "spec.json").gold]
        steps.save_embeddings(load_labeler(str(work / "teacher")), texts, labels)
    return str(emb) if emb.is_file() else None


def _teacher_row(teacher_dir: str, spec: TaskSpec) -> dict:
    from sklearn.metrics import f1_score

    from teacher import load_labeler

    committee = load_labeler(teacher_dir)
    texts = [e.text for e in spec.test]
    committee.label(texts[:4])  # warm-up, as for the students
    t0 = time.perf_counter()
    probs = committee.label(texts).probs
    secs = time.perf_counter() - t0
    y = np.array([spec.label_index(e.label) for e in spec.test])
    pred = probs.argmax(1)
    return result_row(
        "teacher-committee",
        accuracy=float((pred == y).mean()),
        macro_f1=float(f1_score(y, pred, average="macro")),
        params=committee.params,
        seconds=round(secs, 2),
        texts_per_second=round(len(texts) / secs, 2),
        throughput_ratio_vs_teacher=1.0,
    )


def _kind_row(
    kind: dict, run_dir: Path, spec_path: str, spec: TaskSpec, teacher_dir: str, teacher_tps: float, work: Path
) -> dict:
    from student import StudentArtifact
    from student.evaluate import evaluate

    art = StudentArtifact.load(run_dir)
    export = Path(steps.export_student(str(run_dir), spec_path, {}, str(work / f"export-{kind['kind']}"), teacher_dir))
    zip_path = next(export.glob("*.zip"))
    m = evaluate(zip_path, spec.test, work / f"eval-{kind['kind']}", backend="onnx", speed_texts=len(spec.test))
    from student.runtime import load_student

    shipped = load_student(zip_path)
    parity = json.loads((shipped.root / "metrics.json").read_text(encoding="utf-8")).get("parity", {})
    tps = m.get("texts_per_second")
    return result_row(
        f"student-{kind['kind']}",
        accuracy=m["accuracy"],
        macro_f1=m["macro_f1"],
        params=art.params,
        seconds=art.train_seconds,
        texts_per_second=tps,
        latency_ms_per_text=m.get("latency_ms_per_text"),
        throughput_ratio_vs_teacher=round(tps / teacher_tps, 1) if tps and teacher_tps else None,
        zip_bytes=zip_path.stat().st_size,
        # dynamic (int8), shared (fp32 graph on the fp16 safetensors) or fp32: both fp32 files are named model.onnx
        onnx=parity.get("shipped") or shipped.onnx_path.name,
        onnx_scheme=parity.get("scheme"),
        parity_agreement=parity.get("agreement"),
        dev_accuracy=kind.get("dev_accuracy"),
        student=art.kind,
        base=art.base,
    )


def run(spec: TaskSpec, *, quick: bool, seed: int, workdir: str | Path | None = None, budget: str = "accurate") -> dict:
    """Rows: ``teacher-committee`` and ``student-<kind>`` for every kind of ``budget``; the published kind is marked."""
    from student.ladder import read_ladder

    spec = with_task_settings(spec)
    caps = {k: v for k, v in bench_preset(quick).recipe.items() if k in CAPS}
    cfg = RecipeConfig.from_dict({**caps, "seed": seed, "synthetic": False, "budget": budget})
    work = Path(workdir or tempfile.mkdtemp(prefix=f"bench-student-{spec.name}-"))
    spec_path, teacher_dir, pool, emb = _inputs(spec, cfg, work)
    run_spec = steps.load_spec(spec_path)
    rows = [_teacher_row(teacher_dir, run_spec)]
    out = work / f"students-{budget}"
    steps.distill_student(spec_path, [pool], cfg.student, str(out), cfg.budget, cfg.max_latency_ms, emb)
    ladder = read_ladder(out)
    for kind in ladder["kinds"]:
        row = _kind_row(kind, out / kind["dir"], spec_path, run_spec, teacher_dir, rows[0]["texts_per_second"], work)
        row["published"] = kind["kind"] == ladder["published"]
        rows.append(row)
    return {
        "results": rows,
        "budget": budget,
        "published": ladder["published"],
        "pool": len(run_spec.unlabeled),
        "test_rows": len(run_spec.test),
        "config": cfg.to_dict(),
    }
