"""The teacher committee: members of different kinds, each calibrated, combined on dev.

Members are an LLM prompt teacher (:class:`teacher.Teacher`: chat prompts for
instruct models, optionally prompt-fine-tuned on the gold) and an embedding
teacher (:class:`teacher.embedding.EmbeddingTeacher`: sentence embeddings
plus a linear head). Their calibrated probabilities are pooled log-linearly
(``softmax(sum_m w_m log p_m)``, weights on a simplex grid by dev NLL, a
weight of 0 drops a member) or averaged; ``combine="auto"`` keeps whichever
pooling scores better on dev. A member can never be outweighed by a worse
one on dev: the grid includes every member alone.

Optional self-training: the committee labels a pool sample and the
embedding member's head is refitted on gold + the confident pool labels,
kept only when dev says it helps.

Saved as ``committee.json`` beside one folder per member.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import Field, model_validator
from scipy.special import softmax

from factory.atomic import atomic_write_json
from factory.config import StageConfig
from factory.errors import TaskError
from factory.spec import TaskSpec
from teacher.calibration import expected_calibration_error, nll

META = "committee.json"
Combine = Literal["auto", "loglinear", "mean"]
COMBINES = get_args(Combine)
GRID_STEPS = 10  # weights in steps of 1/10


class CommitteeConfig(StageConfig):
    """Which members to build and how to pool them. ``None`` turns a member off.

    The members' settings stay plain dicts (JSON for flow parameters); :meth:`check` builds each member's
    config from its dict, so a bad member field fails here, naming the member's config class.
    """

    # teacher.TeacherConfig fields. Zero-shot by default: prompt-fine-tuning Qwen2.5-Coder-0.5B's top 6 layers on
    # EPRSTMT's 32 gold never beat its zero-shot chat prompt on dev (lr 3e-5 and 1e-4, best step = step 0).
    llm: dict | None = Field(default_factory=lambda: {"mode": "zero-shot"})
    embedding: dict | None = Field(default_factory=dict)  # teacher.embedding.EmbeddingTeacherConfig fields
    combine: Combine = "auto"
    # A prompt listing more options than this is beyond a small chat model and slow to score: the LLM member is
    # then left out (BANKING77, 77 labels: Qwen-0.5B 28.7 % on dev against the embedding member's 94.7 %, weight 0,
    # after 26 min of CPU). None: always build it.
    llm_max_labels: int | None = 32
    # rounds of refitting the embedding head on confident committee labels of the pool
    self_train_rounds: int = Field(0, ge=0)
    self_train_per_label: int = Field(32, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _members_fields_go_under_their_member(cls, data: Any) -> Any:
        # A flat LLM field ({"epochs": 3}) is the usual mistake: say where it belongs, not just "unknown".
        if isinstance(data, dict):
            extra = sorted(set(data) - set(cls.model_fields))
            if extra:
                raise TaskError(
                    f"CommitteeConfig fields ({', '.join(sorted(cls.model_fields))})",
                    f"unknown {extra}",
                    "put LLM settings under 'llm' and embedding settings under 'embedding'",
                    where="CommitteeConfig",
                )
        return data

    def check(self) -> None:
        """At least one member; each member's dict is a valid config of its class; ``llm_max_labels`` >= 2."""
        from teacher.config import TeacherConfig
        from teacher.embedding import EmbeddingTeacherConfig

        if self.llm is None and self.embedding is None:
            raise TaskError(
                "at least one committee member",
                "llm=None and embedding=None",
                "keep the LLM or the embedding member",
                where="CommitteeConfig",
            )
        if self.llm is not None:
            TeacherConfig.from_dict(self.llm)
        if self.embedding is not None:
            EmbeddingTeacherConfig.from_dict(self.embedding)
        if self.llm_max_labels is not None and self.llm_max_labels < 2:
            raise TaskError(
                "an integer >= 2 or null",
                f"llm_max_labels={self.llm_max_labels!r}",
                "set e.g. 32, or null to always build the LLM member",
                where="CommitteeConfig.llm_max_labels",
            )


def pool(member_probs: list[np.ndarray], weights: list[float], how: str) -> np.ndarray:
    """Combine (n, L) member probabilities: ``loglinear`` = softmax of weighted log-probs, ``mean`` = weighted average."""
    w = np.asarray(weights, dtype=np.float64)
    if how == "mean":
        out = sum(wi * p for wi, p in zip(w, member_probs))
        return out / max(w.sum(), 1e-12)
    z = sum(wi * np.log(np.clip(p, 1e-12, None)) for wi, p in zip(w, member_probs))
    return softmax(z, axis=1)


def _simplex(m: int, steps: int = GRID_STEPS) -> list[tuple[float, ...]]:
    return [
        tuple(c / steps for c in combo)
        for combo in itertools.product(range(steps + 1), repeat=m)
        if sum(combo) == steps
    ]


