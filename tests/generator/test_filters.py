"""Every per-sample filter removes what it should on small fixtures, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from generator import filters


def test_length_filter_removes_too_short_and_too_long():
    texts = ["好", "  好的  ", "这个耳机音质不错", "很" * 50]
    assert filters.length(texts, min_chars=3, max_chars=20) == [False, False, True, False]


def test_degenerate_filter_removes_repetition():
    texts = [
        "哈哈哈哈哈哈哈哈哈哈哈哈",
        "好评好评好评好评好评好评好评好评",
        "good good good good good good",
        "物流很快，包装完好，耳机音质也不错",
        "a warm and funny film about growing up",
        "",
    ]
    assert filters.degenerate(texts) == [False, False, False, True, True, False]


def test_language_filter_removes_wrong_script_for_chinese():
    texts = ["这个手机很好用", "This phone is great", "iPhone 很好用，电池耐用", "12345 !!!", "Это хороший телефон"]
    assert filters.language(texts, "zh") == [True, False, True, False, False]


def test_language_filter_removes_wrong_script_for_english():
    texts = ["a fine movie", "一部好电影", "café scenes are lovely", "Это хороший фильм"]
    assert filters.language(texts, "en") == [True, False, True, False]


def test_gold_copy_filter_removes_copies_fragments_and_light_edits():
    gold = ["物流很快，早上下单，下午就到了。包装也很高档。", "客服态度恶劣，再也不买了"]
    texts = [
        "物流很快，早上下单，下午就到了。包装也很高档。",  # verbatim
        "早上下单，下午就到了",  # fragment of a gold text
        "客服态度恶劣，再也不会买了",  # one character added
        "屏幕清晰，电池也很耐用，值得推荐",  # new text
    ]
    assert filters.gold_copies(texts, gold, "zh", max_overlap=0.7) == [False, False, False, True]


def test_gold_copy_filter_on_english_ignores_case_and_punctuation():
    gold = ["One of the best films of the year."]
    texts = ["one of the best films of the year", "a slow, joyless slog from start to finish"]
    assert filters.gold_copies(texts, gold, "en") == [False, True]


def test_teacher_agreement_keeps_only_samples_the_teacher_confirms():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8]])
    intended = [0, 0, 0, 1]
    assert filters.teacher_agreement(probs, intended, threshold=0.5) == [True, False, True, True]
    assert filters.teacher_agreement(probs, intended, threshold=0.85) == [True, False, False, False]


def test_teacher_agreement_rejects_a_matrix_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one row per sample"):
        filters.teacher_agreement(np.ones((3, 2)) / 2, [0, 1], threshold=0.5)
