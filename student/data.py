"""``DistillData``: what the student learns from, in the label order of the task.

Gold pairs carry hard labels; soft examples carry the teacher's probability
vector (one column per ``label_ids`` entry) and an optional weight (e.g. 0.5
for synthetic text). Stored as JSON lines so the training loop can run in
another process (``accelerate launch`` / ``torchrun``).

``TeacherEmbeddings`` optionally rides along: the embedding teacher's vector of
each text (``.npy`` float16 + a ``.json`` with the texts and the file's
sha256), for the student's embedding-alignment loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from factory.atomic import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, read_jsonl, sha256_file
from factory.errors import TaskError
from factory.spec import TaskSpec


EMBEDDINGS = "teacher-embeddings"


@dataclass(frozen=True)
class SoftExample:
    text: str
    probs: tuple[float, ...]
    weight: float = 1.0


@dataclass
class TeacherEmbeddings:
    """The embedding teacher's unit vectors for ``texts`` (row i belongs to ``texts[i]``)."""

    texts: list[str]
    vectors: np.ndarray  # (n, D)
    model: str = ""

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, dtype=np.float16)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.texts):
            raise TaskError(
                f"an (n, D) matrix with one row per text ({len(self.texts)} texts)",
                f"shape {self.vectors.shape}",
                "pass teacher.embed(texts) for the same texts",
                where="TeacherEmbeddings",
            )

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.texts)}

    def save(self, path: str | Path) -> Path:
        """``<path>.npy`` and ``<path>.json``; returns the ``.json`` (the file to pass around)."""
        import io

        path = Path(path)
        buf = io.BytesIO()
        np.save(buf, self.vectors, allow_pickle=False)
        npy = atomic_write_bytes(path.with_suffix(".npy"), buf.getvalue())
        meta = {"texts": self.texts, "dim": int(self.vectors.shape[1]), "model": self.model, "sha256": sha256_file(npy)}
        return atomic_write_json(path.with_suffix(".json"), meta)

    @classmethod
    def load(cls, path: str | Path) -> "TeacherEmbeddings":
        """Read what :meth:`save` wrote; the matrix is checked against the sha256 in the ``.json``."""
        import json

        path = Path(path).with_suffix(".json")
        meta = json.loads(path.read_text(encoding="utf-8"))
        npy = path.with_suffix(".npy")
        if not npy.is_file() or sha256_file(npy) != meta.get("sha256"):
            raise TaskError(
                f"{npy.name} matching the sha256 in {path.name}",
                "a missing or changed file",
                "rerun the labeling step that wrote them",
                where="TeacherEmbeddings.load",
            )
        return cls(meta["texts"], np.load(npy, allow_pickle=False), meta.get("model", ""))


