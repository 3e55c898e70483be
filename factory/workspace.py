"""The workspace: one directory per task holding its spec, data, runs and models.

Layout::

    <root>/tasks/<name>/task.json            labels, language, water level, counts
    <root>/tasks/<name>/data/<split>.jsonl   gold, dev, test, unlabeled snapshots
    <root>/tasks/<name>/runs/<run-id>/       one directory per stage run
    <root>/tasks/<name>/models/v<N>/         published artifact versions
    <root>/tasks/<name>/queue/               human answers pulled from Label Studio
    <root>/tasks/<name>/buffer/              generator samples written ahead

Every write is atomic (temp + rename), and each published directory carries a
``MANIFEST.json`` with the sha256 of its files.
"""

from __future__ import annotations


import json
import os
import re
import time
from pathlib import Path

from factory.atomic import (
    atomic_dir,
    atomic_write_json,
    atomic_write_jsonl,
    clean_stale,
    exclusive,
    read_jsonl,
    write_manifest,
)
from factory.errors import TaskError
from factory.spec import TaskSpec, validate_task, validate_task_name

SPLITS = ("gold", "dev", "test", "unlabeled")


def default_root() -> Path:
    """``$FACTORY_HOME`` if set, else the user's data dir (e.g. ~/.local/share/model-factory)."""
    env = os.environ.get("FACTORY_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("model-factory", appauthor=False))


def _is_non_folder(path: Path) -> bool:
    try:
        return path.exists() and not path.is_dir()
    except OSError:  # unreadable: the first write says so with its own error
        return False


class Workspace:
    """Files of every task under one root directory."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        # The folder is created on first write: a file at the root or at any folder above it would make
        # that a raw NotADirectoryError, so it is refused here with the path that is in the way.
        blocker = next((p for p in (self.root, *self.root.parents) if _is_non_folder(p)), None)
        if blocker is not None:
            found = f"{blocker} is a file" + ("" if blocker == self.root else f", so {self.root} cannot be created")
            raise TaskError(
                "a workspace folder",
                found,
                "pass --workspace a folder (it is created if missing)",
                where="workspace",
            )

    # -- tasks --------------------------------------------------------------
    def task_dir(self, name: str) -> Path:
        return self.root / "tasks" / validate_task_name(name)

    def list_tasks(self) -> list[str]:
        base = self.root / "tasks"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / "task.json").is_file())

    def has_task(self, name: str) -> bool:
        return (self.task_dir(name) / "task.json").is_file()

    def save_task(self, spec: TaskSpec, *, overwrite: bool = False, intake: dict | None = None) -> Path:
        """Validate and store a task; on any error nothing is written.

        ``intake`` (how the task was read: sources, options, warnings) is stored as ``intake.json`` under
        the same lock as the data, so two creators of one name never leave one's data with the other's record.
        """
        validate_task(spec)
        target = self.task_dir(spec.name)
        with self._task_lock(spec.name):
            return self._save_task_locked(spec, target, overwrite, intake)

    def _task_lock(self, name: str):
        """An exclusive lock per task name: two creators of one name run one after the other, never both."""
        return exclusive(self.root / "tasks" / f".{name}.lock")

    def _save_task_locked(self, spec: TaskSpec, target: Path, overwrite: bool, intake: dict | None = None) -> Path:
        if (target / "task.json").exists() and not overwrite:
            raise TaskError(
                "a new task name",
                f"task {spec.name!r} already exists in {self.root}",
                "pick another name or pass --overwrite",
                where="task name",
            )
        d = spec.to_dict()
        meta = {k: v for k, v in d.items() if k not in SPLITS}
        meta["counts"] = spec.counts()
        meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # Only the data snapshot and spec are replaced; runs/models of an
        # existing task survive an overwrite.
        data_dir = target / "data"
        clean_stale(data_dir)  # a create killed mid-write left its temp folder; the lock says no one else writes
        with atomic_dir(data_dir) as tmp:
            for split in SPLITS:
                atomic_write_jsonl(tmp / f"{split}.jsonl", d[split])
            write_manifest(tmp, {"task": spec.name, "counts": spec.counts()})
        if intake is not None:
            atomic_write_json(target / "intake.json", intake)
        # task.json last: a task exists (has_task) only once its data and intake record are in place.
        atomic_write_json(target / "task.json", meta)
        return target

    def load_task(self, name: str) -> TaskSpec:
        """The stored task, checked: readable ``task.json``, data files matching their manifest, a valid spec.

        Every problem is a :class:`TaskError` naming the broken file and the fix, never a traceback.
        """
        from factory.atomic import verify_manifest

        tdir = self.task_dir(name)
        meta_path = tdir / "task.json"
        if not meta_path.is_file():
            known = ", ".join(self.list_tasks()) or "none"
            raise TaskError(
                "an existing task",
                f"no task {name!r} in {self.root} (known: {known})",
                "create it with `factory task create`",
                where="task name",
            )
        fix = f"recreate it: `factory task create {name} ... --overwrite`"
        meta = self.task_meta(name)
        data = tdir / "data"
        # save_task always writes the manifest, so a missing one means damage: without it an edited
        # label or a truncated split would load as if it were the data the task was made from.
        if not (data / "MANIFEST.json").is_file():
            raise TaskError(
                "the task's data manifest (sha256 of each data file)",
                "no such file" if data.is_dir() else "no data folder",
                fix,
                where=str(data / "MANIFEST.json"),
            )
        try:
            bad = verify_manifest(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise TaskError(
                "a readable data MANIFEST.json", f"{type(e).__name__}: {e}", fix, where=str(data / "MANIFEST.json")
            ) from None
        if bad:
            raise TaskError(
                "data files matching their manifest", f"changed or missing: {', '.join(bad)}", fix, where=str(data)
            )
        for split in SPLITS:
            p = data / f"{split}.jsonl"
            try:
                meta[split] = read_jsonl(p) if p.exists() else []
            except (UnicodeDecodeError, ValueError) as e:
                raise TaskError(
                    "readable JSONL data", f"{type(e).__name__}: {str(e)[:120]}", fix, where=str(p)
                ) from None
        try:
            spec = TaskSpec.from_dict(meta)
            validate_task(spec)
        except TaskError as e:
            raise TaskError(e.expected, e.found, fix, where=f"{meta_path} ({e.where})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise TaskError(
                "a task.json with name, language and labels", f"{type(e).__name__}: {e}", fix, where=str(meta_path)
            ) from None
        return spec

    def broken_tasks(self) -> dict[str, str]:
        """Task folders whose stored data does not load, with the reason (for ``task list``)."""
        base = self.root / "tasks"
        out = {}
        for name in self.list_tasks():
            try:
                self.load_task(name)
            except TaskError as e:
                out[name] = str(e)
        if base.is_dir():
            for p in base.iterdir():
                if p.is_dir() and not (p / "task.json").is_file() and (p / "data").is_dir():
                    out[p.name] = "task.json is missing"
        return out

    def task_meta(self, name: str) -> dict:
        """The task's ``task.json`` as a dict (no data check; :meth:`load_task` checks everything).

        A missing, unreadable or non-object file is a :class:`TaskError` naming it, so callers that loop
        over tasks can skip a broken one instead of crashing.
        """
        path = self.task_dir(name) / "task.json"
        fix = f"recreate it: `factory task create {name} ... --overwrite`"
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise TaskError(
                "a readable task.json (UTF-8 JSON)", f"{type(e).__name__}: {str(e)[:120]}", fix, where=str(path)
            ) from None
        if not isinstance(meta, dict):
            raise TaskError("a JSON object in task.json", type(meta).__name__, fix, where=str(path))
        return meta

    # -- runs and artifacts -------------------------------------------------
    def new_run_dir(self, name: str, stage: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = self.task_dir(name) / "runs"
        base.mkdir(parents=True, exist_ok=True)
        i = 0
        while True:
            p = base / f"{stamp}-{stage}{'-' + str(i) if i else ''}"
            try:
                p.mkdir()
                return p
            except FileExistsError:
                i += 1

    def models_dir(self, name: str) -> Path:
        return self.task_dir(name) / "models"

    def model_versions(self, name: str) -> list[Path]:
        base = self.models_dir(name)
        if not base.is_dir():
            return []
        vs = [p for p in base.iterdir() if re.fullmatch(r"v\d+", p.name) and p.is_dir()]
        return sorted(vs, key=lambda p: int(p.name[1:]))

    def publish_model(self, name: str, source_dir: Path, extra: dict | None = None) -> Path:
        """Copy a finished artifact directory in as the next version ``v<N>``, with a manifest.

        Publishers of one task take turns (a lock per task): two at once get two
        versions, never one version overwritten. The copy is built under a
        temporary name and renamed into place, so a publish killed mid-copy
        leaves no version; the next publish removes its leftovers.
        """
        import shutil

        base = self.models_dir(name)
        with exclusive(base / ".publish.lock"):
            clean_stale(base / "v", pattern=".v*.tmp")
            versions = self.model_versions(name)
            nxt = (int(versions[-1].name[1:]) + 1) if versions else 1
            target = base / f"v{nxt}"
            with atomic_dir(target) as tmp:
                shutil.copytree(source_dir, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
                write_manifest(tmp, {"task": name, "version": nxt, **(extra or {})})
        return target

    def queue_dir(self, name: str) -> Path:
        return self.task_dir(name) / "queue"

    def buffer_dir(self, name: str) -> Path:
        return self.task_dir(name) / "buffer"

    def services_dir(self) -> Path:
        return self.root / "services"
