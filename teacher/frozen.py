"""Run the frozen lower layers once: fine-tuning then only runs the trained top layers.

With ``train_layers=6`` of Gemma-3-270M's 18 layers, the embedding and the
bottom 12 layers never change during fine-tuning, so the hidden state that
enters layer 12 is the same for a given prompt at every step. It is computed
once per gold and dev prompt; each training step and each dev evaluation then
runs 6 layers instead of 18 (about 3× less forward work, same numbers up to
float rounding).

Only labels read at one position are served this way (single-token
verbalizers, or ``multi_token="embedding"``): a teacher-forced multi-token
label is scored on top of the prompt's KV cache in every layer, which the
cached hidden states do not hold; those tasks take the normal path.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from teacher.scoring import VerbalizerScorer, base_model, left_pad, length_batches, output_head

# Above this many cached floats (4 bytes each) the cache is not worth the memory: 256M floats = 1 GiB.
MAX_CACHED_FLOATS = 256 * 1024 * 1024


class _Skip(torch.nn.Module):
    """Stands in for a decoder layer and returns its input unchanged."""

    def __init__(self, layer):
        super().__init__()
        # Some models pick a layer's mask by its attention type (Qwen2); keep it visible.
        if hasattr(layer, "attention_type"):
            self.attention_type = layer.attention_type

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


@contextmanager
def _only_layers(model, keep: range):
    """Temporarily replace every decoder layer outside ``keep`` by a pass-through."""
    base = base_model(model)
    original = base.layers
    base.layers = torch.nn.ModuleList([layer if i in keep else _Skip(layer) for i, layer in enumerate(original)])
    try:
        yield original
    finally:
        base.layers = original


def split_layer(scorer: VerbalizerScorer, train_layers: int | None, freeze_embeddings: bool) -> int | None:
    """Index of the first trained layer when the frozen-prefix cache applies, else None."""
    n = len(base_model(scorer.model).layers)
    if not train_layers or train_layers >= n or not freeze_embeddings or scorer.multi or scorer._prefix is not None:
        return None
    return n - train_layers


def _padded(rows: list[torch.Tensor], dev) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad (len_i, H) rows into (B, T, H) plus attention mask and rotary positions."""
    width = max(r.shape[0] for r in rows)
    h = rows[0].new_zeros((len(rows), width, rows[0].shape[1]))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        h[i, width - r.shape[0] :] = r
        mask[i, width - r.shape[0] :] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return h.to(dev), mask.to(dev), pos.to(dev)


def lower_states(
    scorer: VerbalizerScorer, rows: list[list[int]], split: int, batch_size: int
) -> list[torch.Tensor] | None:
    """Hidden states entering layer ``split`` for every prompt row (real tokens only), or None when too big."""
    hidden = output_head(scorer.model).shape[1]
    if sum(len(r) for r in rows) * hidden > MAX_CACHED_FLOATS:
        return None
    model = scorer.model
    out: list[torch.Tensor | None] = [None] * len(rows)
    captured: list[torch.Tensor] = []
    was_training = model.training
    model.eval()
    with _only_layers(model, range(split)) as layers, torch.inference_mode():
        hook = layers[split - 1].register_forward_hook(
            lambda _m, _i, o: captured.append(o[0] if isinstance(o, tuple) else o)
        )
        try:
            for idx in length_batches([len(r) for r in rows], batch_size):
                ids, mask = left_pad([rows[i] for i in idx], scorer.pad_id)
                width = ids.shape[1]
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                captured.clear()
                dev = scorer.device
                base_model(model)(
                    input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev), use_cache=False
                )
                h = captured[-1]
                for j, i in enumerate(idx):
                    out[i] = h[j, width - len(rows[i]) :]
        finally:
            hook.remove()
    model.train(was_training)
    # Cloned outside inference mode: autograd can then use them, and the batch tensors are freed.
    with torch.no_grad():
        return [t.clone() for t in out]


def upper_scores(scorer: VerbalizerScorer, states: list[torch.Tensor], split: int) -> torch.Tensor:
    """(B, L) label scores from cached lower states; the same numbers as ``scorer.scores`` on the prompts."""
    model = scorer.model
    h, mask, pos = _padded(states, scorer.device)
    with _only_layers(model, range(split, len(base_model(model).layers))):
        out = base_model(model)(inputs_embeds=h, attention_mask=mask, position_ids=pos, use_cache=False)
    return scorer.label_logits(out.last_hidden_state[:, -1])
