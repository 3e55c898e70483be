"""Read published model versions (``models/v<N>/``) for display: metrics, plots, the zip.

A version is what :meth:`Workspace.publish_model` copied from the export
directory of :func:`student.export_artifact`::

    v<N>/MANIFEST.json                 sha256s + publish info (run, kind, human answers, metrics)
    v<N>/<task>-student.zip            the download
    v<N>/<task>-student/metrics.json   test metrics; PNGs beside it
    v<N>/<task>-student/predictions.jsonl  every test prediction (versions evaluated since it was recorded)
    v<N>/<task>-student/student.json   params, dev metrics, history, teacher info

Only reads files; nothing here computes a metric. Missing pieces stay ``None``
so the page can say what is absent instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from factory.atomic import read_jsonl
from factory.errors import TaskError
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
    predictions_path: Path | None = None
    label_names: dict[str, str] = field(default_factory=dict)

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

    @property
    def test_n(self) -> int | None:
        """How many test texts the metrics were measured on (older versions: the per-class supports add up to it)."""
        n = self.metrics.get("n")
        if isinstance(n, int) and not isinstance(n, bool):
            return n
        supports = [r.get("support") for r in (self.metrics.get("per_class") or {}).values() if isinstance(r, dict)]
        return int(sum(supports)) if supports and all(isinstance(s, (int, float)) for s in supports) else None

    @property
    def test_size(self) -> str | None:
        """``"N test texts"``, or ``"N of M test texts"`` when the run capped a test set of M; None when unknown."""
        return test_size_text(self.test_n, self.metrics.get("test_total"))

    def label_name(self, label_id: str) -> str:
        """What people read for a label id: its name when the version or the task knows one, else the id."""
        return self.label_names.get(label_id, label_id)

    def per_class_rows(self) -> list[dict]:
        """Precision, recall, F1 and support of each label (task order), named; empty when not recorded."""
        per_class = self.metrics.get("per_class")
        if not isinstance(per_class, dict):
            return []
        order = [lab for lab in self.label_names if lab in per_class] + [
            lab for lab in per_class if lab not in self.label_names
        ]
        rows = []
        for lab in order:
            r = per_class[lab] if isinstance(per_class[lab], dict) else {}
            support = r.get("support")
            rows.append(
                {
                    "label": self.label_name(lab),
                    "id": lab,
                    "precision": r.get("precision"),
                    "recall": r.get("recall"),
                    "F1": r.get("f1-score", r.get("f1")),
                    "support": int(support) if isinstance(support, (int, float)) else None,
                }
            )
        return rows

    def comparison_rows(self) -> list[dict]:
        """Student and teacher side by side (test metrics where measured, dev accuracy for both)."""
        dev = self.student.get("dev_metrics") or {}
        rows = [
            {
                "system": f"student ({self.name})",
                "model": _short_model(self.student.get("base") or self.student.get("kind")),
                "test accuracy": self.metrics.get("accuracy"),
                "test macro-F1": self.metrics.get("macro_f1"),
                "test figures on": self.test_size,
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
                    # The teacher is scored on the run's test texts too, so the student's uncapped total applies.
                    "test figures on": test_size_text(t.get("n"), self.metrics.get("test_total")),
                    "dev accuracy": tdev.get("accuracy", t.get("dev_accuracy")),
                    "ECE": tdev.get("ece", t.get("ece")),
                    "params": t.get("params"),
                    "texts/s": t.get("texts_per_second"),
                }
            )
        return rows


def test_size_text(n, total=None) -> str | None:
    """``"40 test texts"``, or ``"40 of 610 test texts"`` when ``total`` says the set was capped."""
    if not isinstance(n, int) or isinstance(n, bool):
        return None
    if isinstance(total, int) and not isinstance(total, bool) and total > n:
        return f"{n:,} of {total:,} test texts"
    return f"{n:,} test text{'' if n == 1 else 's'}"


def read_predictions(v: ModelVersion) -> list[dict] | None:
    """The version's test predictions (``predictions.jsonl``); None when it has none or the file is unreadable.

    Rows without a text, a gold and a predicted label are skipped rather than failing the page.
    """
    if v.predictions_path is None:
        return None
    try:
        rows = read_jsonl(v.predictions_path)
    except (OSError, ValueError):
        return None
    return [
        r for r in rows if isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("text", "gold", "predicted"))
    ]


def misclassified(
    rows: list[dict], gold: str | None = None, predicted: str | None = None, search: str = ""
) -> list[dict]:
    """The wrong predictions among ``rows``, narrowed by gold label, predicted label and a case-blind text search;
    confident mistakes first (they are the ones a threshold cannot catch)."""
    needle = search.strip().casefold()
    wrong = [
        r
        for r in rows
        if r["gold"] != r["predicted"]
        and (gold is None or r["gold"] == gold)
        and (predicted is None or r["predicted"] == predicted)
        and (not needle or needle in r["text"].casefold())
    ]
    return sorted(wrong, key=lambda r: -_confidence(r))


def _confidence(row: dict) -> float:
    c = row.get("confidence")
    return float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) else 0.0


def version_deltas(versions: list[ModelVersion], key: str) -> list[float | None]:
    """For each version (newest first), ``key`` minus the previous (older) version's, in points; None for the oldest
    or where either value is missing."""
    out = []
    for i, v in enumerate(versions):
        prev = versions[i + 1] if i + 1 < len(versions) else None
        a, b = v.metrics.get(key), prev.metrics.get(key) if prev else None
        num = (int, float)
        ok = isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool)
        out.append(round(100 * (a - b), 2) if ok else None)
    return out


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
    named = metrics.get("predictions_jsonl")
    predictions = (
        home / Path(named).name
        if isinstance(named, str) and (home / Path(named).name).is_file()
        else _first(path, ("predictions.jsonl",))
    )
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
        predictions_path=predictions,
        label_names=_label_names(ws, task, student),
    )


def _label_names(ws: Workspace, task: str, student: dict) -> dict[str, str]:
    """Label id -> name: from the version's ``student.json`` (what it was trained with), else the task's labels."""
    ids, names = student.get("label_ids"), student.get("label_names")
    if isinstance(ids, list) and isinstance(names, list) and len(ids) == len(names):
        return {str(i): str(n) for i, n in zip(ids, names)}
    try:
        labels = ws.task_meta(task).get("labels")
    except TaskError:
        return {}
    if not isinstance(labels, list):
        return {}
    return {
        str(lab["id"]): str(lab.get("name") or lab["id"]) for lab in labels if isinstance(lab, dict) and "id" in lab
    }


def list_versions(ws: Workspace, task: str) -> list[ModelVersion]:
    """Every published version of ``task``, newest first."""
    return [read_version(ws, task, p) for p in reversed(ws.model_versions(task))]
