"""Verbalizer scoring: one number per (text, label) from a causal LM, fast.

Only what is needed is computed: the base model runs once over the prompt, the
final hidden state at the last position is multiplied by the LM-head rows of
the labels' first tokens, and labels whose verbalizer has more tokens are
scored by teacher forcing those tokens on top of the prompt's KV cache (the
prompt is never re-run per label). The same function runs under autograd for
prompt-based fine-tuning and under ``torch.inference_mode`` for labeling.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from tqdm.auto import tqdm

# Rows of full-vocabulary logits formed at once when a normaliser is needed (262k columns each).
_VOCAB_CHUNK = 64


def base_model(model):
    """The decoder stack of a causal LM (``model.model`` for Gemma/Qwen), without the LM head."""
    return getattr(model, model.base_model_prefix)


def output_head(model) -> torch.Tensor:
    """The LM head's weight (V, H): verbalizer logits are rows of it times the last hidden state."""
    return model.get_output_embeddings().weight


def _softcap(model, logits: torch.Tensor) -> torch.Tensor:
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def _log_normaliser(model, h: torch.Tensor) -> torch.Tensor:
    """log sum_v exp(logit_v) for each row of ``h`` (N, H), in row chunks to bound memory."""
    w = output_head(model)
    out = [
        torch.logsumexp(_softcap(model, h[i : i + _VOCAB_CHUNK] @ w.T).float(), dim=-1)
        for i in range(0, h.shape[0], _VOCAB_CHUNK)
    ]
    return torch.cat(out) if out else h.new_zeros(0, dtype=torch.float32)