@dataclass
class DistillData:
    """Training material for :func:`student.distill`."""

    label_ids: list[str]
    gold: list[tuple[str, str]]
    dev: list[tuple[str, str]] = field(default_factory=list)
    soft: list[SoftExample] = field(default_factory=list)
    language: str = "zh"
    vocab_texts: list[str] = field(default_factory=list)
    embeddings: TeacherEmbeddings | None = None

    @classmethod
    def from_spec(
        cls, spec: TaskSpec, soft: Iterable[Sequence] = (), embeddings: TeacherEmbeddings | None = None
    ) -> "DistillData":
        """Gold/dev from ``spec``; ``soft`` rows are ``(text, probs)`` or ``(text, probs, weight)``.

        ``vocab_texts`` (the texts a derived student's vocabulary is pruned to)
        gets every text the task knows: gold, dev, unlabeled and soft.
        """
        rows = []
        for r in soft:
            text, probs = r[0], r[1]
            weight = float(r[2]) if len(r) > 2 and r[2] is not None else 1.0
            rows.append(SoftExample(str(text), tuple(float(p) for p in probs), weight))
        data = cls(
            label_ids=list(spec.label_ids),
            gold=[(e.text, e.label) for e in spec.gold],
            dev=[(e.text, e.label) for e in spec.dev],
            soft=rows,
            language=spec.language,
            vocab_texts=[e.text for e in spec.unlabeled],
            embeddings=embeddings,
        )
        return data.validate()

    def all_texts(self) -> list[str]:
        """Every text the task's vocabulary must cover, without duplicates, in a stable order."""
        seen = dict.fromkeys(
            [t for t, _ in self.gold] + [t for t, _ in self.dev] + [s.text for s in self.soft] + list(self.vocab_texts)
        )
        return list(seen)

    def validate(self) -> "DistillData":
        n = len(self.label_ids)
        if n < 2 or len(set(self.label_ids)) != n:
            raise TaskError(
                "at least 2 distinct label ids",
                repr(self.label_ids),
                "pass spec.label_ids",
                where="DistillData.label_ids",
            )
        known = set(self.label_ids)
        for split in ("gold", "dev"):
            for i, (text, label) in enumerate(getattr(self, split)):
                if label not in known:
                    raise TaskError(
                        f"a label in {sorted(known)}",
                        f"{label!r} in {split} row {i + 1}",
                        "fix the label",
                        where=f"DistillData.{split}",
                    )
                if not isinstance(text, str) or not text.strip():
                    raise TaskError(
                        "a non-empty text", repr(text), "drop empty rows", where=f"DistillData.{split} row {i + 1}"
                    )
        if not self.gold and not self.soft:
            raise TaskError("gold or soft examples", "neither", "give at least the gold set", where="DistillData")
        for i, s in enumerate(self.soft):
            if len(s.probs) != n or any(p < 0 or not math.isfinite(p) for p in s.probs) or abs(sum(s.probs) - 1) > 1e-3:
                raise TaskError(
                    f"{n} probabilities in label_ids order {self.label_ids}, summing to 1",
                    f"{list(s.probs)} (sum {sum(s.probs):.4f})",
                    "pass teacher.label(texts).probs rows (one column per label)",
                    where=f"DistillData.soft row {i + 1}",
                )
            if s.weight < 0:
                raise TaskError(
                    "a weight >= 0",
                    str(s.weight),
                    "use 1.0 for pool texts, less for synthetic ones",
                    where=f"DistillData.soft row {i + 1}",
                )
        return self

    # -- files the training loop reads -------------------------------------
    def save(self, d: str | Path) -> Path:
        d = Path(d)
        atomic_write_json(
            d / "data.json", {"label_ids": self.label_ids, "language": self.language, "counts": self.counts()}
        )
        atomic_write_jsonl(d / "gold.jsonl", [{"text": t, "label": y} for t, y in self.gold])
        atomic_write_jsonl(d / "dev.jsonl", [{"text": t, "label": y} for t, y in self.dev])
        atomic_write_jsonl(
            d / "soft.jsonl", [{"text": s.text, "probs": list(s.probs), "weight": s.weight} for s in self.soft]
        )
        if self.embeddings is not None:
            keep = {t for t, _ in self.gold} | {s.text for s in self.soft}
            idx = [i for i, t in enumerate(self.embeddings.texts) if t in keep]
            TeacherEmbeddings(
                [self.embeddings.texts[i] for i in idx], self.embeddings.vectors[idx], self.embeddings.model
            ).save(d / EMBEDDINGS)
        else:  # a folder reused for a run without embeddings must not keep an earlier run's
            for suffix in (".json", ".npy"):
                (d / f"{EMBEDDINGS}{suffix}").unlink(missing_ok=True)
        return d

    @classmethod
    def load(cls, d: str | Path) -> "DistillData":
        import json

        d = Path(d)
        meta = json.loads((d / "data.json").read_text(encoding="utf-8"))
        return cls(
            label_ids=meta["label_ids"],
            language=meta.get("language", "zh"),
            gold=[(r["text"], r["label"]) for r in read_jsonl(d / "gold.jsonl")],
            dev=[(r["text"], r["label"]) for r in read_jsonl(d / "dev.jsonl")],
            soft=[
                SoftExample(r["text"], tuple(r["probs"]), r.get("weight", 1.0)) for r in read_jsonl(d / "soft.jsonl")
            ],
            embeddings=TeacherEmbeddings.load(d / EMBEDDINGS) if (d / f"{EMBEDDINGS}.json").is_file() else None,
        ).validate()

    def counts(self) -> dict[str, int]:
        return {
            "gold": len(self.gold),
            "dev": len(self.dev),
            "soft": len(self.soft),
            "vocab_texts": len(self.all_texts()),
            "teacher_embeddings": 0 if self.embeddings is None else len(self.embeddings.texts),
        }
