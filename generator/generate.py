"""The generator's entry point: label-conditioned synthesis, filtered, with a report.

``generate(spec, cfg, teacher=None)`` loads the generator LM, writes exactly the
configured budget of candidates (one prompt, one candidate), passes them
through the filter chain of :mod:`generator.screen` and returns the survivors
with a report (removals and acceptance after every filter, samples/s,
diversity per label). With ``out_dir`` it also writes ``generator.json``
(config), ``samples.jsonl``, ``rejected.jsonl``, ``report.json`` and a manifest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, write_manifest
from factory.spec import TaskSpec, validate_task
from generator.config import GeneratorConfig
from generator.diversity import diversity
from generator.prompts import PromptBuilder
from generator.sampling import domain_token_ids, sample_lines
from generator.screen import screen


@dataclass
class Sample:
    """A synthetic text, the label it was written for, and the teacher's probabilities (None without a teacher)."""

    text: str
    label: str
    probs: list[float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Sample":
        return cls(text=d["text"], label=str(d["label"]), probs=d.get("probs"))


@dataclass
class GenerationResult:
    samples: list[Sample]
    report: dict = field(default_factory=dict)


def generator_model_name(spec: TaskSpec, cfg: GeneratorConfig) -> str:
    """``cfg.model``, else the bundled default generator for the task's language."""
    from factory.models import DEFAULT_GENERATOR

    return cfg.model or DEFAULT_GENERATOR[spec.language]


def load_generator(spec: TaskSpec, cfg: GeneratorConfig):
    """``(model, tokenizer)`` of the generator LM (bundled name, local path or hub id)."""
    from factory.models import load_causal_lm

    return load_causal_lm(generator_model_name(spec, cfg))


def schedule(budget: dict[str, int]) -> list[str]:
    """Intended label of every candidate, labels interleaved so a batch mixes them; length = budget."""
    left = dict(budget)
    order: list[str] = []
    while any(left.values()):
        for lab in budget:
            if left[lab]:
                order.append(lab)
                left[lab] -= 1
    return order


DOMAIN_POOL_TEXTS = 2000  # pool texts whose tokens join the sampling vocabulary


def generate(
    spec: TaskSpec,
    cfg: GeneratorConfig | None = None,
    teacher=None,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> GenerationResult:
    """Write synthetic samples for every label of ``spec`` and keep those that pass every filter.

    ``teacher`` (optional) is anything with ``label(texts).probs`` (n × L, columns
    in ``spec.label_ids`` order), e.g. :class:`teacher.Teacher`; with it, only
    samples whose intended label gets at least ``cfg.teacher_threshold`` are
    kept, carrying the teacher's probabilities as soft labels.
    """
    cfg = cfg or GeneratorConfig()
    cfg.check_budget(spec)
    validate_task(spec)
    t0 = time.perf_counter()
    model, tokenizer = load_generator(spec, cfg)
    load_s = time.perf_counter() - t0
    res = generate_with(spec, cfg, model, tokenizer, teacher=teacher, progress=progress)
    res.report["seconds"]["load"] = load_s
    res.report["model"] = generator_model_name(spec, cfg)
    if out_dir is not None:
        save_result(res, cfg, out_dir)
    return res


def generate_with(
    spec: TaskSpec,
    cfg: GeneratorConfig,
    model,
    tokenizer,
    *,
    teacher=None,
    existing: Sequence[str] = (),
    seed: int | None = None,
    progress: bool = True,
) -> GenerationResult:
    """:func:`generate` with an already loaded model (used for repeated rounds, e.g. :func:`fill_buffer`).

    ``existing`` texts count as duplicates for the new samples; ``seed``
    overrides ``cfg.seed`` for this round.
    """
    seed = cfg.seed if seed is None else seed
    budget = cfg.budget(spec.label_ids)
    builder = PromptBuilder(spec, cfg, tokenizer, seed=seed)
    intended = schedule(budget)
    prompts = [builder.prompt(lab) for lab in intended]
    t0 = time.perf_counter()
    allowed = None
    if cfg.domain_vocab:
        allowed = domain_token_ids(tokenizer, prompts + [e.text for e in spec.unlabeled[:DOMAIN_POOL_TEXTS]])
    raw = sample_lines(
        model, tokenizer, prompts, cfg, chat=builder.chat, seed=seed, progress=progress, allowed_ids=allowed
    )
    gen_s = time.perf_counter() - t0
    texts = [builder.clean(r, lab) for r, lab in zip(raw, intended)]
    t1 = time.perf_counter()
    sc = screen(spec, cfg, texts, intended, teacher=teacher, existing=existing)
    filter_s = time.perf_counter() - t1
    samples = [Sample(texts[i], intended[i], sc["probs"].get(i)) for i in sc["keep"]]
    rejected = [
        {"text": texts[i], "label": intended[i], "raw": raw[i], "reason": why}
        for i, why in sorted(sc["reasons"].items())
    ]
    n = len(texts)
    total_s = gen_s + filter_s
    report = {
        "task": spec.name,
        "language": spec.language,
        "chat_template": builder.chat,
        "seed": seed,
        "budget": budget,
        "generated": n,
        "filters": sc["filters"],
        "accepted": len(samples),
        "acceptance_rate": len(samples) / n if n else None,
        "accepted_per_label": {lab: sum(1 for s in samples if s.label == lab) for lab in spec.label_ids},
        "seconds": {
            "generate": gen_s,
            "filter": filter_s - sc["teacher_seconds"],
            "teacher": sc["teacher_seconds"],
            "total": total_s,
        },
        "samples_per_second": n / gen_s if gen_s > 0 else None,
        "accepted_per_second": len(samples) / total_s if total_s > 0 else None,
        "diversity": {
            lab: diversity([s.text for s in samples if s.label == lab], spec.language) for lab in spec.label_ids
        },
        "gold_diversity": {
            lab: diversity([e.text for e in spec.gold if e.label == lab], spec.language) for lab in spec.label_ids
        },
        "rejected": rejected,
    }
    return GenerationResult(samples=samples, report=report)


def save_result(res: GenerationResult, cfg: GeneratorConfig, out_dir: str | Path) -> Path:
    """Write config, samples, rejected candidates, report and manifest into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "generator.json")
    atomic_write_jsonl(out / "samples.jsonl", [s.to_dict() for s in res.samples])
    atomic_write_jsonl(out / "rejected.jsonl", res.report.get("rejected", []))
    atomic_write_json(out / "report.json", {k: v for k, v in res.report.items() if k != "rejected"})
    write_manifest(out, {"stage": "generator", "task": res.report.get("task")})
    return out
