"""The teacher: adapt a causal LM to a task, then label texts with calibrated probabilities."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from factory.atomic import atomic_write_bytes, atomic_write_json
from factory.errors import TaskError
from factory.spec import Label, TaskSpec
from teacher.calibration import Calibration, expected_calibration_error, fit_calibration
from teacher.config import AUTO_EMBEDDING_ABOVE, TeacherConfig
from teacher.prompts import DEFAULT_SYSTEM, PromptBuilder, default_template, fill_prompt, pick_demonstrations

WEIGHTS = "teacher.safetensors"
META = "teacher.json"


@dataclass
class LabelResult:
    """Teacher output for n texts: ``probs`` (n × L, columns in ``spec.label_ids`` order, rows sum to 1)."""

    probs: np.ndarray
    labels: list[str]
    confidence: np.ndarray


def _runtime(cfg: TeacherConfig):
    import torch

    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.dtype == "auto":
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    else:
        dtype = getattr(torch, cfg.dtype)
    return device, dtype


def model_name(cfg: TeacherConfig, language: str) -> str:
    """The LM this config runs: its ``model``, else the 1.5B instruct model on a GPU, the language's CPU default otherwise."""
    import torch

    from factory.models import DEFAULT_TEACHER, GPU_TEACHER

    if cfg.model:
        return cfg.model
    on_gpu = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
    return GPU_TEACHER if on_gpu else DEFAULT_TEACHER.get(language, DEFAULT_TEACHER["en"])


def uses_chat(cfg: TeacherConfig, name: str, tokenizer) -> bool:
    """Whether prompts go through the tokenizer's chat template (``chat="auto"``: bundled instruct models, or hub names saying instruct/chat)."""
    from factory.models import BUNDLED

    if cfg.chat != "auto":
        return cfg.chat == "on"
    if not getattr(tokenizer, "chat_template", None):
        return False
    if name in BUNDLED:
        return bool(BUNDLED[name].get("chat"))
    low = name.lower()
    return "instruct" in low or "chat" in low


def _load_model(cfg: TeacherConfig, language: str):
    from factory.models import load_causal_lm

    name = model_name(cfg, language)
    device, dtype = _runtime(cfg)
    model, tok = load_causal_lm(name, dtype=dtype)
    model.to(device).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return name, model, tok


def multi_token_mode(cfg: TeacherConfig, label_seqs: list[list[int]]) -> str:
    """The scoring of multi-token labels that ``cfg.multi_token`` resolves to for these verbalizers."""
    if cfg.multi_token != "auto":
        return cfg.multi_token
    return "embedding" if sum(len(s) > 1 for s in label_seqs) > AUTO_EMBEDDING_ABOVE else "sequence"


