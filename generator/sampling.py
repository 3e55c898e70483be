"""Batched sampling of one line per prompt with any Hugging Face causal LM."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from functools import lru_cache

from generator.config import GeneratorConfig


def prepare_tokenizer(tokenizer) -> None:
    """Left padding (decoder-only batching) and a pad token (falls back to EOS)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


@lru_cache(maxsize=4)
def _blank_line_ids(tokenizer) -> tuple[int, ...]:
    ids = []
    for piece, i in tokenizer.get_vocab().items():
        text = tokenizer.convert_tokens_to_string([piece])
        if "\n" in text and not text.strip():
            ids.append(i)
    return tuple(sorted(ids))


@lru_cache(maxsize=4)
def _newline_ids(tokenizer) -> tuple[int, ...]:
    return tuple(
        sorted(i for piece, i in tokenizer.get_vocab().items() if "\n" in tokenizer.convert_tokens_to_string([piece]))
    )


def begin_suppress_ids(tokenizer) -> list[int]:
    """Token ids that would end the sample before it starts (newline-only tokens, EOS).

    Without this, a sizeable share of the budget goes to empty lines.
    """
    ids = set(_blank_line_ids(tokenizer))
    eos = tokenizer.eos_token_id
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return sorted(ids)


def domain_token_ids(tokenizer, texts: Iterable[str]) -> list[int]:
    """Token ids of ``texts`` plus what ends a line or a turn: the vocabulary a sample may use."""
    ids: set[int] = set(tokenizer.all_special_ids) | set(_newline_ids(tokenizer))
    texts = list(texts)
    for k in range(0, len(texts), 256):
        for row in tokenizer(texts[k : k + 256], add_special_tokens=False)["input_ids"]:
            ids.update(row)
    return sorted(ids)


def _subset_head(weight, ids: list[int]):
    """LM head computing only the rows of ``ids``; every other token gets -inf (never sampled).

    Gemma-3's head has 262k rows; a task's own texts use a few thousand tokens,
    so sampling inside them skips most of the head and cannot wander into other scripts.
    """
    import torch

    class SubsetHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vocab = weight.shape[0]
            self.register_buffer("ids", torch.tensor(ids, device=weight.device), persistent=False)
            self.register_buffer("rows", weight.detach()[self.ids].clone(), persistent=False)

        def forward(self, h):
            out = h.new_full((*h.shape[:-1], self.vocab), float("-inf"))
            out[..., self.ids] = h @ self.rows.T
            return out

    return SubsetHead()


@contextmanager
def restricted_head(model, ids: list[int] | None):
    """Within the block, ``model`` samples only tokens in ``ids`` (no-op for None)."""
    if not ids:
        yield model
        return
    original = model.get_output_embeddings()
    model.set_output_embeddings(_subset_head(original.weight, ids))
    try:
        yield model
    finally:
        model.set_output_embeddings(original)


def sample_lines(
    model,
    tokenizer,
    prompts: Sequence[str],
    cfg: GeneratorConfig,
    *,
    chat: bool,
    seed: int,
    progress: bool = True,
    allowed_ids: list[int] | None = None,
) -> list[str]:
    """One sampled completion per prompt (stopped at the first newline), in prompt order.

    With ``allowed_ids`` only those tokens can be sampled (see :func:`domain_token_ids`).
    """
    import torch
    from tqdm.auto import tqdm

    prepare_tokenizer(tokenizer)
    suppress = begin_suppress_ids(tokenizer)
    torch.manual_seed(seed)
    out: list[str] = []
    model.eval()
    bar = tqdm(total=len(prompts), desc="generating", unit="sample", disable=not progress)
    with restricted_head(model, allowed_ids):
        _sample_batches(model, tokenizer, prompts, cfg, chat, suppress, out, bar)
    bar.close()
    return out


def _sample_batches(model, tokenizer, prompts, cfg, chat, suppress, out, bar) -> None:
    import torch

    for start in range(0, len(prompts), cfg.batch_size):
        batch = list(prompts[start : start + cfg.batch_size])
        # Chat templates already carry the special tokens (BOS included).
        enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=not chat)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.inference_mode():
            gen = model.generate(
                **enc,
                do_sample=True,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                max_new_tokens=cfg.max_new_tokens,
                stop_strings=["\n"],
                tokenizer=tokenizer,
                begin_suppress_tokens=suppress,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = gen[:, enc["input_ids"].shape[1] :]
        out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
        bar.update(len(batch))
