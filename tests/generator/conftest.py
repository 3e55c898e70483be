"""Fixtures for the generator tests: a tiny random-weight causal LM with a real tokenizer, small specs."""

from __future__ import annotations

import pytest

from factory.spec import Example, Label, TaskSpec


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A 2-layer Llama with random weights and SmolLM2's real tokenizer (it has a chat template), saved as a folder."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from factory.models import load_tokenizer

    tok = load_tokenizer("smollm2-135m-instruct")
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    d = tmp_path_factory.mktemp("tiny-lm")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


@pytest.fixture
def zh_spec():
    """Two labels with a few real-looking Chinese reviews each."""
    labels = [
        Label("Negative", "Negative", description="负面评价"),
        Label("Positive", "Positive", description="正面评价"),
    ]
    gold = [
        Example("物流太慢了，等了一个星期才到", "Negative"),
        Example("质量很差，用了两天就坏了", "Negative"),
        Example("客服态度恶劣，再也不买了", "Negative"),
        Example("包装很好，东西也很漂亮", "Positive"),
        Example("性价比很高，推荐大家购买", "Positive"),
        Example("音质不错，戴着也舒服", "Positive"),
    ]
    return TaskSpec(name="reviews", language="zh", labels=labels, gold=gold)


@pytest.fixture
def en_spec():
    labels = [
        Label("neg", "negative", description="negative movie review"),
        Label("pos", "positive", description="positive movie review"),
    ]
    gold = [
        Example("a dull and lifeless film with nothing to say", "neg"),
        Example("the plot drags and the acting is wooden", "neg"),
        Example("a warm, funny and moving story", "pos"),
        Example("one of the best films of the year", "pos"),
    ]
    return TaskSpec(name="movies", language="en", labels=labels, gold=gold)


@pytest.fixture
def permissive():
    """Filter settings that let a random-weight model's gibberish reach the later stages (dedup, teacher).

    ``domain_vocab=False``: inside a Chinese task's vocabulary a byte-level tokenizer offers mostly
    byte fragments, which random weights string into broken characters that never reach the teacher.
    """
    return dict(
        min_chars=1,
        max_chars=500,
        min_distinct_ngrams=0.0,
        language_ratio=0.0,
        gold_overlap=1.0,
        dup_threshold=1.0,
        max_new_tokens=6,
        batch_size=4,
        domain_vocab=False,
    )


@pytest.fixture(scope="session")
def tiny_teacher(tiny_lm_dir):
    """A real :class:`teacher.Teacher` (zero-shot, on the tiny random-weight LM) for the reviews task."""
    from teacher import TeacherConfig, adapt

    labels = [
        Label("Negative", "Negative", description="负面评价", verbalizer=("差",)),
        Label("Positive", "Positive", description="正面评价", verbalizer=("好",)),
    ]
    spec = TaskSpec(
        name="reviews", language="zh", labels=labels, gold=[Example("很差", "Negative"), Example("很好", "Positive")]
    )
    return adapt(spec, TeacherConfig(model=tiny_lm_dir, mode="zero-shot", calibration="none", progress=False))
