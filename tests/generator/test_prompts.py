from __future__ import annotations

from generator import GeneratorConfig
from generator.prompts import PromptBuilder


class _NoTemplate:
    chat_template = None


def test_base_prompt_lists_only_intended_label_examples_and_ends_open(zh_spec):
    pb = PromptBuilder(zh_spec, GeneratorConfig(shots=2, text_name="商品评论"), _NoTemplate())
    p = pb.prompt("Positive")
    lines = p.split("\n")
    assert lines[-1] == "商品评论(正面评价):"
    assert len(lines) == 3 and all(ln.startswith("商品评论(正面评价):") for ln in lines)
    positives = {e.text for e in zh_spec.gold if e.label == "Positive"}
    assert {ln.split(":", 1)[1] for ln in lines[:-1]} <= positives


def test_rotating_subsets_show_every_gold_example_before_repeating(zh_spec):
    pb = PromptBuilder(zh_spec, GeneratorConfig(shots=1), _NoTemplate(), seed=4)
    shown = [pb.examples("Negative")[0] for _ in range(3)]
    assert sorted(shown) == sorted(e.text for e in zh_spec.gold if e.label == "Negative")
    again = PromptBuilder(zh_spec, GeneratorConfig(shots=1), _NoTemplate(), seed=4)
    assert [again.examples("Negative")[0] for _ in range(3)] == shown  # deterministic for a seed


def test_chat_prompt_uses_the_tokenizers_template(en_spec, tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    pb = PromptBuilder(en_spec, GeneratorConfig(shots=2, text_name="movie review"), tok)
    assert pb.chat
    p = pb.prompt("pos")
    assert p.startswith("<|im_start|>") and "<|im_start|>assistant" in p
    assert 'labeled "positive movie review"' in p
    assert not PromptBuilder(en_spec, GeneratorConfig(chat_template="never"), tok).chat


def test_clean_takes_the_first_line_without_marks_quotes_or_echoed_prefix(zh_spec, en_spec):
    zh = PromptBuilder(zh_spec, GeneratorConfig(text_name="商品评论"), _NoTemplate())
    assert zh.clean("商品评论(正面评价):很好用\n商品评论(正面评价):别的", "Positive") == "很好用"
    assert zh.clean("\n\n“质量不错”\n", "Positive") == "质量不错"
    en = PromptBuilder(en_spec, GeneratorConfig(text_name="movie review"), _NoTemplate())
    assert en.clean('1. "a gripping thriller"', "pos") == "a gripping thriller"
    assert en.clean("- Movie review (positive movie review): fun ride", "pos") == "fun ride"
    assert en.clean("   ", "pos") == ""