class VerbalizerScorer:
    """Scores label token sequences after prompts with one causal LM.

    ``label_seqs[l]`` are the token ids of label ``l``'s verbalizer. Scores are
    (length-normalised with ``aggregate="mean"``) log-probabilities; a softmax
    over labels turns them into class probabilities.

    ``multi_token="embedding"`` reads every label at the prompt's last position
    instead: a label's score is the hidden state times the mean of its tokens'
    LM-head rows. It is not a probability of the word, but costs one row per
    label, where teacher-forcing BANKING77's 77 multi-token intents costs a
    full-vocabulary normaliser at ~4,000 positions per batch of 16; fine-tuning
    then learns the task on this head.
    """

    def __init__(
        self, model, label_seqs: list[list[int]], pad_id: int, aggregate: str = "mean", multi_token: str = "sequence"
    ):
        self.model = model
        self.label_seqs = [list(s) for s in label_seqs]
        self.pad_id = pad_id
        self.aggregate = aggregate
        self.multi_token = multi_token
        self.first = torch.tensor([s[0] for s in self.label_seqs])
        self.lengths = torch.tensor([len(s) for s in self.label_seqs], dtype=torch.float32)
        many = [i for i, s in enumerate(self.label_seqs) if len(s) > 1]
        self.multi = many if multi_token == "sequence" else []
        self._prefix: tuple[object, int] | None = None

    @property
    def device(self) -> torch.device:
        return output_head(self.model).device

    # -- shared prefix (in-context demonstrations) ---------------------------------
    def set_prefix(self, prefix_ids: list[int]) -> None:
        """Run a prefix shared by every query once and keep its KV cache (inference only)."""
        if not prefix_ids:
            self._prefix = None
            return
        ids = torch.tensor([prefix_ids], device=self.device)
        with torch.inference_mode():
            out = base_model(self.model)(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
        self._prefix = (out.past_key_values, len(prefix_ids))

    # -- scoring --------------------------------------------------------------------
    def label_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(B, L) scores read at one position from final hidden states ``h`` (B, H)."""
        w = output_head(self.model)
        if self.multi_token == "embedding":
            rows = torch.stack([w[torch.tensor(s, device=w.device)].mean(0) for s in self.label_seqs])
        else:
            rows = w[self.first.to(w.device)]
        return _softcap(self.model, h @ rows.T).float()

    def scores(self, rows: list[list[int]]) -> torch.Tensor:
        """(B, L) label scores for prompts ``rows`` (token ids, no padding); differentiable."""
        dev = self.device
        ids, mask = left_pad(rows, self.pad_id)
        ids, mask = ids.to(dev), mask.to(dev)
        past, plen = None, 0
        if self._prefix is not None and not torch.is_grad_enabled():
            past, plen = copy.deepcopy(self._prefix[0]), self._prefix[1]
            past.batch_repeat_interleave(len(rows))
            mask = torch.cat([torch.ones((len(rows), plen), dtype=torch.long, device=dev), mask], dim=1)
        # Explicit positions: padding must not shift the rotary positions of real tokens.
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, plen:]
        need_cache = bool(self.multi)
        out = base_model(self.model)(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            past_key_values=past,
            use_cache=need_cache or past is not None,
        )
        h = out.last_hidden_state[:, -1]
        first = self.label_logits(h)
        if not self.multi:
            # One token per label: the vocabulary normaliser is shared and cancels in the label softmax.
            return first
        lp = first - _log_normaliser(self.model, h)[:, None]
        rest = self._continuations(out.past_key_values, mask, pos[:, -1], len(rows))
        total = lp.clone()
        total[:, self.multi] = lp[:, self.multi] + rest
        if self.aggregate == "mean":
            total = total / self.lengths.to(dev)
        return total

    def _continuations(self, cache, mask: torch.Tensor, last_pos: torch.Tensor, batch: int) -> torch.Tensor:
        """Sum of log p(t_2..t_k | prompt, t_1..) for every multi-token label: (B, M)."""
        dev = self.device
        seqs = [self.label_seqs[i] for i in self.multi]
        m, k = len(seqs), max(len(s) for s in seqs) - 1
        inp = torch.full((m, k), self.pad_id, dtype=torch.long)
        tgt = torch.zeros((m, k), dtype=torch.long)
        valid = torch.zeros((m, k), dtype=torch.bool)
        for j, s in enumerate(seqs):
            inp[j, : len(s) - 1] = torch.tensor(s[:-1])
            tgt[j, : len(s) - 1] = torch.tensor(s[1:])
            valid[j, : len(s) - 1] = True
        cache.batch_repeat_interleave(m)
        inp, tgt, valid = inp.repeat(batch, 1).to(dev), tgt.repeat(batch, 1).to(dev), valid.repeat(batch, 1).to(dev)
        full_mask = torch.cat([mask.repeat_interleave(m, dim=0), torch.ones_like(inp)], dim=1)
        pos = last_pos.repeat_interleave(m)[:, None] + 1 + torch.arange(k, device=dev)[None, :]
        out = base_model(self.model)(
            input_ids=inp, attention_mask=full_mask, position_ids=pos, past_key_values=cache, use_cache=True
        )
        h = out.last_hidden_state.reshape(batch * m * k, -1)
        w = output_head(self.model)
        picked = _softcap(self.model, (h * w[tgt.reshape(-1)]).sum(-1)).float()
        token_lp = (picked - _log_normaliser(self.model, h)).reshape(batch * m, k)
        return (token_lp * valid).sum(-1).reshape(batch, m)


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids and attention mask; left padding puts every prompt's last token at position -1."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids, mask


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), longest first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _batched(
    scorer: VerbalizerScorer, lengths: list[int], score, batch_size: int, progress: bool = False, desc: str = "scoring"
) -> np.ndarray:
    """(n, L) label scores: ``score(indices)`` on length-bucketed batches under inference mode."""
    out = np.zeros((len(lengths), len(scorer.label_seqs)), dtype=np.float64)
    was_training = scorer.model.training
    scorer.model.eval()
    with torch.inference_mode():
        for idx in tqdm(length_batches(lengths, batch_size), desc=desc, disable=not progress, leave=False):
            out[idx] = score(idx).float().cpu().numpy()
    scorer.model.train(was_training)
    return out


def score_rows(
    scorer: VerbalizerScorer, rows: list[list[int]], batch_size: int, progress: bool = False, desc: str = "scoring"
) -> np.ndarray:
    """(n, L) label scores for prompt rows, in length-bucketed batches under inference mode."""
    return _batched(
        scorer, [len(r) for r in rows], lambda idx: scorer.scores([rows[i] for i in idx]), batch_size, progress, desc
    )


def score_states(scorer: VerbalizerScorer, states: list[torch.Tensor], split: int, batch_size: int) -> np.ndarray:
    """:func:`score_rows` for prompts whose frozen lower layers already ran (``teacher.frozen``)."""
    # teacher.frozen imports this module for the scorer, so its top-layer pass is imported here, on use.
    from teacher.frozen import upper_scores

    return _batched(
        scorer,
        [s.shape[0] for s in states],
        lambda idx: upper_scores(scorer, [states[i] for i in idx], split),
        batch_size,
    )
