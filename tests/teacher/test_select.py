"""Question selection: ambiguous items first, near-duplicates skipped."""

from __future__ import annotations

import numpy as np
import pytest

from teacher import select_questions


PROBS = np.array([[0.99, 0.01], [0.52, 0.48], [0.8, 0.2], [0.5, 0.5], [0.6, 0.4]])
TEXTS = ["很好很好", "说不上好坏吧", "还可以", "一般般吧", "有点失望"]


@pytest.mark.parametrize("strategy", ["margin", "entropy"])
def test_uncertainty_ranking_puts_ambiguous_items_first(strategy):
    idx = select_questions(PROBS, TEXTS, k=5, strategy=strategy, diversity=False)
    assert idx == [3, 1, 4, 2, 0]


def test_entropy_and_margin_differ_with_many_labels():
    probs = np.array([[0.45, 0.45, 0.1], [0.4, 0.3, 0.3]])
    assert select_questions(probs, ["a", "b"], k=1, strategy="margin", diversity=False) == [0]
    assert select_questions(probs, ["a", "b"], k=1, strategy="entropy", diversity=False) == [1]


def test_diversity_guard_skips_near_duplicates():
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.55, 0.45], [0.9, 0.1]])
    texts = ["这个东西一般般吧我觉得", "这个东西一般般吧我觉得!", "快递很快包装也好", "很好"]
    assert select_questions(probs, texts, k=3, diversity=False) == [0, 1, 2]
    assert select_questions(probs, texts, k=3, diversity=True) == [0, 2, 3]


def test_select_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="Fix:"):
        select_questions(PROBS, TEXTS[:2], k=1)
