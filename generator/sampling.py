"""Batched sampling of one line per prompt with any Hugging Face causal LM."""

from __future__ import annotations

from collections.abc import Sequence
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


def begin_suppress_ids(tokenizer) -> list[int]:
    """Token ids that would end the sample before it starts (newline-only tokens, EOS).

    Without this, a sizeable share of the budget goes to empty lines.
    """
    ids = set(_blank_line_ids(tokenizer))
    eos = tokenizer.eos_token_id
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return sorted(ids)


def sample_lines(model, tokenizer, prompts: Sequence[str], cfg: GeneratorConfig, *, chat: bool, seed: int, progress: bool = True) -> list[str]:
    """One sampled completion per prompt (stopped at the first newline), in prompt order."""
    import torch
    from tqdm.auto import tqdm

    prepare_tokenizer(tokenizer)
    suppress = begin_suppress_ids(tokenizer)
    torch.manual_seed(seed)
    out: list[str] = []
    model.eval()
    bar = tqdm(total=len(prompts), desc="generating", unit="sample", disable=not progress)
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
    bar.close()
    return out
