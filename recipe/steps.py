"""The recipe's steps: each takes files and stage configs (plain dicts), writes files, returns paths.

The production and iteration flows call these one Prefect task each
(:mod:`pipelines.tasks`); ``factory bench`` calls them in the same order
through :func:`recipe.run.run_recipe`. Every step leaves ``step.json`` in its
output folder (its name, seconds and counts), so a run's report can say
where the time went, stage by stage.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import contextmanager
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, read_jsonl
from factory.spec import Example, TaskSpec

STEP_FILE = "step.json"
PROGRESS_FILE = "progress.json"
LABEL_CHUNK = 256  # texts per teacher call in label_texts: small enough for progress every minute or so


def load_spec(spec_path: str | Path) -> TaskSpec:
    return TaskSpec.from_dict(json.loads(Path(spec_path).read_text(encoding="utf-8")))


@contextmanager
def _step(name: str, out_dir: str | Path, info: dict):
    """Time a step and write its ``step.json`` next to its outputs."""
    t0 = time.perf_counter()
    yield info
    atomic_write_json(Path(out_dir) / STEP_FILE, {"step": name, "seconds": round(time.perf_counter() - t0, 2), **info})


def report_progress(
    out_dir: str | Path,
    step: str,
    done: int,
    total: int,
    unit: str,
    *,
    started: float | None = None,
    eta_s: float | None = None,
    **extra,
) -> Path:
    """Write ``progress.json`` in ``out_dir``: how far a long step is (``done`` of ``total`` ``unit``), for Runs.

    ``eta_s`` (seconds left) is estimated from ``started`` (a ``time.time()``) when not given. The file is replaced
    atomically, so a reader never sees half of it.
    """
    now = time.time()
    if eta_s is None and started is not None and done > 0:
        eta_s = (now - started) / done * max(total - done, 0)
    rec = {"step": step, "done": done, "total": total, "unit": unit, "eta_s": eta_s, "updated": now, **extra}
    return atomic_write_json(Path(out_dir) / PROGRESS_FILE, rec)


def seeded_cap(rows: list, cap: int | None, seed: int) -> list:
    """At most ``cap`` rows drawn by ``seed``, in file order; labeled rows keep every label's share
    (:func:`factory.sampling.stratified_indices`): a head would be biased where files are sorted by label."""
    if cap is None or len(rows) <= cap:
        return list(rows)
    labels = [getattr(r, "label", None) for r in rows]
    if all(lab is not None for lab in labels):
        from factory.sampling import stratified_indices

        return [rows[i] for i in stratified_indices(labels, cap, seed)]
    keep = sorted(random.Random(seed).sample(range(len(rows)), cap))
    return [rows[i] for i in keep]


def intake(
    spec: TaskSpec,
    run_dir: str | Path,
    *,
    pool_cap: int | None,
    dev_cap: int | None,
    test_cap: int | None,
    seed: int = 0,
    answers: list[dict] | None = None,
) -> str:
    """Snapshot the task for one run: human answers join the gold set, splits capped by seeded samples.

    Answers flagged ``"unclear"`` (a person marked the text unclear or junk) leave the pool but never join the gold.
    """
    with _step("intake", run_dir, {}) as info:
        answered = {a["text"] for a in answers or []}
        gold_texts = {e.text for e in spec.gold}
        spec.gold = spec.gold + [
            Example(a["text"], a["label"], a.get("factory_id"))
            for a in answers or []
            if a["text"] not in gold_texts and not a.get("unclear")
        ]
        spec.unlabeled = seeded_cap([e for e in spec.unlabeled if e.text not in answered], pool_cap, seed)
        spec.dev = seeded_cap(spec.dev, dev_cap, seed + 1)
        test_total = len(spec.test)  # before the cap: the figures then say "600 of 2,010 test texts"
        spec.test = seeded_cap(spec.test, test_cap, seed + 2)
        info.update(spec.counts(), test_total=test_total)
        out = Path(run_dir) / "spec.json"
        atomic_write_json(out, spec.to_dict())
    return str(out)


def adapt_teacher(spec_path: str, teacher_config: dict, out_dir: str) -> str:
    """``teacher.adapt_committee`` on the gold set; the committee and its members are saved in ``out_dir``."""
    from teacher import CommitteeConfig, adapt_committee

    spec = load_spec(spec_path)
    cfg = CommitteeConfig.from_dict(teacher_config)
    if cfg.llm is not None:  # the task's prompt settings, unless the run's config names its own
        cfg.llm = {**{k: v for k, v in (("text_name", spec.text_name), ("template", spec.prompt)) if v}, **cfg.llm}
    with _step("teacher-adapt", out_dir, {}) as info:
        c = adapt_committee(spec, cfg, out_dir=out_dir)
        info.update(members=c.names, weights=c.weights, dev=c.metrics.get("dev"))
    return out_dir


def generate_samples(spec_path: str, generator_config: dict, out_dir: str) -> str:
    """``generator.generate`` without a filter (it runs beside the teacher); samples in ``out_dir``."""
    from generator import GeneratorConfig, generate

    spec = load_spec(spec_path)
    cfg = GeneratorConfig.from_dict({**({"text_name": spec.text_name} if spec.text_name else {}), **generator_config})
    with _step("generate", out_dir, {}) as info:
        res = generate(spec, cfg, out_dir=out_dir, progress=False)
        info.update(samples=len(res.samples))
    return str(Path(out_dir) / "samples.jsonl")


def label_texts(teacher_dir: str, spec_path: str, sample_paths: list[str], out_dir: str) -> dict:
    """The teacher labels the unlabeled pool and the synthetic samples; probabilities as JSONL.

    When the teacher has an embedding member, its vectors of those texts, the gold and dev (computed while
    labeling and adapting, so nearly free) are saved too (``teacher-embeddings.json``/``.npy``): the student's
    embedding-alignment loss learns from them.
    """
    from teacher import load_labeler

    spec = load_spec(spec_path)
    with _step("teacher-label", out_dir, {}) as info:
        samples = [r for p in sample_paths if Path(p).is_file() for r in read_jsonl(p)]
        pool = [e.text for e in spec.unlabeled]
        labeler = load_labeler(teacher_dir)
        texts = pool + [s["text"] for s in samples]
        # In chunks, so the Runs page can say how far labeling is; members score texts independently, so the
        # probabilities are those of one call (up to float noise from different batching).
        probs, started = [], time.time()
        report_progress(out_dir, "teacher-label", 0, len(texts), "texts", started=started)
        for i in range(0, len(texts), LABEL_CHUNK):
            probs += labeler.label(texts[i : i + LABEL_CHUNK], progress=False).probs.tolist()
            report_progress(out_dir, "teacher-label", len(probs), len(texts), "texts", started=started)
        out = Path(out_dir)
        # Gold and dev vectors too: :func:`decide_synthesis` tests the samples on dev with them.
        emb_texts = pool + [s["text"] for s in samples] + [e.text for e in spec.gold + spec.dev]
        emb_path = save_embeddings(labeler, emb_texts, out)
        pool_path = atomic_write_jsonl(out / "pool.jsonl", [{"text": t, "probs": p} for t, p in zip(pool, probs)])
        syn_path = atomic_write_jsonl(
            out / "synthetic.jsonl",
            [{"text": s["text"], "label": s["label"], "probs": p} for s, p in zip(samples, probs[len(pool) :])],
        )
        info.update(pool=len(pool), synthetic=len(samples), embeddings=emb_path is not None)
    return {
        "pool": str(pool_path),
        "synthetic": str(syn_path),
        "embeddings": emb_path,
        "model_version": f"teacher-{Path(teacher_dir).parent.name}",
    }


def save_embeddings(labeler, texts: list[str], out_dir: str | Path) -> str | None:
    """The labeler's embedding-member vectors of ``texts`` as ``out_dir/teacher-embeddings.json``; None without one."""
    from student.data import EMBEDDINGS, TeacherEmbeddings
    from teacher import embedding_member

    member = embedding_member(labeler)
    if member is None:
        return None
    texts = list(dict.fromkeys(texts))
    return str(
        TeacherEmbeddings(texts, member.embed(texts), member.metrics.get("model", "")).save(Path(out_dir) / EMBEDDINGS)
    )


