"""Bundled sample tasks (FewCLUE EPRSTMT and TNEWS) offered on the Tasks page.

A sample is created through :func:`intake.create.create_task` with the
FewCLUE files of one few-shot split, the same command the README shows, so a
sample task is indistinguishable from one created on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from intake.benchmark_data import find_task_dir
from factory.errors import TaskError
from intake.create import create_task
from factory.spec import TaskSpec
from factory.workspace import Workspace


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    description: str


SAMPLES = {
    "eprstmt": Sample(
        "eprstmt",
        "EPRSTMT — e-commerce review sentiment (Chinese, 2 classes)",
        "32 gold reviews (16 positive, 16 negative), 32 dev, 610 test, 19,565 unlabeled.",
    ),
    "tnews": Sample(
        "tnews",
        "TNEWS — news headline topics (Chinese, 15 classes)",
        "240 gold headlines (16 per topic), 240 dev, 2,010 test, 20,000 unlabeled.",
    ),
}


def sample_files(key: str, split: int = 0, with_pool: bool = True) -> dict[str, Path]:
    """The FewCLUE files of sample ``key`` for few-shot split ``split``."""
    if key not in SAMPLES:
        raise TaskError(f"a sample in {sorted(SAMPLES)}", repr(key), "pick one of the listed samples", where="sample")
    d = find_task_dir(key)
    files = {"train": d / f"train_{split}.json", "dev": d / f"dev_{split}.json", "test": d / "test_public.json"}
    if with_pool:
        files["unlabeled"] = d / "unlabeled.json"
    return {k: p for k, p in files.items() if p.is_file()}


def create_sample(ws: Workspace, key: str, name: str, split: int = 0, with_pool: bool = True) -> TaskSpec:
    """Create task ``name`` from sample ``key`` (FewCLUE format) in ``ws``."""
    files = sample_files(key, split, with_pool)
    return create_task(
        name,
        files["train"],
        dev=files.get("dev"),
        test=files.get("test"),
        unlabeled=files.get("unlabeled"),
        fmt="fewclue",
        workspace=ws,
    )
