"""Exact and near duplicates never survive dedup; the first of a group does."""

from __future__ import annotations

import itertools
import random

import pytest

from generator.dedup import MinHasher, dedup
from generator.text import jaccard, normalize, shingles


def _survivors(texts, verdict):
    return [t for t, v in zip(texts, verdict) if v is None]


def test_dedup_removes_exact_duplicates_after_normalisation():
    texts = ["物流很快，包装很好", "物流很快 包装很好！", "质量太差了", "物流很快，包装很好"]
    assert dedup(texts, "zh") == [None, "exact", None, "exact"]


def test_dedup_removes_near_duplicates_and_keeps_the_first():
    texts = [
        "这款耳机音质很好，低音浑厚，佩戴也很舒服，推荐购买",
        "这款耳机音质很好，低音浑厚，佩戴也很舒服，值得购买",
        "快递员态度很差，包裹还被压坏了",
    ]
    assert dedup(texts, "zh", threshold=0.6) == [None, "near", None]


def test_dedup_drops_new_texts_that_duplicate_existing_ones():
    existing = ["性价比很高，推荐大家购买这款手机"]
    texts = ["性价比很高，推荐大家购买这款手机啊", "屏幕太暗了，看不清楚"]
    assert dedup(texts, "zh", threshold=0.6, existing=existing) == ["near", None]


def _noisy_corpus(seed: int) -> list[str]:
    """Variants of a few base texts (edits, repeats, punctuation) mixed with unrelated ones."""
    rng = random.Random(seed)
    bases = [
        "物流很快，包装完好，耳机音质也不错，值得推荐",
        "手机电池不耐用，一天要充三次电，很失望",
        "衣服面料很舒服，颜色和图片一样，尺码合适",
        "客服回复很慢，问题到现在都没有解决",
    ]
    pool = "的了很是不也都好差快慢"
    out = []
    for _ in range(60):
        b = list(rng.choice(bases))
        for _ in range(rng.randint(0, 2)):
            b[rng.randrange(len(b))] = rng.choice(pool)
        out.append("".join(b) + rng.choice(["", "！", "。", " "]))
    out += ["今天天气很好，适合出去玩", "这本书的故事情节非常吸引人", "餐厅的菜有点咸，但是服务不错"]
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("exact_limit", [10_000, 0], ids=["pairwise", "minhash"])
def test_duplicates_never_survive(exact_limit):
    texts = _noisy_corpus(seed=3)
    threshold = 0.5
    verdict = dedup(texts, "zh", threshold=threshold, exact_limit=exact_limit)
    kept = _survivors(texts, verdict)
    assert len({normalize(t) for t in kept}) == len(kept)
    for a, b in itertools.combinations(kept, 2):
        assert jaccard(shingles(a, "zh"), shingles(b, "zh")) < threshold, (a, b)
    # ...while the unrelated texts all stay.
    assert {"今天天气很好，适合出去玩", "这本书的故事情节非常吸引人", "餐厅的菜有点咸，但是服务不错"} <= set(kept)
    assert len(kept) <= len(texts) // 2


def test_minhash_signatures_estimate_jaccard():
    mh = MinHasher(bands=64, rows=4, seed=1)
    a = shingles("这款耳机音质很好，低音浑厚，佩戴也很舒服，推荐购买", "zh")
    b = shingles("这款耳机音质很好，低音浑厚，佩戴也很舒服，值得购买", "zh")
    c = shingles("快递员态度很差，包裹还被压坏了", "zh")
    sa, sb, sc = mh.signature(a), mh.signature(b), mh.signature(c)
    est = sum(x == y for x, y in zip(sa, sb)) / len(sa)
    assert abs(est - jaccard(a, b)) < 0.15
    assert sum(x == y for x, y in zip(sa, sc)) / len(sa) < 0.1