def fit_weights(member_probs: list[np.ndarray], y: np.ndarray, how: str) -> tuple[tuple[float, ...], float, float]:
    """Weights on the simplex grid with the best dev (accuracy, -NLL); returns (weights, accuracy, NLL)."""
    best = None
    for w in _simplex(len(member_probs)):
        p = pool(member_probs, list(w), how)
        acc = float((p.argmax(1) == y).mean())
        loss = nll(np.log(np.clip(p, 1e-12, None)), y)
        key = (acc, -loss)
        if best is None or key > best[0]:
            best = (key, w, acc, loss)
    return best[1], best[2], best[3]


class Committee:
    """Members plus pooling weights; ``label(texts)`` returns a :class:`teacher.LabelResult`."""

    def __init__(
        self,
        members: dict,
        weights: dict[str, float],
        combine: str,
        config: CommitteeConfig,
        metrics: dict | None = None,
    ):
        self.members, self.weights, self.combine, self.config = members, weights, combine, config
        self.metrics = metrics or {}

    @property
    def labels(self):
        return next(iter(self.members.values())).labels

    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def params(self) -> int:
        return sum(m.params for name, m in self.members.items() if self.weights.get(name, 0) > 0)

    @property
    def names(self) -> dict[str, str]:
        """Member kind -> model name (what labeled the data, for the model card)."""
        return {k: m.metrics.get("model", "?") for k, m in self.members.items()}

    def member_probs(self, texts: list[str], progress: bool = False) -> dict[str, np.ndarray]:
        """Each active member's calibrated probabilities for ``texts``."""
        return {
            k: m.label(list(texts), progress=progress).probs
            for k, m in self.members.items()
            if self.weights.get(k, 0) > 0
        }

    def label(self, texts: list[str], batch_size: int | None = None, progress: bool = False):
        from teacher.teacher import LabelResult

        texts = list(texts)
        if not texts:
            return LabelResult(probs=np.zeros((0, len(self.labels))), labels=[], confidence=np.zeros(0))
        per = self.member_probs(texts, progress)
        probs = pool(list(per.values()), [self.weights[k] for k in per], self.combine)
        ids = self.label_ids
        return LabelResult(probs=probs, labels=[ids[i] for i in probs.argmax(1)], confidence=probs.max(1))

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        for k, m in self.members.items():
            m.save(d / k)
        atomic_write_json(
            d / META,
            {
                "kind": "committee",
                "config": self.config.to_dict(),
                "members": list(self.members),
                "weights": self.weights,
                "combine": self.combine,
                "metrics": self.metrics,
            },
        )
        return d

    @classmethod
    def load(cls, directory: str | Path, all_members: bool = False) -> "Committee":
        """Rebuild a saved committee; members with weight 0 are skipped unless ``all_members``."""
        from teacher.embedding import EmbeddingTeacher
        from teacher.teacher import Teacher

        d = Path(directory)
        meta = json.loads((d / META).read_text(encoding="utf-8"))
        loaders = {"llm": Teacher.load, "embedding": EmbeddingTeacher.load}
        # Members with weight 0 take no part in labeling: not loading them saves minutes and GBs.
        members = {k: loaders[k](d / k) for k in meta["members"] if all_members or meta["weights"].get(k, 0) > 0}
        return cls(
            members, meta["weights"], meta["combine"], CommitteeConfig.from_dict(meta["config"]), meta.get("metrics")
        )


def embedding_member(labeler):
    """The labeler's embedding teacher (itself, or a committee's active embedding member); None if it has none."""
    from teacher.embedding import EmbeddingTeacher

    if isinstance(labeler, EmbeddingTeacher):
        return labeler
    if isinstance(labeler, Committee) and labeler.weights.get("embedding", 0) > 0:
        return labeler.members.get("embedding")
    return None


def load_labeler(directory: str | Path):
    """A saved committee, LLM teacher or embedding teacher: whatever ``directory`` holds."""
    from teacher.embedding import META as EMB_META
    from teacher.embedding import EmbeddingTeacher
    from teacher.teacher import META as LLM_META
    from teacher.teacher import Teacher

    d = Path(directory)
    if (d / META).is_file():
        return Committee.load(d)
    if (d / EMB_META).is_file():
        return EmbeddingTeacher.load(d)
    if (d / LLM_META).is_file():
        return Teacher.load(d)
    raise TaskError(
        f"a teacher folder ({META}, {LLM_META} or {EMB_META})",
        f"none of them in {d}",
        "pass the folder the teacher stage wrote",
        where="teacher",
    )