def filter_synthetic(spec_path: str, synthetic_path: str, generator_config: dict, out_dir: str) -> str:
    """``generator.filters.teacher_agreement``: drop samples the adapted teacher disagrees with."""
    from generator import GeneratorConfig
    from generator.filters import teacher_agreement

    spec = load_spec(spec_path)
    rows = read_jsonl(synthetic_path)
    threshold = GeneratorConfig.from_dict(generator_config).teacher_threshold
    keep = (
        teacher_agreement([r["probs"] for r in rows], [spec.label_index(r["label"]) for r in rows], threshold)
        if rows
        else []
    )
    return str(atomic_write_jsonl(Path(out_dir) / "synthetic-kept.jsonl", [r for r, k in zip(rows, keep) if k]))


SYNTHESIS_FILE = "synthesis.json"


def decide_synthesis(spec_path: str, kept_path: str, embeddings: str | None, out_dir: str, rule: str = "dev") -> dict:
    """Do the kept synthetic samples help? Decided on dev, so the student gets them only where they do.

    The embedding member's head (:func:`teacher.embedding.samples_help`) is fitted on the gold alone and
    on gold + the samples (each with the label it was written for), using the vectors the labeling step
    saved; the samples are used when that head gets clearly more dev texts right (``samples_help``'s margin). Without dev, samples or vectors the
    samples are used as before and the reason says why; ``rule="always"`` uses them without the test. Writes ``synthesis.json``; returns
    ``{"use", "path", "kept", "reason", ...}`` where ``path`` is the samples file or None.
    """
    import numpy as np

    spec = load_spec(spec_path)
    rows = read_jsonl(kept_path)
    with _step("synthesis", out_dir, {}) as info:
        out: dict = {"kept": len(rows)}
        vectors = None
        if embeddings:
            from student.data import TeacherEmbeddings

            vectors = TeacherEmbeddings.load(embeddings)
        index = vectors.index() if vectors is not None else {}
        needed = [e.text for e in spec.gold + spec.dev] + [r["text"] for r in rows]
        if not rows:
            out.update(use=False, reason="no synthetic samples (generation off, or none passed the filters)")
        elif rule == "always":
            out.update(use=True, reason="synthetic_use='always': samples used without a dev test")
        elif not spec.dev:
            out.update(use=True, reason="no dev set to decide on: samples used")
        elif vectors is None or any(t not in index for t in needed):
            out.update(use=True, reason="no teacher embeddings of gold, dev and samples to decide with: samples used")
        else:
            from teacher.embedding import samples_help

            def xy(texts, labels):
                return vectors.vectors[[index[t] for t in texts]].astype(np.float64), np.array(
                    [spec.label_index(lab) for lab in labels]
                )

            test = samples_help(
                xy([e.text for e in spec.gold], [e.label for e in spec.gold]),
                xy([r["text"] for r in rows], [r["label"] for r in rows]),
                xy([e.text for e in spec.dev], [e.label for e in spec.dev]),
                len(spec.labels),
            )
            a, b = test["gold_only"], test["with_samples"]
            verdict = "used" if test["helps"] else "left out"
            out.update(
                use=test["helps"],
                dev=test,
                reason=(
                    f"{verdict}: on {test['dev_n']} dev texts the embedding head scored {100 * b['accuracy']:.1f} % "
                    f"(NLL {b['nll']:.3f}) with the {len(rows)} samples, {100 * a['accuracy']:.1f} % "
                    f"(NLL {a['nll']:.3f}) without; {test['gained']:+d} dev texts, {test['needed']} needed"
                ),
            )
        out["path"] = kept_path if out["use"] else None
        atomic_write_json(Path(out_dir) / SYNTHESIS_FILE, out)
        info.update(use=out["use"], kept=len(rows))
    return out


