"""The derived student's pruned vocabulary: same pieces as the teacher on task text, bytes for anything else."""

from __future__ import annotations

import json

import pytest

from factory.errors import TaskError
from student.vocab import BYTE_PIECES, prune_tokenizer

pytestmark = pytest.mark.integration  # the real Gemma 3 tokenizer (bundled model)


@pytest.fixture(scope="module")
def task_texts(eprstmt_spec):
    return [e.text for e in eprstmt_spec.gold + eprstmt_spec.dev + eprstmt_spec.unlabeled[:3000]]


@pytest.fixture(scope="module")
def pruned(gemma_tokenizer, task_texts):
    return prune_tokenizer(gemma_tokenizer.backend_tokenizer.to_str(), task_texts)


def test_pruned_tokenizer_gives_teacher_pieces_on_task_texts(gemma_tokenizer, pruned, task_texts):
    teacher = gemma_tokenizer.backend_tokenizer.encode_batch(task_texts)
    student = pruned.tokenizer().encode_batch(task_texts)
    mismatched = [t for t, a, b in zip(task_texts, teacher, student) if a.tokens != b.tokens]
    assert mismatched == []


def test_pruned_ids_map_back_to_the_teacher_ids(gemma_tokenizer, pruned, task_texts):
    tok = pruned.tokenizer()
    for text in task_texts[:200]:
        new_ids = tok.encode(text).ids
        assert [pruned.old_ids[i] for i in new_ids] == gemma_tokenizer(text).input_ids


def test_pruned_vocab_is_small_but_keeps_bytes_and_specials(gemma_tokenizer, pruned):
    vocab = pruned.tokenizer().get_vocab()
    assert pruned.size < len(gemma_tokenizer) / 10
    assert all(b in vocab for b in BYTE_PIECES)
    for special in ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>"):
        assert special in vocab
    assert vocab["<pad>"] == 0 and vocab["<bos>"] == 2


@pytest.mark.parametrize("text", ["𠀀𪚥龘靐 🍉🎉", "Съешь же ещё этих мягких французских булок", "ﷺ ∮ E⋅da = Q ☃ 𝔘𝔫𝔦"])
def test_unseen_text_tokenizes_without_unknown_tokens(pruned, text):
    tok = pruned.tokenizer()
    vocab = tok.get_vocab()
    enc = tok.encode(text)
    assert vocab["<unk>"] not in enc.ids
    assert any(t in BYTE_PIECES for t in enc.tokens)  # these characters were not seen at pruning time
    assert tok.decode(enc.ids, skip_special_tokens=True) == text


def test_pruned_tokenizer_file_loads_in_plain_transformers(gemma_tokenizer, pruned, tmp_path, task_texts):
    from transformers import AutoTokenizer

    gemma_tokenizer.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text(pruned.tokenizer_json, encoding="utf-8")
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == pruned.size
    for text in task_texts[:50] + ["🍉 unseen ☃"]:
        assert loaded(text).input_ids == pruned.tokenizer().encode(text).ids


def test_pruning_refuses_a_tokenizer_without_byte_fallback(tiny_bert):
    wordpiece = (tiny_bert / "tokenizer.json").read_text(encoding="utf-8")
    assert json.loads(wordpiece)["model"]["type"] == "WordPiece"
    with pytest.raises(TaskError, match="byte-fallback BPE"):
        prune_tokenizer(wordpiece, ["hello"])
