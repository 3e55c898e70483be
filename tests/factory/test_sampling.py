"""Caps keep every label: a seeded sample of a label-sorted file still holds each label in its share."""

from __future__ import annotations

from factory.sampling import stratified_indices
from factory.spec import Example
from recipe.steps import seeded_cap


def test_a_label_sorted_split_keeps_every_label_in_proportion():
    labels = ["a"] * 600 + ["b"] * 300 + ["c"] * 100
    idx = stratified_indices(labels, 100, seed=0)
    got = [labels[i] for i in idx]
    assert idx == sorted(idx) and (got.count("a"), got.count("b"), got.count("c")) == (60, 30, 10)
    assert stratified_indices(labels, 100, seed=0) == idx and stratified_indices(labels, 100, seed=1) != idx


def test_every_label_keeps_at_least_one_and_small_splits_are_untouched():
    labels = ["a"] * 990 + ["rare"] * 2
    assert "rare" in [labels[i] for i in stratified_indices(labels, 50, seed=0)]
    assert stratified_indices(["a", "b"], 10, seed=0) == [0, 1]


def test_seeded_cap_stratifies_labeled_rows_and_samples_the_pool():
    test = [Example(f"t{i}", "x" if i < 40 else "y") for i in range(80)]
    capped = seeded_cap(test, 20, seed=0)
    assert {e.label for e in capped} == {"x", "y"} and len(capped) == 20
    pool = [Example(f"u{i}") for i in range(80)]
    assert len(seeded_cap(pool, 20, seed=0)) == 20