def pick_questions(pool_path: str, k: int, exclude: list[str], out_dir: str) -> str:
    """``teacher.select_questions`` over pool items not asked before; rows ``{text, probs}``."""
    from teacher import select_questions

    skip = set(exclude)
    rows = [r for r in read_jsonl(pool_path) if r["text"] not in skip]
    idx = select_questions([r["probs"] for r in rows], [r["text"] for r in rows], k=k) if rows else []
    return str(atomic_write_jsonl(Path(out_dir) / "questions.jsonl", [rows[i] for i in idx]))


def distill_student(
    spec_path: str,
    soft_paths: list[str],
    student_config: dict,
    out_dir: str,
    budget: str = "balanced",
    max_latency_ms: float | None = None,
    embeddings: str | None = None,
) -> str:
    """``student.distill_ladder`` on gold (+ human answers) and the soft labels; returns the published kind's folder.

    Every kind the budget trains lands in ``out_dir/<kind>`` beside ``ladder.json`` (dev accuracy, latency, params).
    ``embeddings``: the labeling step's ``teacher-embeddings.json``, for the embedding-alignment loss.
    """
    from student import DistillConfig, DistillData
    from student.data import TeacherEmbeddings
    from student.ladder import distill_ladder

    with _step("distill", out_dir, {}) as info:
        soft = [(r["text"], r["probs"]) for p in soft_paths for r in read_jsonl(p)]
        emb = TeacherEmbeddings.load(embeddings) if embeddings else None
        data = DistillData.from_spec(load_spec(spec_path), soft=soft, embeddings=emb)
        art = distill_ladder(
            data, DistillConfig.from_dict(student_config), out_dir, budget=budget, max_latency_ms=max_latency_ms
        )
        art.save()
        info.update(soft=len(soft), params=art.params, kind=art.kind, budget=budget)
    return str(art.run_dir)


