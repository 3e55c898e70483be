"""Student stage benchmark: the student on gold alone and distilled from the teacher, against the teacher.

Called by ``factory bench --task eprstmt --stage student [--quick] [--json]``.
Rows: ``student-gold`` (train_k only) and ``factory-student`` (train_k + the
teacher's soft labels on a capped unlabeled pool), both scored as shipped (the
int8 ONNX model of the exported zip) on test_public, plus the teacher's row
when a teacher is available. ``throughput_ratio_vs_teacher`` compares CPU
texts/s on the same test texts in the same process.

A saved teacher (``Teacher.save`` folder) is reused from ``$FACTORY_STUDENT_TEACHER``
or from the benchmark's work folder; otherwise one is adapted and saved there.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.record import result_row
from benchmarks.tasks import template, with_verbalizers
from factory.atomic import atomic_write_json
from factory.spec import TaskSpec
from student import DistillConfig, DistillData, distill, evaluate, export_artifact

QUICK = {"test": 200, "pool": 300, "epochs": 3, "layers": 2}
FULL = {"test": None, "pool": 2000, "epochs": 6, "layers": 4}


def _work_dir(spec: TaskSpec, quick: bool, seed: int) -> Path:
    root = Path(os.environ.get("FACTORY_BENCH_WORK", "bench-results/work"))
    return root / f"student-{spec.name}-{'quick' if quick else 'full'}-seed{seed}"


def _teacher(spec: TaskSpec, quick: bool, seed: int, work: Path):
    """A saved teacher if there is one, else a freshly adapted one (saved for the next run); None without the teacher package."""
    try:
        from teacher import Teacher, TeacherConfig, adapt
    except ImportError:
        return None
    saved = os.environ.get("FACTORY_STUDENT_TEACHER")
    for d in [Path(saved)] if saved else [work / "teacher"]:
        if (d / "teacher.json").is_file():
            return Teacher.load(d)
    cfg = TeacherConfig(mode="finetune", template=template(spec), seed=seed, epochs=4 if quick else 8)
    return adapt(spec, cfg, out_dir=work / "teacher")


def _pool_probs(teacher, texts: list[str], work: Path) -> list[list[float]]:
    """Teacher probabilities for the pool, cached beside the run (labeling is the slow part)."""
    cache = work / "pool_probs.json"
    if cache.is_file():
        got = json.loads(cache.read_text(encoding="utf-8"))
        if got.get("texts") == texts:
            return got["probs"]
    probs = teacher.label(texts).probs.tolist()
    atomic_write_json(cache, {"texts": texts, "probs": probs})
    return probs


def _student_row(system: str, data: DistillData, cfg: DistillConfig, spec: TaskSpec, work: Path, teacher_tps: float | None, teacher_info: dict) -> dict:
    tag = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    run = work / f"{system}-{tag}"
    art = distill(data, cfg, out_dir=run)
    torch_metrics = evaluate(art, spec.test, run / "eval", speed_texts=0)
    zip_path = export_artifact(art, spec, run / "export", metrics=torch_metrics, teacher_info=teacher_info)
    m = evaluate(zip_path, spec.test, run / "eval-int8", backend="onnx", speed_texts=len(spec.test))
    tps = m.get("texts_per_second")
    return result_row(
        system, accuracy=m["accuracy"], macro_f1=m["macro_f1"], params=art.params, seconds=m.get("seconds"), texts_per_second=tps,
        throughput_ratio_vs_teacher=(tps / teacher_tps) if tps and teacher_tps else None,
        accuracy_torch_fp32=torch_metrics["accuracy"], latency_ms_per_text=m.get("latency_ms_per_text"),
        layers=art.student_info.get("layers"), vocab_size=art.student_info.get("vocab_size"), best_epoch=art.best_epoch,
        dev_accuracy=art.dev_metrics.get("accuracy"), train_seconds=art.train_seconds, soft_examples=len(data.soft),
        artifact=str(zip_path), artifact_bytes=zip_path.stat().st_size,
    )


def run(spec: TaskSpec, *, quick: bool, seed: int) -> list[dict]:
    """Benchmark rows (benchmarks.record.result_row) for the student stage on ``spec.test``."""
    spec = with_verbalizers(spec)
    import numpy as np
    from sklearn.metrics import f1_score

    caps = QUICK if quick else FULL
    if caps["test"]:
        spec = replace(spec, test=spec.test[: caps["test"]])
    work = _work_dir(spec, quick, seed)
    layers = int(os.environ.get("FACTORY_STUDENT_LAYERS", caps["layers"]))
    cfg = DistillConfig(seed=seed, epochs=caps["epochs"], layers=layers)
    rows, teacher_tps, teacher_info = [], None, {}
    texts = [e.text for e in spec.test]
    teacher = _teacher(spec, quick, seed, work)
    soft = []
    if teacher is not None:
        teacher.label(texts[:4])  # warm-up, as for the student
        t0 = time.perf_counter()
        res = teacher.label(texts)
        secs = time.perf_counter() - t0
        teacher_tps = len(texts) / secs
        y = np.array([spec.label_index(e.label) for e in spec.test])
        pred = res.probs.argmax(1)
        rows.append(result_row("teacher-finetuned", accuracy=float((pred == y).mean()), macro_f1=float(f1_score(y, pred, average="macro")),
                               params=teacher.params, seconds=secs, texts_per_second=teacher_tps, throughput_ratio_vs_teacher=1.0))
        teacher_info = {"model": teacher.metrics.get("model"), "mode": teacher.config.mode, "params": teacher.params, "test_accuracy": rows[0]["accuracy"]}
        pool = [e.text for e in spec.unlabeled[: caps["pool"]]]
        soft = list(zip(pool, _pool_probs(teacher, pool, work)))
        del teacher, res
        gc.collect()
    rows.append(_student_row("student-gold", DistillData.from_spec(spec), cfg, spec, work, teacher_tps, {}))
    if soft:
        rows.append(_student_row("factory-student", DistillData.from_spec(spec, soft=soft), cfg, spec, work, teacher_tps, teacher_info))
    return rows


def compare_layer_choices(spec: TaskSpec, soft: list, choices: list[tuple[int, str]], work: Path, *, epochs: int = 3, seed: int = 0, test: int = 200) -> list[dict]:
    """Dev and test accuracy of derived students keeping ``(k, "first"|"spread")`` teacher layers, same data and budget."""
    spec = replace(spec, test=spec.test[:test])
    data = DistillData.from_spec(spec, soft=soft)
    out = []
    for k, how in choices:
        art = distill(data, DistillConfig(seed=seed, epochs=epochs, layers=k, layer_selection=how), out_dir=work / f"layers-{how}-{k}")
        m = evaluate(art, spec.test, work / f"layers-{how}-{k}" / "eval", speed_texts=0)
        out.append({"layers": art.student_info.get("layers"), "selection": how, "params": art.params, "dev_accuracy": art.dev_metrics.get("accuracy"), "test_accuracy": m["accuracy"], "test_macro_f1": m["macro_f1"]})
    return out
