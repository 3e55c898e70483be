"""Read published model versions (``models/v<N>/``) for display: metrics, plots, the zip.

A version is what :meth:`Workspace.publish_model` copied from the export
directory of :func:`student.export_artifact`::

    v<N>/MANIFEST.json                 sha256s + publish info (run, kind, human answers, metrics)
    v<N>/<task>-student.zip            the download
    v<N>/<task>-student/metrics.json   test metrics; PNGs beside it
    v<N>/<task>-student/student.json   params, dev metrics, history, teacher info

Only reads files; nothing here computes a metric. Missing pieces stay ``None``
so the page can say what is absent instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from factory.workspace import Workspace


@dataclass
class ModelVersion:
    """One published artifact version as found on disk."""

    task: str
    name: str
    path: Path
    metrics: dict = field(default_factory=dict)
    student: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    teacher: dict = field(default_factory=dict)
    confusion_png: Path | None = None
    learning_curve_png: Path | None = None
    zip_path: Path | None = None
    card: str | None = None

    @property
    def number(self) -> int:
        return int(self.name[1:])

    @property
    def download_name(self) -> str | None:
        """The zip's name as saved by the browser: task and version in front so downloads never collide."""
        if self.zip_path is None:
            return None
        return f"{self.task}-{self.name}-{self.zip_path.name}"

    @property
    def params(self) -> int | None:
        return self.student.get("params") or self.metrics.get("params")

    def comparison_rows(self) -> list[dict]:
        """Student and teacher side by side (test metrics where measured, dev accuracy for both)."""
        dev = self.student.get("dev_metrics") or {}
        rows = [
            {
                "system": f"student ({self.name})",
                "model": _short_model(self.student.get("base") or self.student.get("kind")),
                "test accuracy": self.metrics.get("accuracy"),
                "test macro-F1": self.metrics.get("macro_f1"),
                "dev accuracy": dev.get("dev_accuracy"),
                "ECE": self.metrics.get("ece"),
                "params": self.params,
                "texts/s": self.metrics.get("texts_per_second"),
            }
        ]
        t = self.teacher
        if t:
            tdev = t.get("dev") or {}
            rows.append(
                {
                    "system": "teacher",
                    "model": " ".join(str(x) for x in (t.get("model"), t.get("mode")) if x) or None,
                    "test accuracy": t.get("accuracy"),
                    "test macro-F1": t.get("macro_f1"),
                    "dev accuracy": tdev.get("accuracy", t.get("dev_accuracy")),
                    "ECE": tdev.get("ece", t.get("ece")),
                    "params": t.get("params"),
                    "texts/s": t.get("texts_per_second"),
                }
            )
        return rows


def _short_model(name) -> str | None:
    # A local path says little in a table; its last folder names the model.
    return Path(name).name if isinstance(name, str) and "/" in name and Path(name).is_absolute() else name


def _read_json(p: Path | None) -> dict:
    if p is None:
        return {}
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _first(path: Path, patterns: tuple[str, ...]) -> Path | None:
    for pat in patterns:
        hits = sorted(path.rglob(pat), key=lambda p: (len(p.parts), str(p)))
        if hits:
            return hits[0]
    return None


def _teacher_info(ws: Workspace, task: str, metrics: dict, student: dict, manifest: dict) -> dict:
    """The teacher's metrics: in the version's files if the exporter put them there, else the run's committee or teacher."""
    for cand in (metrics.get("teacher"), student.get("teacher")):
        if isinstance(cand, dict) and cand:
            return cand
    run = manifest.get("run")
    if isinstance(run, str) and run and "/" not in run and ".." not in run:
        from recipe.steps import teacher_info

        tdir = ws.task_dir(task) / "runs" / run / "teacher"
        if (tdir / "committee.json").is_file():
            return teacher_info(str(tdir))
        meta = _read_json(tdir / "teacher.json")
        if isinstance(meta.get("metrics"), dict):
            return meta["metrics"]
    return {}


def read_version(ws: Workspace, task: str, path: Path) -> ModelVersion:
    """Collect what one version directory holds (metrics, plots, zip, model card)."""
    manifest = _read_json(path / "MANIFEST.json")
    metrics = _read_json(_first(path, ("metrics.json",))) or dict(manifest.get("metrics") or {})
    student_json = _first(path, ("student.json",))
    student = _read_json(student_json)
    home = student_json.parent if student_json else path
    zips = sorted(path.glob("*.zip")) or sorted(path.rglob("*.zip"))

    def png(key: str, pattern: str) -> Path | None:
        named = metrics.get(key)
        if isinstance(named, str) and (home / Path(named).name).is_file():
            return home / Path(named).name
        return _first(path, (pattern,))

    card = home / "README.md"
    return ModelVersion(
        task=task,
        name=path.name,
        path=path,
        metrics=metrics,
        student=student,
        manifest=manifest,
        teacher=_teacher_info(ws, task, metrics, student, manifest),
        confusion_png=png("confusion_matrix_png", "confusion*.png"),
        learning_curve_png=png("learning_curve_png", "learning*.png"),
        zip_path=zips[0] if zips else None,
        card=card.read_text(encoding="utf-8") if card.is_file() else None,
    )


def list_versions(ws: Workspace, task: str) -> list[ModelVersion]:
    """Every published version of ``task``, newest first."""
    return [read_version(ws, task, p) for p in reversed(ws.model_versions(task))]
