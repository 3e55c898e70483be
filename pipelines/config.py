"""``PipelineConfig``: the one typed config of the production and iteration flows.

It carries each stage's config as a plain dict (the fields of
``teacher.TeacherConfig``, ``generator.GeneratorConfig`` and
``student.DistillConfig``), so flow parameters stay JSON and this module never
imports the ML libraries; the intake task checks the dicts against the real
config classes before anything heavy starts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from factory.errors import TaskError


@dataclass
class PipelineConfig:
    """Budgets and stage settings for one pipeline run."""

    teacher: dict = field(default_factory=dict)  # TeacherConfig fields
    generator: dict = field(default_factory=lambda: {"per_label": 20})  # GeneratorConfig fields
    student: dict = field(default_factory=dict)  # DistillConfig fields
    questions: int = 20  # questions pushed to the annotation queue per run
    pool_cap: int | None = 2000  # unlabeled texts the teacher labels (None = all)
    dev_cap: int | None = None  # dev texts used for selection/calibration (None = all)
    test_cap: int | None = None  # test texts the student is evaluated on (None = all)
    buffer_target: int = 0  # iteration: generator samples kept ready in the task's buffer (0 = off)
    synthetic: bool = True  # False: skip the generator (the no-synthetic ablation)

    def validate(self) -> "PipelineConfig":
        """Check types and ranges; raise :class:`TaskError` with the fix."""
        for name in ("teacher", "generator", "student"):
            if not isinstance(getattr(self, name), dict):
                raise TaskError("a dict of config fields", f"{type(getattr(self, name)).__name__}", f"pass {name}={{...}} with that stage's config fields", where=f"PipelineConfig.{name}")
        if not isinstance(self.questions, int) or self.questions < 0:
            raise TaskError("questions >= 0", repr(self.questions), "set how many questions go to the queue per run", where="PipelineConfig.questions")
        for name in ("pool_cap", "dev_cap", "test_cap"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise TaskError(f"{name} >= 1 or null", repr(v), f"set {name} to a positive count or null for all", where=f"PipelineConfig.{name}")
        if self.buffer_target < 0:
            raise TaskError("buffer_target >= 0", repr(self.buffer_target), "set 0 to disable the buffer", where="PipelineConfig.buffer_target")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "PipelineConfig":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TaskError(f"fields among {sorted(known)}", f"unknown {unknown}", "remove or rename them", where="PipelineConfig")
        return cls(**d).validate()

    @classmethod
    def load(cls, path: str | Path) -> "PipelineConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def tiny(cls) -> "PipelineConfig":
        """Minutes on 2 CPU cores: for tests, CI and smoke runs, not for quality."""
        return cls(
            teacher={"epochs": 1, "progress": False},
            generator={"per_label": 2, "max_new_tokens": 32},
            student={"epochs": 1, "layers": 2, "patience": 1},
            questions=6,
            pool_cap=40,
            dev_cap=16,
            test_cap=40,
        ).validate()

    @classmethod
    def demo(cls) -> "PipelineConfig":
        """The bundled defaults with capped pool/test sets so `make demo` ends in minutes, not hours."""
        return cls(generator={"per_label": 8}, student={"epochs": 4}, questions=20, pool_cap=300, test_cap=200).validate()
