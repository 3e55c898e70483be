"""The shared config base: every failure is a TaskError naming the field; checks run on build and on assignment."""

from __future__ import annotations

import pytest
from pydantic import Field

from factory.config import StageConfig, read_config_file
from factory.errors import TaskError


class _Probe(StageConfig):
    epochs: int = Field(8, ge=1)
    mode: str = "a"
    words: dict = Field(default_factory=dict)

    def check(self) -> None:
        if self.mode not in ("a", "b"):
            raise TaskError("mode a or b", repr(self.mode), "use a", where="_Probe.mode")


def test_bad_value_names_the_field_what_was_found_and_the_fix():
    with pytest.raises(TaskError) as e:
        _Probe(epochs=0)
    assert e.value.where == "_Probe.epochs" and e.value.found == "0" and "greater than or equal to 1" in e.value.fix


def test_unknown_key_is_refused_with_the_known_fields():
    with pytest.raises(TaskError) as e:
        _Probe.from_dict({"epoch": 3})
    assert "unknown ['epoch']" in str(e.value) and "epochs, mode, words" in str(e.value)
    with pytest.raises(TaskError, match=r"found unknown \['epoch'\]. Fix: remove or rename"):
        _Probe().epoch = 3


def test_a_checks_own_message_reaches_the_user_unchanged():
    with pytest.raises(TaskError, match="expected mode a or b; found 'c'. Fix: use a"):
        _Probe(mode="c")


def test_a_refused_assignment_leaves_the_old_value():
    cfg = _Probe()
    with pytest.raises(TaskError):
        cfg.mode = "z"
    with pytest.raises(TaskError):
        cfg.epochs = -1
    assert (cfg.mode, cfg.epochs) == ("a", 8)


def test_replace_is_checked_and_round_trips_through_a_dict():
    cfg = _Probe(words={"x": 1}).replace(epochs=3)
    assert _Probe.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TaskError):
        cfg.replace(mode="q")


def test_config_files_json_yaml_and_their_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("# header\nepochs: 2\n", encoding="utf-8")
    (tmp_path / "b.json").write_text('{"mode": "b"}', encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("epochs: [1\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- 1\n", encoding="utf-8")
    assert _Probe.load(tmp_path / "a.yaml").epochs == 2 and _Probe.load(tmp_path / "b.json").mode == "b"
    with pytest.raises(TaskError, match="valid JSON or YAML"):
        read_config_file(tmp_path / "bad.yaml")
    with pytest.raises(TaskError, match="a mapping of config fields"):
        read_config_file(tmp_path / "list.yaml")
    with pytest.raises(TaskError, match="or a preset name"):
        read_config_file(tmp_path / "missing.yaml")