def evaluate_student(artifact_dir: str, spec_path: str, out_dir: str) -> dict:
    """``student.evaluate`` on the task's test set; returns the JSON metrics."""
    from student import StudentArtifact
    from student.evaluate import evaluate

    from student.ladder import read_ladder

    with _step("evaluate", out_dir, {}):
        metrics = evaluate(StudentArtifact.load(artifact_dir), load_spec(spec_path).test, out_dir)
        intake_step = Path(spec_path).parent / STEP_FILE
        if intake_step.is_file():  # how many test texts the task has, when the run capped them
            total = json.loads(intake_step.read_text(encoding="utf-8")).get("test_total")
            if isinstance(total, int) and total > metrics.get("n", 0):
                metrics["test_total"] = total
                atomic_write_json(Path(out_dir) / "metrics.json", metrics)
        ladder = read_ladder(artifact_dir)
        if ladder:  # every kind the budget trained, for the card and the Models page's accuracy-vs-speed plot
            metrics["ladder"] = ladder
            atomic_write_json(Path(out_dir) / "metrics.json", metrics)  # the file on disk says what the run returns
    return json.loads(json.dumps(metrics, default=str))


def teacher_info(teacher_dir: str | None) -> dict:
    """What labeled the data, for the model card and the Models page: model, mode, dev metrics, params."""
    if not teacher_dir:
        return {}
    d = Path(teacher_dir)
    for name in ("committee.json", "teacher.json", "embedding-teacher.json"):
        if not (d / name).is_file():
            continue
        meta = json.loads((d / name).read_text(encoding="utf-8"))
        m = meta.get("metrics", {})
        if name == "committee.json":
            models = {k: v.get("model", k) for k, v in m.get("members", {}).items()}
            used = {k: w for k, w in meta["weights"].items() if w > 0}
            model = " + ".join(f"{models.get(k, k)} ({w:.1f})" for k, w in used.items())
            mode = f"committee, {meta['combine']} pooling" if len(used) > 1 else "committee of one"
        else:
            model, mode = m.get("model") or meta.get("config", {}).get("model"), m.get("mode") or m.get("kind")
        return {"model": model, "mode": mode, "dev": m.get("dev") or {}}
    return {}


def score_teacher(teacher_dir: str, spec_path: str, out_dir: str) -> dict:
    """The teacher (its active members) on the same test texts as the student: accuracy, macro-F1, n, texts/s."""
    from sklearn.metrics import accuracy_score, f1_score

    from teacher import load_labeler

    spec = load_spec(spec_path)
    with _step("teacher-test", out_dir, {}) as info:
        if not spec.test:
            info.update(n=0)
            return {}
        labeler = load_labeler(teacher_dir)
        t0 = time.perf_counter()
        res = labeler.label([e.text for e in spec.test])
        secs = time.perf_counter() - t0
        y = [e.label for e in spec.test]
        out = {
            "accuracy": float(accuracy_score(y, res.labels)),
            "macro_f1": float(f1_score(y, res.labels, labels=spec.label_ids, average="macro", zero_division=0)),
            "n": len(y),
            "texts_per_second": round(len(y) / max(secs, 1e-9), 2),
            "params": labeler.params,
        }
        atomic_write_json(Path(out_dir) / "teacher-test.json", out)
        info.update(out)
    return out


def export_student(
    artifact_dir: str,
    spec_path: str,
    metrics: dict,
    out_dir: str,
    teacher_dir: str | None = None,
    teacher_test: dict | None = None,
    synthesis: dict | None = None,
) -> str:
    """``student.export_artifact``: HF folder (fp16) + one parity-checked ONNX file + card (naming the teacher), zipped.

    ``teacher_test``: :func:`score_teacher`'s figures, shown beside the student's on the card and the Models page.
    ``synthesis``: :func:`decide_synthesis`'s verdict, kept in the metrics and said on the card.
    """
    if synthesis:
        metrics = {**metrics, "synthesis": {k: synthesis.get(k) for k in ("use", "kept", "reason")}}
    from student import StudentArtifact
    from student.export import export_artifact

    with _step("export", out_dir, {}):
        export_artifact(
            StudentArtifact.load(artifact_dir),
            load_spec(spec_path),
            out_dir,
            metrics=metrics,
            teacher_info={**teacher_info(teacher_dir), **(teacher_test or {})},
        )
    return out_dir


def report(run_dir: str | Path) -> dict:
    """Seconds per step of a run, from the ``step.json`` files under ``run_dir``."""
    out = {}
    for p in sorted(Path(run_dir).rglob(STEP_FILE)):
        s = json.loads(p.read_text(encoding="utf-8"))
        key = s["step"] if s["step"] not in out else f"{s['step']}:{p.parent.name}"
        out[key] = s["seconds"]
    return out
