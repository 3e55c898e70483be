"""Benchmark tasks from the bundled data directory (``../shared/data``).

``load_benchmark_task("eprstmt", split=0)`` gives a :class:`TaskSpec` with the
FewCLUE protocol: gold = ``train_k``, dev = ``dev_k``, test = ``test_public``,
unlabeled = ``unlabeled.json`` (when present). English sets follow the same
shape (SST-2 with k examples per class sampled by seed; BANKING77's fixed
``train_5``/``train_10``).
"""

from __future__ import annotations

import os
from pathlib import Path

from factory.errors import TaskError
from factory.spec import TaskSpec

FEWCLUE_TASKS = ("eprstmt", "tnews", "iflytek", "csldcp")
ENGLISH_TASKS = ("sst2", "banking77")


def default_data_root() -> Path:
    """``$FACTORY_DATA`` if set, else ``shared/data`` beside the project checkout."""
    env = os.environ.get("FACTORY_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "shared" / "data", here / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return here.parent / "shared" / "data"


def find_task_dir(task: str, data: str | os.PathLike | None = None) -> Path:
    if data is not None:
        d = Path(data)
        if not d.is_dir():
            raise TaskError(
                "a data directory", f"{d} does not exist", "pass --data pointing at a FewCLUE-style task folder"
            )
        return d
    root = default_data_root()
    for sub in ("fewclue", "english"):
        d = root / sub / task
        if d.is_dir():
            return d
    raise TaskError(
        f"a benchmark task under {root}/fewclue or {root}/english",
        f"no folder for {task!r}",
        "pass --data DIR or set FACTORY_DATA",
    )


def load_benchmark_task(
    task: str,
    split: int = 0,
    data: str | os.PathLike | None = None,
    shots: int = 8,
    seed: int = 0,
) -> TaskSpec:
    """Build the benchmark :class:`TaskSpec` for ``task`` and few-shot split ``split``."""
    from intake import readers

    d = find_task_dir(task, data)
    if (d / f"train_{split}.json").exists() or (d / "test_public.json").exists():
        return readers.read_fewclue_dir(d, name=task if data is None else d.name, split=split)
    if (d / "stsa.binary.train").exists():
        return readers.read_sst_dir(d, name=task, shots=shots, seed=seed + split)
    if (d / "train_5").is_dir():
        return readers.read_banking_dir(d, name=task, shots=5 if shots <= 5 else 10)
    raise TaskError(
        "a FewCLUE, SST-2 or BANKING77 layout", f"unrecognised files in {d}", "point --data at a supported folder"
    )
