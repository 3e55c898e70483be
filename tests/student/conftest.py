"""Tiny random-weight students and teachers for fast student tests (real tokenizers, real data slices)."""

from __future__ import annotations

from pathlib import Path

import pytest


def tiny_bert_dir(root: Path, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with the bundled MiniLM's real WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from factory.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("all-minilm-l6-v2").source)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(cfg).save_pretrained(root)
    tok.save_pretrained(root)
    return root


def tiny_gemma_dir(root: Path, seed: int = 0) -> Path:
    """A 4-layer Gemma 3 causal LM (hidden 32) with the real Gemma tokenizer: a stand-in teacher."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from factory.models import load_tokenizer

    tok = load_tokenizer("gemma-3-270m")
    cfg = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        layer_types=["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
        sliding_window=64,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
    )
    torch.manual_seed(seed)
    Gemma3ForCausalLM(cfg).save_pretrained(root)
    tok.save_pretrained(root)
    return root


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return tiny_bert_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory) -> Path:
    return tiny_gemma_dir(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(scope="session")
def gemma_tokenizer():
    from factory.models import load_tokenizer

    return load_tokenizer("gemma-3-270m")


@pytest.fixture(scope="session")
def fixture_texts(eprstmt_spec) -> list[str]:
    """200 real EPRSTMT test texts the students never train on."""
    return [e.text for e in eprstmt_spec.test[:200]]
