"""The distillation loss: gold cross-entropy and temperature-scaled KL to the teacher, per example weighted.

Shapes (B = batch, L = labels):

- ``logits``: (B, L) student logits;
- ``target``: (B, L) rows of a distribution — one-hot for gold rows, the teacher's
  sharpened probabilities for soft rows;
- ``gold``: (B,) bool, which rows are gold;
- ``weight``: (B,) per-row weights (gold weight, confidence, class balance);
- returns a scalar: ``sum(weight · loss_row) / (norm · B)``.

Gold rows take ``-Σ target · log_softmax(logits)``; soft rows take
``T² · KL(target ‖ softmax(logits / T))`` (Hinton et al., 2015: the ``T²``
keeps the gradient scale independent of ``T``). ``norm`` is a dataset-wide
constant (the mean weight), so the loss scale does not depend on how the
weights happen to fall into batches.

:func:`embedding_loss` is the representation term (as in DistilBERT's cosine
loss): ``pooled`` (B, H) student vectors mapped by a linear layer to the
teacher's D dimensions, ``target`` (B, D) teacher embeddings, ``mask`` (B,)
which rows have one; returns the mean of ``1 - cos`` over the masked rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distill_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gold: torch.Tensor,
    weight: torch.Tensor,
    temperature: float,
    norm: float,
) -> torch.Tensor:
    """Weighted sum of gold cross-entropy and T²·KL(teacher_T ‖ student_T), scaled by a dataset-wide constant."""
    ce = -(target * F.log_softmax(logits, -1)).sum(-1)
    logq = F.log_softmax(logits / temperature, -1)
    kl = (target * (target.clamp_min(1e-12).log() - logq)).sum(-1) * temperature**2
    per = torch.where(gold, ce, kl)
    return (weight * per).sum() / (norm * len(per))


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H) hidden states, (B, T) mask -> (B, H) mean over the real tokens."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def embedding_loss(projected: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos(projected, target)`` over rows where ``mask`` is set; 0 when none is."""
    if not bool(mask.any()):
        return projected.sum() * 0.0  # keeps the graph (DDP expects every parameter to get a gradient)
    cos = F.cosine_similarity(projected[mask], target[mask].to(projected.dtype), dim=-1)
    return (1.0 - cos).mean()
