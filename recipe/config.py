"""``RecipeConfig``: the one typed config of the recipe, used by the flows and by ``factory bench``.

It carries each stage's config as a plain dict (the fields of
``teacher.CommitteeConfig``, ``generator.GeneratorConfig`` and
``student.DistillConfig``), so flow parameters stay JSON and this module never
imports the ML libraries; :func:`check_stages` checks the dicts against the
real config classes before anything heavy starts. The flows know it as
``pipelines.config.RecipeConfig``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from factory.errors import TaskError

SYNTHESIS_RULES = ("dev", "always")  # RecipeConfig.synthetic_use: see recipe.steps.decide_synthesis


@dataclass
class RecipeConfig:
    """Budgets and stage settings for one run of the recipe."""

    teacher: dict = field(
        default_factory=dict
    )  # CommitteeConfig fields: {"llm": {...}, "embedding": {...}, "combine": ...}
    generator: dict = field(default_factory=lambda: {"per_label": 20})  # GeneratorConfig fields
    student: dict = field(default_factory=dict)  # DistillConfig fields shared by every student kind
    budget: str = "balanced"  # student.ladder budget: "fastest" | "balanced" | "accurate"
    max_latency_ms: float | None = None  # publish the most accurate kind at or under this batch-1 CPU latency
    questions: int = 20  # questions pushed to the annotation queue per run
    pool_cap: int | None = 2000  # unlabeled texts the teacher labels (None = all)
    dev_cap: int | None = None  # dev texts used for selection/calibration (None = all)
    test_cap: int | None = None  # test texts the student is evaluated on (None = all)
    buffer_target: int = 0  # iteration: generator samples kept ready in the task's buffer (0 = off)
    synthetic: bool = True  # False: skip the generator (the no-synthetic ablation)
    # "dev": the student gets the kept samples only when they help the embedding head on dev
    # (recipe.steps.decide_synthesis, reported in the run); "always": whenever some pass the filters
    synthetic_use: str = "dev"
    score_teacher: bool = True  # score the teacher on the student's test texts, for the card and the Models page
    seed: int = 0  # the seeded samples that cap pool, dev and test

    def validate(self) -> "RecipeConfig":
        """Check types and ranges; raise :class:`TaskError` with the fix."""
        for name in ("teacher", "generator", "student"):
            if not isinstance(getattr(self, name), dict):
                raise TaskError(
                    "a dict of config fields",
                    f"{type(getattr(self, name)).__name__}",
                    f"pass {name}={{...}} with that stage's config fields",
                    where=f"RecipeConfig.{name}",
                )
        if not isinstance(self.questions, int) or self.questions < 0:
            raise TaskError(
                "questions >= 0",
                repr(self.questions),
                "set how many questions go to the queue per run",
                where="RecipeConfig.questions",
            )
        for name in ("pool_cap", "dev_cap", "test_cap"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise TaskError(
                    f"{name} >= 1 or null",
                    repr(v),
                    f"set {name} to a positive count or null for all",
                    where=f"RecipeConfig.{name}",
                )
        if not isinstance(self.budget, str):  # its value is checked against student.ladder.BUDGETS in check_stages
            raise TaskError(
                "budget 'fastest', 'balanced' or 'accurate'",
                repr(self.budget),
                "use 'balanced' (the default)",
                where="RecipeConfig.budget",
            )
        if self.max_latency_ms is not None and not (
            isinstance(self.max_latency_ms, (int, float)) and self.max_latency_ms > 0
        ):
            raise TaskError(
                "max_latency_ms > 0 or null",
                repr(self.max_latency_ms),
                "give milliseconds per text at batch 1, e.g. 5",
                where="RecipeConfig.max_latency_ms",
            )
        if self.synthetic_use not in SYNTHESIS_RULES:
            raise TaskError(
                "synthetic_use 'dev' or 'always'",
                repr(self.synthetic_use),
                "use 'dev' (the samples must help on dev) or 'always'",
                where="RecipeConfig.synthetic_use",
            )
        if self.buffer_target < 0:
            raise TaskError(
                "buffer_target >= 0",
                repr(self.buffer_target),
                "set 0 to disable the buffer",
                where="RecipeConfig.buffer_target",
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "RecipeConfig":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TaskError(
                f"fields among {sorted(known)}", f"unknown {unknown}", "remove or rename them", where="RecipeConfig"
            )
        return cls(**d).validate()

    @classmethod
    def load(cls, path: str | Path) -> "RecipeConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def tiny(cls) -> "RecipeConfig":
        """Minutes on 2 CPU cores: for tests, CI and smoke runs, not for quality."""
        return cls(
            # The smallest committee that still has both kinds of member: zero-shot Gemma + the embedding head.
            teacher={
                "llm": {"model": "gemma-3-270m", "mode": "zero-shot", "progress": False},
                "embedding": {"progress": False},
            },
            generator={"model": "gemma-3-270m", "per_label": 2, "max_new_tokens": 32},
            student={"epochs": 1, "layers": 2, "patience": 1},
            questions=6,
            pool_cap=40,
            dev_cap=16,
            test_cap=40,
        ).validate()

    @classmethod
    def demo(cls) -> "RecipeConfig":
        """The bundled defaults on the demo task's 1,000 pool texts, so `make demo` ends in minutes, not hours.

        Only the student scores test (cheap), so all of test_public is used: a seeded 200 moved accuracy by ±2.5.
        """
        return cls(
            generator={"per_label": 8}, student={"epochs": 4}, questions=20, pool_cap=1000, test_cap=None
        ).validate()


def check_stages(cfg: RecipeConfig) -> None:
    """Validate every stage config against its real class (imports the stage packages, not torch)."""
    from generator import GeneratorConfig
    from student import DistillConfig
    from teacher import CommitteeConfig

    CommitteeConfig.from_dict(cfg.teacher)
    GeneratorConfig.from_dict(cfg.generator).validate()
    DistillConfig.from_dict(cfg.student).validate()
    from student.ladder import kinds_for

    kinds_for(cfg.budget)
