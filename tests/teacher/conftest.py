"""A tiny random-weight Gemma-3 with a character tokenizer, saved as a real model folder.

Tests run the teacher end to end on it in seconds; every Chinese character is
its own token, so two-character verbalizers exercise multi-token scoring.
"""

from __future__ import annotations

import pytest

from factory.spec import Example, Label, TaskSpec

POS = ["很好用", "质量好", "物流快很满意", "好评推荐", "非常喜欢", "不错值得买"]
NEG = ["太差了", "质量差", "物流慢不满意", "差评退货", "非常失望", "坏了不能用"]


def _vocab(texts: list[str]) -> dict[str, int]:
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    chars = sorted({c for t in texts for c in t})
    return {tok: i for i, tok in enumerate(specials + chars)}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Folder with a 2-layer Gemma3 (hidden 32) and a char-level fast tokenizer.

    The sliding window (64) exceeds every test prompt, as 512 does for real prompts:
    padding between a cached prefix and a short text would otherwise shift what
    the window sees.
    """
    import torch
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    corpus = (
        POS
        + NEG
        + [
            "评论:总体评价:内容类别N/A[MASK]\n 好差中性一般体育财经娱乐故事文化",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-",
        ]
    )
    vocab = _vocab(corpus)
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    cfg = Gemma3TextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=256,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg)
    d = tmp_path_factory.mktemp("tiny-gemma")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture
def sentiment_spec() -> TaskSpec:
    """Three labels; '中性' and '一般' are two-token verbalizers under the char tokenizer."""
    labels = [
        Label("neg", "negative", verbalizer=("差",)),
        Label("pos", "positive", verbalizer=("好",)),
        Label("mid", "neutral", verbalizer=("中性",)),
    ]
    gold = (
        [Example(t, "pos") for t in POS[:4]]
        + [Example(t, "neg") for t in NEG[:4]]
        + [Example("一般", "mid"), Example("中性一般", "mid")]
    )
    dev = [Example(t, "pos") for t in POS[4:]] + [Example(t, "neg") for t in NEG[4:]] + [Example("一般般", "mid")]
    return TaskSpec(
        name="tiny",
        language="zh",
        labels=labels,
        gold=gold,
        dev=dev,
        test=dev,
        unlabeled=[Example(t) for t in POS + NEG],
    )