class Teacher:
    """An adapted causal LM that labels texts. Build one with :func:`adapt` or :meth:`Teacher.load`."""

    def __init__(
        self,
        model,
        tokenizer,
        config: TeacherConfig,
        labels: list[Label],
        language: str,
        *,
        template: str,
        demos=(),
        calibration: Calibration | None = None,
        metrics: dict | None = None,
        trained: list[str] | None = None,
        chat: bool = False,
        system: str | None = None,
    ):
        from teacher.scoring import VerbalizerScorer

        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.labels, self.language, self.template = list(labels), language, template
        self.chat, self.system = chat, system
        self.builder = PromptBuilder(
            tokenizer,
            template,
            self.labels,
            max_length=config.max_length,
            demos=tuple(tuple(d) for d in demos),
            chat=chat,
            system=system,
        )
        self.scorer = VerbalizerScorer(
            model,
            self.builder.label_token_ids,
            pad_id=tokenizer.pad_token_id,
            aggregate=config.aggregate,
            multi_token=multi_token_mode(config, self.builder.label_token_ids),
        )
        # A long shared prefix (demonstrations) is run once and reused from its KV cache.
        self._cached_prefix = len(self.builder.prefix_ids) > 1
        self.scorer.set_prefix(self.builder.prefix_ids if self._cached_prefix else [])
        self.calibration = calibration or Calibration()
        self.metrics = metrics or {}
        self.trained = list(trained or [])

    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # -- scoring --------------------------------------------------------------
    def rows(self, texts: list[str]) -> list[list[int]]:
        """Prompt token ids of ``texts`` as the scorer takes them (prefix cached or prepended)."""
        pre = [] if self._cached_prefix else self.builder.prefix_ids
        return [pre + self.builder.text_ids(t) for t in texts]

    def raw_scores(self, texts: list[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Uncalibrated (n, L) label scores."""
        from teacher.scoring import score_rows

        if not texts:
            return np.zeros((0, len(self.labels)))
        return score_rows(
            self.scorer,
            self.rows(list(texts)),
            batch_size or self.config.eval_batch_size,
            progress=progress,
            desc="teacher labeling",
        )

    def label(self, texts: list[str], batch_size: int | None = None, progress: bool | None = None) -> LabelResult:
        """Calibrated label probabilities, predicted label ids and confidences for ``texts``."""
        show = self.config.progress if progress is None else progress
        probs = self.calibration.apply(
            self.raw_scores(
                texts, batch_size, progress=show and len(texts) > (batch_size or self.config.eval_batch_size)
            )
        )
        ids = self.label_ids
        return LabelResult(
            probs=probs,
            labels=[ids[i] for i in probs.argmax(1)],
            confidence=probs.max(1) if len(probs) else np.zeros(0),
        )

    # -- persistence ------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``teacher.safetensors`` (the fine-tuned tensors) and ``teacher.json`` (config, calibration, metrics)."""
        from safetensors.torch import save

        d = Path(directory)
        state = {
            n: p.detach().to("cpu").contiguous() for n, p in self.model.named_parameters() if n in set(self.trained)
        }
        atomic_write_bytes(d / WEIGHTS, save(state, metadata={"format": "pt"}))
        meta = {
            "config": self.config.to_dict(),
            "language": self.language,
            "template": self.template,
            "chat": self.chat,
            "system": self.system,
            "labels": [lab.to_dict() for lab in self.labels],
            "label_token_ids": self.builder.label_token_ids,
            "demos": [list(x) for x in self.builder.demos],
            "calibration": self.calibration.to_dict(),
            "metrics": self.metrics,
            "trained": self.trained,
        }
        atomic_write_json(d / META, meta)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> "Teacher":
        """Rebuild a saved teacher: its base model plus the saved fine-tuned tensors."""
        import torch
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / META).is_file():
            raise TaskError(
                f"a teacher folder with {META} and {WEIGHTS}",
                f"no {META} in {d}",
                "pass the folder given to Teacher.save or adapt(out_dir=...)",
                where="Teacher.load",
            )
        meta = json.loads((d / META).read_text(encoding="utf-8"))
        cfg = TeacherConfig.from_dict(meta["config"])
        _, model, tok = _load_model(cfg, meta["language"])
        if (d / WEIGHTS).is_file():
            state = load_file(str(d / WEIGHTS))
            params = dict(model.named_parameters())
            with torch.no_grad():
                for n, t in state.items():
                    params[n].copy_(t.to(params[n].dtype))
        labels = [Label.from_dict(x) for x in meta["labels"]]
        return cls(
            model,
            tok,
            cfg,
            labels,
            meta["language"],
            template=meta["template"],
            demos=meta["demos"],
            calibration=Calibration.from_dict(meta["calibration"]),
            metrics=meta.get("metrics"),
            trained=meta.get("trained"),
            chat=bool(meta.get("chat")),
            system=meta.get("system"),
        )


def _check(spec: TaskSpec, cfg: TeacherConfig) -> None:
    if len(spec.labels) < 2:
        raise TaskError(
            "a task with at least 2 labels", f"{len(spec.labels)}", "add labels to the task", where="teacher"
        )
    if cfg.mode in ("icl", "finetune") and not spec.gold:
        raise TaskError(
            f"gold examples for mode={cfg.mode!r}",
            "none",
            "add labeled examples or use mode='zero-shot'",
            where="teacher",
        )
    known = set(spec.label_ids)
    bad = [e.label for e in spec.gold + spec.dev if e.label not in known]
    if bad:
        raise TaskError(
            f"gold/dev labels in {sorted(known)}",
            f"{sorted(set(map(str, bad)))}",
            "fix the labels or the label set",
            where="teacher",
        )


def adapt(spec: TaskSpec, config: TeacherConfig | None = None, out_dir: str | Path | None = None) -> Teacher:
    """Adapt a teacher to ``spec`` (zero-shot prompt, in-context demos or prompt-based fine-tuning).

    Fine-tuning selects the best step on ``spec.dev``; calibration is fitted on
    ``spec.dev`` too. With ``out_dir`` the teacher is saved there (see :meth:`Teacher.save`).
    """
    from teacher.finetune import finetune, set_trainable
    from teacher.scoring import score_rows

    cfg = config or TeacherConfig()
    _check(spec, cfg)
    t0 = time.perf_counter()
    name, model, tok = _load_model(cfg, spec.language)
    chat = uses_chat(cfg, name, tok)
    if chat and cfg.mode == "icl":
        raise TaskError(
            "mode 'zero-shot' or 'finetune' for a chat model",
            "mode='icl'",
            "use mode='zero-shot' or 'finetune', or chat='off'",
            where="TeacherConfig.mode",
        )
    system = (cfg.system or DEFAULT_SYSTEM.get(spec.language, DEFAULT_SYSTEM["en"])) if chat else None
    demos = (
        pick_demonstrations(spec.gold, spec.labels, cfg.icl_shots, cfg.seed)
        if cfg.mode == "icl" and cfg.icl_shots
        else ()
    )
    index = {lid: i for i, lid in enumerate(spec.label_ids)}
    dev_texts, dev_y = [e.text for e in spec.dev], [index[e.label] for e in spec.dev]
    metrics: dict = {"model": name, "mode": cfg.mode, "chat": chat}

    def build(labels: list[Label]) -> Teacher:
        template = fill_prompt(
            cfg.template or default_template(spec.language, chat), labels, spec.language, cfg.text_name
        )
        return Teacher(model, tok, cfg, labels, spec.language, template=template, demos=demos, chat=chat, system=system)

    sets = verbalizer_sets(spec.labels) if cfg.verbalizer == "auto" and dev_texts else [list(spec.labels)]
    if len(sets) > 1:
        # Answer words are worth choosing per model: 正面/负面 beat 好/差 for Qwen's chat prompt on EPRSTMT dev.
        scored = []
        for labels in sets:
            cand = build(labels)
            acc = float((cand.raw_scores(dev_texts).argmax(1) == np.asarray(dev_y)).mean())
            scored.append((acc, labels))
        metrics["verbalizer_choice"] = [
            {"words": [lab.words()[0] for lab in labels], "dev_accuracy": acc} for acc, labels in scored
        ]
        best = max(range(len(scored)), key=lambda i: (scored[i][0], -i))
        teacher = build(scored[best][1])
    else:
        teacher = build(list(spec.labels))

    if cfg.mode == "finetune":
        gold_texts, gold_y = [e.text for e in spec.gold], [index[e.label] for e in spec.gold]
        names = set(set_trainable(model, cfg))
        initial = (
            {n: p.detach().clone() for n, p in model.named_parameters() if n in names} if cfg.self_train_rounds else {}
        )
        sel = selection_sample(dev_y, cfg.select_dev, cfg.seed)
        sel_rows, sel_y = teacher.rows([dev_texts[i] for i in sel]), [dev_y[i] for i in sel]
        report = finetune(teacher.scorer, teacher.rows(gold_texts), gold_y, sel_rows, sel_y, cfg)
        report["select_dev"] = len(sel)
        rounds = [report]
        for r in range(cfg.self_train_rounds):
            pseudo_texts, pseudo_y = _pseudo_labels(teacher, spec, cfg, seed=cfg.seed + r)
            _restore(model, initial)
            report = finetune(
                teacher.scorer, teacher.rows(gold_texts + pseudo_texts), gold_y + pseudo_y, sel_rows, sel_y, cfg
            )
            report["pseudo_labeled"] = len(pseudo_texts)
            rounds.append(report)
        teacher.trained = report["trained"]
        metrics["finetune"] = [{k: v for k, v in rep.items() if k != "trained"} for rep in rounds]

    if dev_texts:
        raw = teacher.raw_scores(dev_texts)
        cf = score_rows(teacher.scorer, teacher.rows(teacher.builder.content_free_texts()), cfg.eval_batch_size)
        teacher.calibration = fit_calibration(raw, np.asarray(dev_y), cfg.calibration, cf)
        probs = teacher.calibration.apply(raw)
        y = np.asarray(dev_y)
        metrics["dev"] = {
            "n": len(dev_y),
            "accuracy": float((probs.argmax(1) == y).mean()),
            "accuracy_uncalibrated": float((raw.argmax(1) == y).mean()),
            "ece": expected_calibration_error(probs, y),
            "ece_uncalibrated": expected_calibration_error(teacher.calibration.__class__().apply(raw), y),
        }
    metrics["adapt_seconds"] = time.perf_counter() - t0
    teacher.metrics = metrics
    if out_dir is not None:
        teacher.save(out_dir)
    return teacher


def verbalizer_sets(labels: list[Label]) -> list[list[Label]]:
    """Candidate answer-word sets: the k-th word of every label (its last one where it has fewer), k = 0.."""
    n = max(len(lab.words()) for lab in labels)
    out: dict[tuple[str, ...], list[Label]] = {}
    for k in range(n):
        chosen = tuple(lab.words()[min(k, len(lab.words()) - 1)] for lab in labels)
        out.setdefault(
            chosen,
            [replace(lab, verbalizer=(w,) + tuple(x for x in lab.words() if x != w)) for lab, w in zip(labels, chosen)],
        )
    return list(out.values())


def selection_sample(y: list[int], cap: int | None, seed: int) -> list[int]:
    """Indices of at most ``cap`` dev items, spread over labels in proportion (each label keeps at least one)."""
    from factory.sampling import stratified_indices

    return stratified_indices(y, cap, seed)


def _restore(model, state: dict) -> None:
    import torch

    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in state:
                p.copy_(state[n])


def _pseudo_labels(teacher: Teacher, spec: TaskSpec, cfg: TeacherConfig, seed: int) -> tuple[list[str], list[int]]:
    """The most confident teacher predictions on a pool sample, at most ``self_train_per_label`` per label."""
    pool = [e.text for e in spec.unlabeled]
    random.Random(seed).shuffle(pool)
    pool = pool[: cfg.self_train_pool]
    if not pool:
        return [], []
    probs = Calibration().apply(teacher.raw_scores(pool, progress=cfg.progress))
    pred, conf = probs.argmax(1), probs.max(1)
    texts, ys = [], []
    for k in range(len(spec.labels)):
        idx = [i for i in np.argsort(-conf) if pred[i] == k][: cfg.self_train_per_label]
        texts += [pool[i] for i in idx]
        ys += [k] * len(idx)
    return texts, ys
