"""TaskSpec validation, round trip, split checks and language detection."""

from __future__ import annotations

import json

import pytest

from intake.checks import check_spec, check_split, detect_language
from factory.errors import TaskError
from factory.spec import Example, Label, TaskSpec, validate_task, validate_task_name


def spec(**kw) -> TaskSpec:
    base = dict(
        name="t",
        language="en",
        labels=[Label("a", "A", verbalizer=("yes",)), Label("b", "B")],
        gold=[Example("x", "a", "1"), Example("y", "b", "2")],
    )
    base.update(kw)
    return TaskSpec(**base)


def test_valid_spec_round_trips_through_plain_json():
    s = spec(dev=[Example("d", "a", "9")], unlabeled=[Example("u", None, "3")])
    d = json.loads(json.dumps(s.to_dict()))
    back = TaskSpec.from_dict(d)
    assert back == s and back.labels[0].verbalizer == ("yes",)
    assert validate_task(back) is back


@pytest.mark.parametrize("name", ["eprstmt", "reviews-v2", "a.b_c", "X" * 64])
def test_plain_task_names_are_accepted(name):
    assert validate_task_name(name) == name


@pytest.mark.parametrize("name", ["../x", "x/..", "/abs", "a\\b", "", " x", ".x", "x" * 65, "a..b", "名字"])
def test_path_like_or_odd_task_names_are_refused(name):
    with pytest.raises(TaskError, match="task name") as e:
        validate_task_name(name)
    assert e.value.fix and e.value.expected


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"language": "fr"}, "language one of"),
        ({"labels": [Label("a", "A"), Label("a", "A2")]}, "unique label ids"),
        ({"labels": [Label("a", "A")], "gold": [Example("x", "a")]}, "at least 2 classes"),
        ({"water_level": 0}, "water level"),
        ({"test": [Example("t", "c")]}, "'c' in test row 1"),
        ({"labels": [Label("a", "A"), Label("b", "B"), Label("c", "C")]}, "no gold example for ['c']"),
    ],
)
def test_validate_task_rejects(kw, needle):
    with pytest.raises(TaskError) as e:
        validate_task(spec(**kw))
    assert needle in str(e.value)


def test_check_split_allows_exact_duplicates_but_not_conflicts():
    check_split([Example("same", "a", "1"), Example("same", "a", "2")], "gold")
    with pytest.raises(TaskError, match="one label per distinct text"):
        check_split([Example("same", "a", "1"), Example("same", "b", "2")], "gold")


def test_check_split_rejects_duplicate_ids_in_unlabeled_pool():
    with pytest.raises(TaskError, match="id '7' on rows 1 and 2") as e:
        check_split([Example("u1", None, "7"), Example("u2", None, "7")], "unlabeled")
    assert e.value.where == "unlabeled"


def test_same_id_in_different_splits_is_fine():
    # FewCLUE numbers train and test from 0 each: ids are only unique within a split.
    check_spec(spec(test=[Example("t", "a", "1")]))


def test_detect_language():
    assert detect_language(["物流很快，iPhone 8 的包装也很高档"]) == "zh"
    assert detect_language(["a stirring , funny re-imagining", "最好"]) == "en"
    with pytest.raises(TaskError, match="--language"):
        detect_language(["123 456", "!!!"])
