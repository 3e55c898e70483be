"""The generator with the real bundled models (slow on CPU: tiny budgets)."""

from __future__ import annotations

import pytest

from generator import GeneratorConfig, generate
from generator.text import script_ratio

pytestmark = pytest.mark.integration


def test_gemma_writes_chinese_reviews_for_every_label(eprstmt_spec, tmp_path):
    cfg = GeneratorConfig(
        model="gemma-3-270m", per_label=3, shots=3, max_new_tokens=40, batch_size=6, text_name="商品评论"
    )
    out = generate(eprstmt_spec, cfg, out_dir=tmp_path, progress=False)
    rep = out.report
    assert rep["generated"] == 6 and rep["budget"] == {"Negative": 3, "Positive": 3}
    assert rep["chat_template"] is False
    assert rep["accepted"] >= 2, rep["rejected"]
    gold = {e.text for e in eprstmt_spec.gold}
    for s in out.samples:
        assert script_ratio(s.text, "zh") >= cfg.language_ratio and s.text not in gold
    assert rep["samples_per_second"] > 0


def test_smollm2_instruct_uses_its_chat_template_for_english(tmp_path):
    from factory.spec import Example, Label, TaskSpec

    spec = TaskSpec(
        name="movies",
        language="en",
        labels=[
            Label("neg", "negative", description="negative movie review"),
            Label("pos", "positive", description="positive movie review"),
        ],
        gold=[
            Example("a dull and lifeless film with nothing to say", "neg"),
            Example("the plot drags and the acting is wooden", "neg"),
            Example("a warm, funny and moving story", "pos"),
            Example("one of the best films of the year", "pos"),
        ],
    )
    cfg = GeneratorConfig(
        model="smollm2-135m-instruct", per_label=2, max_new_tokens=32, batch_size=4, text_name="movie review"
    )
    out = generate(spec, cfg, progress=False)
    assert out.report["chat_template"] is True and out.report["generated"] == 4
    assert out.report["accepted"] >= 1, out.report["rejected"]
    assert all(script_ratio(s.text, "en") >= 0.6 for s in out.samples)
