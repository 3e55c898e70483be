"""The static student: masked mean of token vectors, SIF weights, built from a sentence encoder, trained and exported."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from student import DistillConfig, DistillData, distill, export_artifact, load_student
from student.static import StaticConfig, StaticForSequenceClassification, sif_weights


def test_static_logits_ignore_padding():
    torch.manual_seed(0)
    m = StaticForSequenceClassification(StaticConfig(vocab_size=10, hidden_size=4, num_labels=3)).eval()
    short = m(input_ids=torch.tensor([[1, 2, 3]]), attention_mask=torch.tensor([[1, 1, 1]])).logits
    padded = m(input_ids=torch.tensor([[1, 2, 3, 0, 0]]), attention_mask=torch.tensor([[1, 1, 1, 0, 0]])).logits
    assert torch.allclose(short, padded, atol=1e-6)
    mean = m.embed.weight[[1, 2, 3]].mean(0)
    assert torch.allclose(short[0], m.score(mean), atol=1e-6)


def test_sif_weights_make_frequent_pieces_count_less(gemma_tokenizer):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(gemma_tokenizer.backend_tokenizer.to_str())
    texts = ["好"] * 8 + ["差"]
    w = sif_weights(tok, texts, tok.get_vocab_size())
    good, bad = tok.encode("好", add_special_tokens=False).ids[0], tok.encode("差", add_special_tokens=False).ids[0]
    assert w[good] < w[bad] < 1.0
    assert w[tok.token_to_id("<pad>")] == 1.0  # unseen pieces keep full weight


@pytest.fixture(scope="module")
def tiny_encoder(tiny_gemma, tmp_path_factory):
    """A sentence-transformers folder (tiny random Gemma body + mean pooling) standing in for EmbeddingGemma."""
    from sentence_transformers import SentenceTransformer, models

    body = models.Transformer(str(tiny_gemma), max_seq_length=64)
    st = SentenceTransformer(modules=[body, models.Pooling(body.get_embedding_dimension(), "mean")], device="cpu")
    out = tmp_path_factory.mktemp("tiny-st")
    st.save(str(out))
    return out


def test_static_student_trains_exports_and_runs_the_same_in_torch_and_onnx(
    tiny_encoder, eprstmt_spec, tmp_path, fixture_texts
):
    soft = [(e.text, (0.2, 0.8) if "好" in e.text else (0.8, 0.2)) for e in eprstmt_spec.unlabeled[:64]]
    data = DistillData.from_spec(eprstmt_spec, soft=soft)
    data.dev = data.dev[:16]
    cfg = DistillConfig(
        student="static", static_from=str(tiny_encoder), static_dims=8, epochs=2, batch_size=16, max_length=64
    )
    art = distill(data, cfg, out_dir=tmp_path / "run")
    assert art.kind == "static" and art.student_info["dims"] == 8
    # One vector of 8 per kept piece plus the head: tiny by construction.
    assert art.params == art.student_info["vocab_size"] * 8 + 8 * 2 + 2
    z = export_artifact(art, eprstmt_spec, tmp_path / "export", metrics={"accuracy": 0.5})
    torch_p = load_student(z, backend="torch").predict_proba(fixture_texts)
    onnx_p = load_student(z, backend="onnx").predict_proba(fixture_texts)
    # The shipped ONNX file is traced from the fp16-stored weights (fp32, or int8 that passed parity).
    assert np.abs(torch_p - onnx_p).max() < (1e-4 if "int8" not in load_student(z).onnx_path.name else 0.05)
    assert (torch_p.argmax(1) == onnx_p.argmax(1)).mean() >= 0.97
