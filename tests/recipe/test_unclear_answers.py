"""Answers marked unclear on the Label page: out of the pool, never in the gold (no services needed)."""

from __future__ import annotations

import json
from dataclasses import replace

from recipe import steps


def _snapshot(spec, tmp_path, answers):
    path = steps.intake(
        replace(spec, gold=list(spec.gold), unlabeled=list(spec.unlabeled)),
        tmp_path / "run",
        pool_cap=None,
        dev_cap=None,
        test_cap=None,
        answers=answers,
    )
    return json.loads(open(path, encoding="utf-8").read())


def _texts(rows):
    return {r["text"] for r in rows}


def test_intake_leaves_an_unclear_answer_out_of_both_gold_and_pool(eprstmt_small, tmp_path):
    clear, junk = eprstmt_small.unlabeled[0].text, eprstmt_small.unlabeled[1].text
    answers = [
        {"factory_id": "a", "text": clear, "label": eprstmt_small.label_ids[0], "unclear": False},
        {"factory_id": "b", "text": junk, "label": "__unclear__", "unclear": True},
    ]
    out = _snapshot(eprstmt_small, tmp_path, answers)
    gold, pool = _texts(out["gold"]), _texts(out["unlabeled"])
    assert clear in gold and clear not in pool
    assert junk not in gold and junk not in pool
    assert "__unclear__" not in {r["label"] for r in out["gold"]}
    assert len(out["gold"]) == len(eprstmt_small.gold) + 1
    assert len(out["unlabeled"]) == len(eprstmt_small.unlabeled) - 2


def test_intake_takes_answers_without_the_unclear_flag_as_labels(eprstmt_small, tmp_path):
    # Rows pulled before the flag existed carry no "unclear" key: they are ordinary answers.
    text = eprstmt_small.unlabeled[0].text
    out = _snapshot(eprstmt_small, tmp_path, [{"factory_id": "a", "text": text, "label": eprstmt_small.label_ids[1]}])
    assert {r["text"]: r["label"] for r in out["gold"]}[text] == eprstmt_small.label_ids[1]


def test_unclear_answers_are_consumed_but_never_raise_the_water_level(workspace, eprstmt_small):
    from pipelines import queue

    workspace.save_task(replace(eprstmt_small, water_level=2))
    rows = [
        {
            "factory_id": f"q{i}",
            "ls_task_id": i,
            "text": f"t{i}",
            "label": lab,
            "unclear": lab == "__unclear__",
            "annotated_at": f"2026-01-01T00:00:{i:02d}",
        }
        for i, lab in enumerate(["__unclear__", "Positive", "__unclear__", "__unclear__"])
    ]
    queue.write_answers(workspace, "eprstmt", rows)
    level = queue.water_level("eprstmt", workspace)
    assert (level["answers"], level["unclear"], level["new"], level["reached"]) == (4, 3, 1, False)
    # An iteration consumed those 4 rows; one more real answer is the only new one.
    queue.write_state(workspace, "eprstmt", consumed=4)
    rows.append({**rows[1], "factory_id": "q9", "text": "t9", "annotated_at": "2026-01-01T00:00:09"})
    queue.write_answers(workspace, "eprstmt", rows)
    assert queue.water_level("eprstmt", workspace)["new"] == 1
