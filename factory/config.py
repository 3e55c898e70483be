"""The one config system: every stage config is a pydantic model that refuses unknown keys.

A config is checked once, when it is built (from keyword arguments, a dict, a
JSON file or a preset in ``configs/``), and every failure reaches the user as a
:class:`~factory.errors.TaskError` that names the field, what it holds and the
fix — pydantic's own message for type errors, the config's ``check`` for the
rules that span fields or need a worded fix. Changing a field later
(``cfg.epochs = 0``) is checked the same way.

    class DistillConfig(StageConfig):
        epochs: int = Field(8, ge=1)

        def check(self) -> None:          # cross-field rules; raise TaskError
            ...

    DistillConfig(epochs=0)            # TaskError: DistillConfig.epochs: expected ...
    DistillConfig.from_dict({"epoch": 3})  # TaskError: unknown ['epoch'] ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from factory.errors import TaskError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"


def _as_task_error(cls_name: str, err: ValidationError) -> TaskError:
    """The first problem of a :class:`ValidationError`, worded like every other user error."""
    first = err.errors()[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, TaskError):  # raised by a config's check(): keep its own wording
        return cause
    loc = ".".join(str(p) for p in first.get("loc", ()))
    where = f"{cls_name}.{loc}" if loc else cls_name
    if first.get("type") in ("extra_forbidden", "no_such_attribute"):
        unknown = sorted(".".join(map(str, e["loc"])) for e in err.errors() if e.get("type") == first.get("type"))
        fields = sorted(_REGISTRY[cls_name].model_fields) if cls_name in _REGISTRY else []
        return TaskError(
            f"{cls_name} fields ({', '.join(fields)})",
            f"unknown {unknown}",
            "remove or rename these keys",
            where=cls_name,
        )
    msg = str(first.get("msg", "a valid value"))
    expected = msg[len("Input should be ") :] if msg.lower().startswith("input should be ") else msg
    if expected.startswith(("greater", "less")):
        expected = "a value " + expected
    return TaskError(expected, repr(first.get("input")), f"set {loc or 'it'} to {expected}", where=where)


_REGISTRY: dict[str, type[StageConfig]] = {}


class StageConfig(BaseModel):
    """Base of every stage config: unknown keys refused, checked when built and when a field changes."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise _as_task_error(type(self).__name__, err) from None

    def __setattr__(self, name: str, value: Any) -> None:
        old = self.__dict__.get(name)
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            # pydantic has already stored the value when a check across fields refuses it: put the old one back.
            if name in self.__dict__:
                self.__dict__[name] = old
            raise _as_task_error(type(self).__name__, err) from None

    @model_validator(mode="after")
    def _run_check(self):
        self.check()
        return self

    def check(self) -> None:
        """Rules that span fields or need a worded fix; raise :class:`TaskError`. Nothing by default."""

    @classmethod
    def from_dict(cls, data: dict | None):
        """Build from a JSON-like dict (``None`` = the defaults)."""
        if data is not None and not isinstance(data, dict):
            raise TaskError(
                f"a dict of {cls.__name__} fields",
                type(data).__name__,
                "pass a mapping of field names to values",
                where=cls.__name__,
            )
        return cls(**(data or {}))

    def to_dict(self) -> dict:
        """Plain JSON-ready values (nested configs as dicts)."""
        return self.model_dump(mode="json")

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied and checked (pydantic's ``model_copy`` would skip the checks)."""
        return type(self)(**{**self.model_dump(), **changes})

    @classmethod
    def load(cls, path: str | Path):
        """Build from a JSON or YAML file (the presets in ``configs/`` are YAML)."""
        return cls.from_dict(read_config_file(path))


def read_config_file(path: str | Path) -> dict:
    """A config file's mapping: ``.json``, ``.yaml``/``.yml``; a bare preset name is looked up in ``configs/``."""
    p = Path(path)
    if not p.suffix and not p.exists():
        p = CONFIGS_DIR / f"{p.name}.yaml"
    if not p.is_file():
        names = sorted(q.stem for q in CONFIGS_DIR.glob("*.yaml")) if CONFIGS_DIR.is_dir() else []
        raise TaskError(
            "a config file (.json or .yaml) or a preset name",
            str(path),
            f"pass a path or one of the presets {names}",
            where="config",
        )
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # json.JSONDecodeError, yaml.YAMLError
        raise TaskError("valid JSON or YAML", f"{p}: {err}", "fix the file's syntax", where="config") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TaskError(
            "a mapping of config fields", f"{type(data).__name__} in {p}", "write `field: value` lines", where="config"
        )
    return data
