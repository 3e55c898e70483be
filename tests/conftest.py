"""Shared test setup: offline, a fresh workspace per test, small real data slices."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import pytest  # noqa: E402


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A :class:`factory.workspace.Workspace` rooted in a temp dir (also exported as FACTORY_HOME)."""
    from factory.workspace import Workspace

    root = tmp_path / "ws"
    monkeypatch.setenv("FACTORY_HOME", str(root))
    return Workspace(root)


@pytest.fixture(scope="session")
def eprstmt_spec():
    """EPRSTMT split 0 from the bundled benchmark data (real data, read-only)."""
    from intake.benchmark_data import load_benchmark_task

    return load_benchmark_task("eprstmt", split=0)


@pytest.fixture(scope="session")
def eprstmt_small(eprstmt_spec):
    """EPRSTMT with capped dev/test/pool: quick enough for integration tests on 2 cores."""
    from dataclasses import replace

    return replace(
        eprstmt_spec, dev=eprstmt_spec.dev[:16], test=eprstmt_spec.test[:40], unlabeled=eprstmt_spec.unlabeled[:60]
    )


@pytest.fixture(scope="session")
def tiny_bert_classifier():
    """Build a 2-layer BERT classifier (hidden 32, random weights, the bundled MiniLM's tokenizer) in a folder.

    ``build(root, label_ids, bias=None)`` saves it under ``root`` and returns the model; ``bias`` sets the head's
    bias with zero weights, so every text gets the same answer (a one-label student).
    """

    def build(root, label_ids, bias=None):
        import torch
        from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

        from factory.models import resolve_model

        tok = AutoTokenizer.from_pretrained(resolve_model("all-minilm-l6-v2").source)
        cfg = BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            id2label=dict(enumerate(label_ids)),
            label2id={lab: i for i, lab in enumerate(label_ids)},
        )
        torch.manual_seed(0)
        model = BertForSequenceClassification(cfg)
        if bias is not None:
            with torch.no_grad():
                model.classifier.weight.zero_()
                model.classifier.bias.copy_(torch.tensor(bias))
        model.save_pretrained(root)
        tok.save_pretrained(root)
        return model

    return build
