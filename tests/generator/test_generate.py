"""generate() end to end with a tiny random-weight LM: budget, report, teacher filter, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generator import GeneratorConfig, generate


@pytest.fixture
def make_cfg(tiny_lm_dir, permissive):
    return lambda **kw: GeneratorConfig(model=tiny_lm_dir, **{**permissive, **kw})


@pytest.mark.parametrize(
    "budget,expected",
    [(dict(per_label=3), {"Negative": 3, "Positive": 3}), (dict(total=5), {"Negative": 3, "Positive": 2})],
)
def test_generation_budget_is_respected_exactly(zh_spec, make_cfg, budget, expected):
    out = generate(zh_spec, make_cfg(**budget), progress=False)
    rep = out.report
    assert rep["budget"] == expected
    assert rep["generated"] == sum(expected.values())
    # every candidate is accounted for: accepted or removed by exactly one filter
    assert rep["accepted"] + sum(f["removed"] for f in rep["filters"]) == rep["generated"]
    assert len(rep["rejected"]) + len(out.samples) == rep["generated"]
    for lab, n in expected.items():
        assert sum(1 for s in out.samples if s.label == lab) <= n


def test_report_has_acceptance_after_each_filter_speed_and_diversity(zh_spec, make_cfg, tmp_path):
    out = generate(zh_spec, make_cfg(per_label=2, chat_template="never"), out_dir=tmp_path / "run", progress=False)
    rep = out.report
    names = [f["filter"] for f in rep["filters"]]
    assert names == [
        "too_short",
        "too_long",
        "degenerate",
        "wrong_language",
        "gold_copy",
        "duplicate_exact",
        "duplicate_near",
    ]
    acc = [f["acceptance"] for f in rep["filters"]]
    assert acc == sorted(acc, reverse=True) and acc[-1] == pytest.approx(rep["acceptance_rate"])
    assert rep["samples_per_second"] > 0 and rep["chat_template"] is False
    assert set(rep["diversity"]) == {"Negative", "Positive"}
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"generator.json", "samples.jsonl", "rejected.jsonl", "report.json", "MANIFEST.json"} <= files
    assert json.loads((tmp_path / "run" / "generator.json").read_text())["per_label"] == 2


def test_teacher_agreement_filter_uses_the_teachers_probabilities(zh_spec, make_cfg, tiny_teacher):
    threshold = 0.5
    out = generate(zh_spec, make_cfg(per_label=6, teacher_threshold=threshold), teacher=tiny_teacher, progress=False)
    rep = out.report
    assert rep["filters"][-1]["filter"] == "teacher"
    # kept samples carry the teacher's soft label, and the teacher agreed with their intended label
    for s in out.samples:
        probs = tiny_teacher.label([s.text]).probs[0]
        assert s.probs == pytest.approx(list(probs), abs=1e-5)
        assert probs[zh_spec.label_index(s.label)] >= threshold
    # removed ones are exactly those whose intended label the teacher put below the threshold
    removed = [r for r in rep["rejected"] if r["reason"] == "teacher"]
    for r in removed:
        assert tiny_teacher.label([r["text"]]).probs[0][zh_spec.label_index(r["label"])] < threshold
    assert rep["filters"][-1]["removed"] == len(removed)
    assert removed and out.samples  # the filter had both outcomes to decide


def test_teacher_with_wrong_label_count_is_refused(zh_spec, make_cfg):
    class ThreeWay:
        def label(self, texts):
            return type("R", (), {"probs": np.full((len(texts), 3), 1 / 3)})()

    with pytest.raises(ValueError, match="one column per label"):
        generate(zh_spec, make_cfg(per_label=1), teacher=ThreeWay(), progress=False)


def test_domain_vocabulary_keeps_samples_inside_the_tasks_tokens(zh_spec, tiny_lm_dir, permissive):
    import torch

    from generator import GeneratorConfig
    from generator.sampling import domain_token_ids, restricted_head, sample_lines
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    allowed = domain_token_ids(tok, [e.text for e in zh_spec.gold])
    assert tok.eos_token_id in allowed and len(allowed) < len(tok) // 10
    # The restricted head gives the full head's logits on allowed tokens and -inf elsewhere.
    h = torch.randn(3, model.config.hidden_size)
    full = model.get_output_embeddings()(h)
    with restricted_head(model, allowed):
        sub = model.get_output_embeddings()(h)
    assert model.get_output_embeddings().weight is not None  # the original head is back
    torch.testing.assert_close(sub[:, allowed], full[:, allowed])
    others = torch.ones(len(tok), dtype=torch.bool)
    others[allowed] = False
    assert torch.isinf(sub[:, others]).all()
    enc = tok(["评论:质量很差\n评论:"] * 4, return_tensors="pt")
    torch.manual_seed(0)
    with restricted_head(model, allowed), torch.inference_mode():
        gen = model.generate(**enc, do_sample=True, max_new_tokens=12, pad_token_id=tok.eos_token_id)
    new = gen[:, enc["input_ids"].shape[1] :]
    assert new.numel() and set(new.flatten().tolist()) <= set(allowed)
    lines = sample_lines(
        model,
        tok,
        ["评论:质量很差\n评论:"] * 2,
        GeneratorConfig(per_label=1, **permissive),
        chat=False,
        seed=0,
        progress=False,
        allowed_ids=allowed,
    )
    assert len(lines) == 2
