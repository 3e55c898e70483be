from __future__ import annotations

import pytest

from generator.diversity import distinct_n, diversity, self_similarity


def test_distinct_n_counts_unique_ngrams_over_all_texts():
    assert distinct_n(["好好好", "好好"], 1, "zh") == pytest.approx(1 / 5)
    assert distinct_n(["the cat sat", "the dog sat"], 2, "en") == pytest.approx(4 / 4)
    assert distinct_n(["the cat", "the cat"], 2, "en") == pytest.approx(1 / 2)
    assert distinct_n([], 1, "zh") is None


def test_self_similarity_is_one_for_copies_and_lower_for_varied_texts():
    assert self_similarity(["物流很快", "物流很快", "物流很快"]) == pytest.approx(1.0)
    varied = self_similarity(["物流很快", "屏幕太暗了", "客服态度不好"])
    assert varied is not None and varied < 0.3
    assert self_similarity(["only one"]) is None


def test_diversity_reports_every_statistic():
    d = diversity(["物流很快", "屏幕太暗了"], "zh")
    assert set(d) == {"n", "distinct_1", "distinct_2", "self_similarity"} and d["n"] == 2
