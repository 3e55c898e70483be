"""Deriving a student from a (tiny, random) Gemma 3 teacher: layers, embedding rows, plain-transformers loading."""

from __future__ import annotations

import functools

import pytest
import torch

from factory.errors import TaskError
from student import DistillConfig, choose_layers, derive_student

pytestmark = pytest.mark.integration  # the real Gemma 3 tokenizer (bundled model)


def test_choose_layers_first_and_spread():
    assert choose_layers(18, 6, "first") == [0, 1, 2, 3, 4, 5]
    assert choose_layers(18, 4, "spread") == [0, 6, 11, 17]
    assert choose_layers(18, 1, "spread") == [0]
    with pytest.raises(TaskError, match="at most 18 layers"):
        choose_layers(18, 19, "first")


@pytest.fixture(scope="module")
def derived(tiny_gemma, eprstmt_spec, tmp_path_factory):
    texts = [e.text for e in eprstmt_spec.gold + eprstmt_spec.dev + eprstmt_spec.unlabeled[:500]]
    out = tmp_path_factory.mktemp("derived")
    cfg = DistillConfig(layers=2, layer_selection="spread")
    return derive_student(str(tiny_gemma), ["Negative", "Positive"], texts, cfg, out), texts


def test_derived_student_keeps_chosen_layers_and_pruned_embedding_rows(derived, tiny_gemma):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    init, _ = derived
    assert init.info["layers"] == [0, 3]
    teacher = AutoModelForCausalLM.from_pretrained(tiny_gemma)
    student = AutoModelForSequenceClassification.from_pretrained(init.model_dir)
    assert type(student).__name__ == "Gemma3TextForSequenceClassification"
    assert student.config.num_hidden_layers == 2
    assert student.config.layer_types == ["sliding_attention", "full_attention"]
    t, s = teacher.model, student.model
    assert torch.equal(s.layers[1].mlp.up_proj.weight, t.layers[3].mlp.up_proj.weight)
    assert torch.equal(s.layers[0].self_attn.q_proj.weight, t.layers[0].self_attn.q_proj.weight)
    tok = student_tokenizer(init.model_dir)
    kept = tok.convert_ids_to_tokens(list(range(len(tok))))
    teacher_vocab = teacher_tokenizer(tiny_gemma).get_vocab()
    old = torch.tensor([teacher_vocab[p] for p in kept])
    assert torch.equal(s.embed_tokens.weight, t.embed_tokens.weight[old])
    assert init.params == sum(p.numel() for p in student.parameters())
    assert student.config.vocab_size == len(tok) < teacher.config.vocab_size / 10


def test_derived_student_tokenizes_like_the_teacher_on_task_texts(derived, tiny_gemma):
    init, texts = derived
    tok, teacher = student_tokenizer(init.model_dir), teacher_tokenizer(tiny_gemma)
    for text in texts[:100]:
        assert tok.convert_ids_to_tokens(tok(text).input_ids) == teacher.convert_ids_to_tokens(teacher(text).input_ids)


def test_derived_student_runs_in_a_plain_transformers_pipeline(derived):
    from transformers import pipeline

    init, texts = derived
    clf = pipeline("text-classification", model=str(init.model_dir))
    out = clf(texts[:3] + ["从没见过的字：𪚥 🍉"])
    assert [r["label"] in ("Negative", "Positive") for r in out] == [True] * 4


def test_deriving_from_a_non_gemma_model_is_refused(tiny_bert, tmp_path):
    with pytest.raises(TaskError, match="gemma3_text"):
        derive_student(str(tiny_bert), ["a", "b"], ["text"], DistillConfig(), tmp_path)


@functools.cache
def student_tokenizer(d):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(d)


@functools.cache
def teacher_tokenizer(d):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(d)
