"""Model resolution: bundled names, cached dequantized copies, local paths, hub ids (no big loads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import ModelResolutionError
from factory.models import BUNDLED, load_causal_lm, resolve_model


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_MODEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_bundled_encoder_resolves_to_package_folder():
    ref = resolve_model("all-minilm-l6-v2")
    assert ref.kind == "encoder" and ref.bundled
    assert (Path(ref.source) / "config.json").is_file()


def test_bundled_gguf_without_cache_resolves_to_the_gguf_file(empty_cache):
    ref = resolve_model("smollm2-135m-instruct")
    assert ref.gguf_file and ref.gguf_file.endswith(".gguf")
    assert (Path(ref.source) / ref.gguf_file).is_file()


def test_dequantized_cache_takes_precedence(empty_cache):
    d = empty_cache / "gemma-3-270m"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"")
    # A copy without its config and tokenizer (an interrupted writer) is not used.
    assert resolve_model("gemma-3-270m").gguf_file is not None
    (d / "config.json").write_text("{}")
    (d / "tokenizer.json").write_text("{}")
    ref = resolve_model("gemma-3-270m")
    assert ref.source == str(d) and ref.gguf_file is None and ref.bundled


def test_local_paths_and_hub_ids(tmp_path):
    g = tmp_path / "m.gguf"
    g.write_bytes(b"")
    assert resolve_model(str(g)).gguf_file == "m.gguf"
    assert resolve_model(str(tmp_path)).source == str(tmp_path)
    hub = resolve_model("Qwen/Qwen2.5-0.5B")
    assert hub.source == "Qwen/Qwen2.5-0.5B" and not hub.bundled


@pytest.mark.parametrize("name", ["gemma", "no-such-model", "./missing/dir"])
def test_unknown_names_raise_with_the_bundled_list(name):
    with pytest.raises(ModelResolutionError) as e:
        resolve_model(name)
    assert all(b in str(e.value) for b in BUNDLED)


def test_local_folder_loads_a_tiny_causal_lm(tmp_path):
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    enc = resolve_model("all-minilm-l6-v2").source
    tok = AutoTokenizer.from_pretrained(enc)
    cfg = Gemma3TextConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=128,
    )
    Gemma3ForCausalLM(cfg).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    model, tok2 = load_causal_lm(str(tmp_path / "tiny"))
    assert model.config.num_hidden_layers == 2
    out = model(**tok2(["hello"], return_tensors="pt"))
    assert out.logits.shape[-1] == tok.vocab_size
