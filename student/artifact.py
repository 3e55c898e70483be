"""``StudentArtifact``: a trained student on disk, described by ``student.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory.atomic import atomic_write_json
from factory.errors import TaskError

ARTIFACT_FILE = "student.json"


@dataclass
class StudentArtifact:
    """What :func:`student.distill` returns: the best model's HF folder plus how it got there.

    ``dev_metrics`` holds ``accuracy``, ``macro_f1`` and ``loss`` on dev at the best epoch;
    ``history`` one row per epoch (``train_loss``, ``dev_accuracy``, ``dev_macro_f1``, ``dev_loss``, ``seconds``).
    """

    run_dir: Path
    model_dir: Path
    label_ids: list[str]
    params: int
    kind: str
    base: str
    history: list[dict] = field(default_factory=list)
    dev_metrics: dict = field(default_factory=dict)
    best_epoch: int | None = None
    student_info: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    data_counts: dict = field(default_factory=dict)
    train_seconds: float | None = None

    def save(self) -> Path:
        d = asdict(self)
        d["run_dir"] = "."
        d["model_dir"] = Path(self.model_dir).resolve().relative_to(Path(self.run_dir).resolve()).as_posix()
        return atomic_write_json(Path(self.run_dir) / ARTIFACT_FILE, d)

    @classmethod
    def load(cls, run_dir: str | Path) -> "StudentArtifact":
        run_dir = Path(run_dir)
        path = run_dir / ARTIFACT_FILE
        if not path.is_file():
            raise TaskError(
                f"a finished student run with {ARTIFACT_FILE}",
                f"no {path}",
                "run student.distill (or python -m student.train) to completion first",
                where="StudentArtifact.load",
            )
        d = json.loads(path.read_text(encoding="utf-8"))
        d["run_dir"] = run_dir
        d["model_dir"] = run_dir / d["model_dir"]
        return cls(**d)
