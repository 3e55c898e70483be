"""Vocabulary pruning for a student derived from the teacher.

The teacher's tokenizer (a byte-fallback BPE, 262k pieces for Gemma 3) is cut
down to the pieces the task's texts use, plus every piece on the merge paths
that produce them (so BPE still reaches the same pieces), the 256 byte pieces
``<0x00>``..``<0xFF>`` (so unseen characters fall back to bytes, never to
``<unk>``) and the special tokens. Ids are renumbered densely; the result is
an ordinary ``tokenizer.json`` any ``transformers``/``tokenizers`` loads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from factory.errors import TaskError

BYTE_PIECES = tuple(f"<0x{b:02X}>" for b in range(256))


@dataclass
class PrunedVocab:
    """The pruned tokenizer (as ``tokenizer.json`` text) and, per new id, the teacher id it came from."""

    tokenizer_json: str
    old_ids: list[int]
    used_pieces: int

    @property
    def size(self) -> int:
        return len(self.old_ids)

    def tokenizer(self):
        from tokenizers import Tokenizer

        return Tokenizer.from_str(self.tokenizer_json)


def _merge_pairs(merges: list) -> list[tuple[str, str]]:
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]


def prune_tokenizer(tokenizer_json: str, texts: Sequence[str], batch_size: int = 4096) -> PrunedVocab:
    """Prune a byte-fallback BPE ``tokenizer.json`` to the pieces ``texts`` need.

    On ``texts`` the pruned tokenizer yields exactly the teacher's pieces: the
    kept merges are a rank-ordered subset of the teacher's that still contains
    every merge those texts fire.
    """
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer_json)
    model = spec.get("model", {})
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        raise TaskError(
            "a byte-fallback BPE tokenizer (Gemma, Llama, Qwen-style)",
            f"model type {model.get('type')!r}, byte_fallback={model.get('byte_fallback')}",
            "derive the student from a Gemma-family teacher, or use an encoder student (DistillConfig(student=...))",
            where="vocabulary pruning",
        )
    vocab: dict[str, int] = model["vocab"]
    missing = [b for b in BYTE_PIECES if b not in vocab]
    if missing:
        raise TaskError(
            "all 256 byte pieces in the vocabulary",
            f"{len(missing)} missing",
            "use a tokenizer with byte fallback",
            where="vocabulary pruning",
        )
    tok = Tokenizer.from_str(tokenizer_json)
    used: set[str] = set()
    texts = list(texts)
    for i in range(0, len(texts), batch_size):
        for enc in tok.encode_batch(texts[i : i + batch_size], add_special_tokens=False):
            used.update(enc.tokens)
    pairs = _merge_pairs(model.get("merges", []))
    producers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for a, b in pairs:
        producers[a + b].append((a, b))
    # Close over merge paths: every piece that can build a kept piece is kept too.
    keep = set(used) | set(BYTE_PIECES)
    stack = list(keep)
    while stack:
        for a, b in producers.get(stack.pop(), ()):
            for part in (a, b):
                if part not in keep and part in vocab:
                    keep.add(part)
                    stack.append(part)
    specials = [a for a in spec.get("added_tokens", []) if a.get("special") and a["id"] < 1000]
    special_names = {a["content"] for a in specials}
    for name in ("unk_token",):
        if model.get(name):
            special_names.add(model[name])
    ordered_old = sorted({vocab[p] for p in keep | special_names if p in vocab})
    # Specials first (low teacher ids: pad/eos/bos/unk/mask), then everything else by teacher id.
    old_ids = [i for i in ordered_old]
    inv = {i: p for p, i in vocab.items()}
    new_vocab = {inv[o]: n for n, o in enumerate(old_ids)}
    new_merges = [[a, b] for a, b in pairs if a in new_vocab and b in new_vocab and (a + b) in new_vocab]
    model = dict(model, vocab=new_vocab, merges=new_merges)
    remap = {o: n for n, o in enumerate(old_ids)}
    added = [
        dict(a, id=remap[a["id"]])
        for a in spec.get("added_tokens", [])
        if a["id"] in remap and a["content"] in new_vocab
    ]
    spec = dict(spec, model=model, added_tokens=added)
    spec["post_processor"] = _remap_post_processor(spec.get("post_processor"), new_vocab)
    return PrunedVocab(json.dumps(spec, ensure_ascii=False), old_ids, len(used))


def _remap_post_processor(pp: dict | None, new_vocab: dict[str, int]) -> dict | None:
    """Template processors name special tokens with their ids: point them at the new ids."""
    if not pp:
        return pp
    pp = json.loads(json.dumps(pp))
    if pp.get("type") == "Sequence":
        pp["processors"] = [_remap_post_processor(p, new_vocab) for p in pp.get("processors", [])]
        return pp
    for st in (pp.get("special_tokens") or {}).values():
        st["ids"] = [new_vocab[t] for t in st["tokens"]]
    for key in ("sep", "cls"):
        if isinstance(pp.get(key), list) and pp[key][0] in new_vocab:
            pp[key] = [pp[key][0], new_vocab[pp[key][0]]]
    return pp