def _self_train(committee: Committee, spec: TaskSpec, dev_y: np.ndarray, cfg: CommitteeConfig, log: list) -> None:
    """Refit the embedding head on gold + confident committee labels of the pool; keep a round when dev improves."""
    from dataclasses import replace

    from factory.spec import Example
    from teacher.embedding import EmbeddingTeacher, fit_head

    emb = committee.members.get("embedding")
    if not isinstance(emb, EmbeddingTeacher) or not spec.unlabeled or not spec.dev:
        return
    pool_texts = [e.text for e in spec.unlabeled]
    dev_texts = [e.text for e in spec.dev]
    for r in range(cfg.self_train_rounds):
        res = committee.label(pool_texts)
        picked = []
        for k, lid in enumerate(committee.label_ids):
            idx = [i for i in np.argsort(-res.confidence) if res.probs[i].argmax() == k][: cfg.self_train_per_label]
            picked += [Example(pool_texts[i], lid) for i in idx]
        before = committee.label(dev_texts).probs
        old = (emb.coef, emb.intercept, emb.calibration)
        fit_head(emb, replace(spec, gold=spec.gold + picked))
        after = committee.label(dev_texts).probs
        gain = (after.argmax(1) == dev_y).mean() - (before.argmax(1) == dev_y).mean()
        keep = gain > 0 or (
            gain == 0
            and nll(np.log(np.clip(after, 1e-12, None)), dev_y) < nll(np.log(np.clip(before, 1e-12, None)), dev_y)
        )
        log.append(
            {"round": r + 1, "pseudo_labeled": len(picked), "dev_accuracy_gain": float(gain), "kept": bool(keep)}
        )
        if not keep:
            emb.coef, emb.intercept, emb.calibration = old
            break


def adapt_committee(
    spec: TaskSpec, config: CommitteeConfig | None = None, out_dir: str | Path | None = None, progress: bool = False
) -> Committee:
    """Build every configured member on ``spec``, fit the pooling on dev, report each member and the committee."""
    from teacher.config import TeacherConfig
    from teacher.embedding import EmbeddingTeacherConfig, adapt_embedding
    from teacher.teacher import adapt

    cfg = config or CommitteeConfig()
    t0 = time.perf_counter()
    members: dict = {}
    seconds: dict[str, float] = {}
    if cfg.embedding is not None:
        t = time.perf_counter()
        members["embedding"] = adapt_embedding(
            spec, EmbeddingTeacherConfig.from_dict({"progress": progress, **cfg.embedding})
        )
        seconds["embedding"] = time.perf_counter() - t
    skipped = {}
    if cfg.llm is not None and members and cfg.llm_max_labels is not None and len(spec.labels) > cfg.llm_max_labels:
        skipped["llm"] = f"{len(spec.labels)} labels > llm_max_labels={cfg.llm_max_labels}"
    elif cfg.llm is not None:
        t = time.perf_counter()
        members["llm"] = adapt(spec, TeacherConfig.from_dict({"progress": progress, **cfg.llm}))
        seconds["llm"] = time.perf_counter() - t
    names = list(members)
    index = {lid: i for i, lid in enumerate(spec.label_ids)}
    dev_texts = [e.text for e in spec.dev]
    dev_y = np.array([index[e.label] for e in spec.dev])
    metrics: dict = {
        "members": {
            k: {"model": m.metrics.get("model"), "dev": m.metrics.get("dev"), "seconds": round(seconds[k], 2)}
            for k, m in members.items()
        }
    }
    if skipped:
        metrics["skipped"] = skipped
    if len(names) == 1 or not dev_texts:
        weights = {k: 1.0 / len(names) for k in names}
        combine = "loglinear" if cfg.combine == "auto" else cfg.combine
    else:
        per = [members[k].label(dev_texts).probs for k in names]
        hows = ("loglinear", "mean") if cfg.combine == "auto" else (cfg.combine,)
        fits = {how: fit_weights(per, dev_y, how) for how in hows}
        combine = max(fits, key=lambda h: (fits[h][1], -fits[h][2]))
        weights = dict(zip(names, fits[combine][0]))
        metrics["pooling"] = {
            h: {"weights": dict(zip(names, f[0])), "dev_accuracy": f[1], "dev_nll": f[2]} for h, f in fits.items()
        }
    committee = Committee(members, weights, combine, cfg)
    if cfg.self_train_rounds:
        metrics["self_train"] = []
        _self_train(committee, spec, dev_y, cfg, metrics["self_train"])
    if dev_texts:
        # Without self-training the members' dev probabilities are unchanged: pool them instead of scoring dev again.
        p = (
            pool(per, [weights[k] for k in names], combine)
            if len(names) > 1 and not cfg.self_train_rounds
            else committee.label(dev_texts).probs
        )
        metrics["dev"] = {
            "n": len(dev_y),
            "accuracy": float((p.argmax(1) == dev_y).mean()),
            "ece": expected_calibration_error(p, dev_y),
        }
    metrics["weights"], metrics["combine"] = weights, combine
    metrics["adapt_seconds"] = time.perf_counter() - t0
    committee.metrics = metrics
    if out_dir is not None:
        committee.save(out_dir)
    return committee
