"""``RecipeConfig``: the one typed config of the recipe, used by the flows and by ``factory bench``.

It carries each stage's config as a plain dict (the fields of
``teacher.CommitteeConfig``, ``generator.GeneratorConfig`` and
``student.DistillConfig``), so flow parameters stay JSON and this module never
imports the ML libraries; :func:`check_stages` checks the dicts against the
real config classes before anything heavy starts. The flows know it as
``pipelines.config.RecipeConfig``. Named presets are YAML files in ``configs/``
(:meth:`RecipeConfig.preset`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field

from factory.config import CONFIGS_DIR, StageConfig, read_config_file
from factory.errors import TaskError

SynthesisRule = Literal["dev", "always"]
SYNTHESIS_RULES = get_args(SynthesisRule)  # RecipeConfig.synthetic_use: see recipe.steps.decide_synthesis
# configs/bench-*.yaml are the benchmark budgets (a recipe mapping plus baseline settings), not recipe presets.
BENCH_PREFIX = "bench-"


class RecipeConfig(StageConfig):
    """Budgets and stage settings for one run of the recipe."""

    # CommitteeConfig fields: {"llm": {...}, "embedding": {...}, "combine": ...}
    teacher: dict = Field(default_factory=dict)
    generator: dict = Field(default_factory=lambda: {"per_label": 20})  # GeneratorConfig fields
    student: dict = Field(default_factory=dict)  # DistillConfig fields shared by every student kind
    # student.ladder budget: "fastest" | "balanced" | "accurate" (checked against student.ladder.BUDGETS in check_stages)
    budget: str = "balanced"
    # publish the most accurate kind at or under this batch-1 CPU latency
    max_latency_ms: float | None = Field(None, gt=0)
    questions: int = Field(20, ge=0)  # questions pushed to the annotation queue per run
    pool_cap: int | None = Field(2000, ge=1)  # unlabeled texts the teacher labels (None = all)
    dev_cap: int | None = Field(None, ge=1)  # dev texts used for selection/calibration (None = all)
    test_cap: int | None = Field(None, ge=1)  # test texts the student is evaluated on (None = all)
    buffer_target: int = Field(0, ge=0)  # iteration: generator samples kept ready in the task's buffer (0 = off)
    synthetic: bool = True  # False: skip the generator (the no-synthetic ablation)
    # "dev": the student gets the kept samples only when they help the embedding head on dev
    # (recipe.steps.decide_synthesis, reported in the run); "always": whenever some pass the filters
    synthetic_use: SynthesisRule = "dev"
    score_teacher: bool = True  # score the teacher on the student's test texts, for the card and the Models page
    seed: int = 0  # the seeded samples that cap pool, dev and test

    @classmethod
    def preset(cls, name: str) -> RecipeConfig:
        """The preset ``configs/<name>.yaml`` (``tiny``: minutes on 2 CPU cores; ``demo``: what `make demo` runs)."""
        names = presets()
        if name not in names:
            raise TaskError(
                f"a preset among {names}", repr(name), f"pass one of {names} or a .json/.yaml path", where="preset"
            )
        return cls.from_dict(read_config_file(CONFIGS_DIR / f"{name}.yaml"))

    @classmethod
    def load(cls, path: str | Path) -> RecipeConfig:
        """A ``.json``/``.yaml`` file, or a bare preset name (:meth:`preset`: ``tiny``, ``demo``, ...)."""
        if not Path(path).suffix and not Path(path).exists():
            return cls.preset(str(path))
        return super().load(path)


def presets() -> list[str]:
    """The names of the recipe presets in ``configs/`` (the benchmark budgets left out)."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml") if not p.stem.startswith(BENCH_PREFIX))


def check_stages(cfg: RecipeConfig) -> None:
    """Validate every stage config against its real class (imports the stage packages, not torch)."""
    from generator import GeneratorConfig
    from student import DistillConfig
    from teacher import CommitteeConfig

    CommitteeConfig.from_dict(cfg.teacher)
    GeneratorConfig.from_dict(cfg.generator)
    DistillConfig.from_dict(cfg.student)
    from student.ladder import kinds_for

    kinds_for(cfg.budget)
