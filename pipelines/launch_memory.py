"""Per-GPU memory estimate of a training run, from a model's config alone.

No weights and no torch: the estimate is arithmetic on the architecture
(hidden size, layers, vocabulary, ...), so a user can plan a cluster run on a
laptop. The terms follow the usual accounting for mixed-precision Adam
training (Rajbhandari et al., ZeRO; Korthikanti et al., activation
recomputation):

* parameters, gradients and Adam states: 16 bytes a parameter with autocast
  mixed precision (fp32 weights 4 + fp32 gradients 4 + Adam m and v 8),
  divided by the world size when FSDP / ZeRO-3 shards them;
* weight copies: autocast keeps a bf16 copy of each weight until backward
  (2 bytes a parameter); FSDP gathers one wrapped layer at a time in bf16
  instead (two with prefetching);
* activations saved for backward, per layer and token, from the hidden,
  attention and MLP widths (no seq² term: GPU attention kernels keep no
  score matrix); with activation checkpointing only each layer's input is
  kept, plus one layer's activations while it is recomputed;
* logits: batch × positions × vocabulary, in bf16 plus the fp32 copy the
  loss makes, which dominates for 262k-token vocabularies;
* DDP (world size > 1, unsharded) keeps fp32 gradient buckets (4 bytes a
  parameter) beside the gradients.

Gradients (``zero_grad(set_to_none=True)``, torch's default) and the
temporaries of the foreach AdamW step (about 4 bytes a parameter) do not
live at the same time as the forward activations, so the peak is::

    params + optimizer + buckets + max(activations + logits + weight copies,
                                       grads + optimizer step temporaries)

Measured on an H100 (benchmarks/gpu.py, results in
benchmarks/results/gpu-h100.json): peak allocated memory was 1.01× the
estimate for a 1B Gemma3-style model under FSDP2 with and without activation
checkpointing, 1.00-1.03× for the derived Gemma student; MiniLM (BERT) uses
0.78-1.08× (batch 512 to 32): the estimate errs high for large encoder batches.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from factory.errors import TaskError

GIB = 1024**3
BYTES_PER_PARAM_STATES = {"params": 4, "grads": 4, "optimizer": 8}  # 16 a parameter in all


@dataclass(frozen=True)
class ModelShape:
    """The architecture numbers the estimate needs (read from a HF config)."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    params: int
    gated_mlp: bool = True
    causal_lm: bool = True
    layer_params: int = 0
    logit_width: int = 0  # vocabulary for LM heads, number of labels for classifiers

    def to_dict(self) -> dict:
        return asdict(self)


def _read_config(source: Any) -> dict:
    if isinstance(source, Mapping):
        return dict(source)
    if hasattr(source, "to_dict"):
        return source.to_dict()
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if p.is_dir():
            p = p / "config.json"
        if not p.is_file():
            raise TaskError(
                "a model config.json (or a folder holding one)",
                f"no file at {p}",
                "pass the folder of a saved Hugging Face model or its config.json",
                where="model config",
            )
        return json.loads(p.read_text(encoding="utf-8"))
    raise TaskError(
        "a ModelShape, a config dict, a transformers config or a path to config.json",
        f"{type(source).__name__}",
        "pass one of those",
        where="model config",
    )


def model_shape(source: Any) -> ModelShape:
    """Read the numbers of :class:`ModelShape` from a config dict, object or path; count parameters analytically."""
    if isinstance(source, ModelShape):
        return source
    cfg = _read_config(source)
    if "text_config" in cfg and "hidden_size" not in cfg:  # multimodal wrappers nest the LM config
        cfg = cfg["text_config"]
    missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size") if k not in cfg]
    if missing:
        raise TaskError(
            "a transformer config with hidden_size, num_hidden_layers, num_attention_heads, vocab_size",
            f"missing {missing}",
            "pass the model's Hugging Face config.json",
            where="model config",
        )
    h, n, heads, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["vocab_size"]
    kv = cfg.get("num_key_value_heads") or heads
    hd = cfg.get("head_dim") or h // heads
    inter = cfg.get("intermediate_size") or 4 * h
    mtype = cfg.get("model_type", "")
    archs = cfg.get("architectures") or []
    classifier = any("ForSequenceClassification" in a or "ForTokenClassification" in a for a in archs)
    encoder = mtype in ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "deberta-v2") or any(
        "Bert" in a for a in archs
    )
    gated = not encoder
    q, kvd = heads * hd, kv * hd
    attn = h * q + 2 * h * kvd + q * h
    if encoder:  # biases and two LayerNorms with bias
        attn += q + 2 * kvd + h
        mlp = 2 * h * inter + inter + h
        norms = 4 * h
    else:
        mlp = 3 * h * inter
        norms = 4 * h + 2 * hd  # Gemma3 has four norms a layer plus q/k norms; others fewer, a rounding error
    layer = attn + mlp + norms
    emb = vocab * h
    if encoder:
        emb += (cfg.get("max_position_embeddings", 512) + cfg.get("type_vocab_size", 2)) * h + 2 * h
        emb += h * h + h  # pooler
    causal = not encoder and not classifier
    tied = cfg.get("tie_word_embeddings", True)
    head = vocab * h if (causal and not tied) else 0
    if classifier:
        head = h * len(cfg.get("id2label") or {0: 0, 1: 1})
    final_norm = 0 if encoder else h
    if classifier and encoder:
        head += len(cfg.get("id2label") or {0: 0, 1: 1})  # classifier bias
    total = emb + n * layer + final_norm + head
    return ModelShape(
        layers=n,
        hidden=h,
        intermediate=inter,
        heads=heads,
        kv_heads=kv,
        head_dim=hd,
        vocab=vocab,
        params=total,
        gated_mlp=gated,
        causal_lm=causal,
        layer_params=layer,
        logit_width=len(cfg.get("id2label") or {0: 0, 1: 1}) if classifier else vocab,
    )


def activation_bytes_per_token_layer(shape: ModelShape) -> int:
    """Bytes autograd keeps per token and layer under bf16 autocast, without checkpointing.

    Coefficients were counted with ``torch.autograd.graph.saved_tensors_hooks``
    on Gemma3 and BERT layers (transformers 5): a Gemma3 layer keeps about
    nine fp32 hidden-sized tensors (its four RMSNorms upcast), five bf16
    linear inputs, q/k/v in fp32 and bf16 (12 bytes a channel) and four
    intermediate-sized bf16 tensors of its gated MLP; a BERT layer fewer norm
    tensors and three intermediate-sized ones. GPU attention kernels apply
    dropout inside the kernel and keep no seq × seq probabilities (CPU's math
    fallback does, so CPU runs of encoders can need more).
    """
    h, q, kv, i = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim, shape.intermediate
    if shape.gated_mlp:
        return 46 * h + 8 * i + 12 * q + 12 * kv
    return 26 * h + 6 * i + 12 * q


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes on each GPU, by term; ``total_gib`` is what to compare with the card."""

    params_gib: float
    grads_gib: float
    optimizer_gib: float
    optimizer_step_gib: float
    ddp_buckets_gib: float
    weight_copies_gib: float
    activations_gib: float
    logits_gib: float
    total_gib: float

    def to_dict(self) -> dict:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def estimate_memory(
    shape: ModelShape,
    *,
    micro_batch: int,
    seq_len: int,
    world_size: int = 1,
    sharded: bool = False,
    activation_checkpointing: bool = False,
    full_logits: bool | None = None,
) -> MemoryEstimate:
    """Estimate per-GPU memory of one training step (see the module docstring for the terms).

    ``sharded`` divides parameter, gradient and optimizer states by
    ``world_size`` (FSDP FULL_SHARD / ZeRO-3). ``full_logits`` scores every
    position (language-model loss); False scores one position a sequence
    (classification, verbalizer scoring); None picks by architecture.
    """
    div = world_size if sharded else 1
    p = shape.params
    params = p * BYTES_PER_PARAM_STATES["params"] / div
    grads = p * BYTES_PER_PARAM_STATES["grads"] / div
    optim = p * BYTES_PER_PARAM_STATES["optimizer"] / div
    # Autocast keeps a bf16 copy of every weight it used until backward; FSDP
    # instead gathers one layer at a time in bf16 (two with prefetching).
    copies = 2 * 2 * shape.layer_params if sharded else 2 * p
    tokens = micro_batch * seq_len
    per_layer = activation_bytes_per_token_layer(shape) * tokens
    if activation_checkpointing:
        acts = shape.layers * 4 * shape.hidden * tokens + per_layer
    else:
        acts = shape.layers * per_layer
    acts += 4 * shape.hidden * tokens  # embedding output / final norm input
    full = shape.causal_lm if full_logits is None else full_logits
    positions = seq_len if full else 1
    logits = (
        micro_batch * positions * (shape.logit_width or shape.vocab) * (2 + 4 + 4)
    )  # bf16 logits, fp32 copy, its gradient
    step_temp = 4 * p / div
    buckets = 4 * p if (world_size > 1 and not sharded) else 0.0
    total = params + optim + buckets + max(acts + logits + copies, grads + step_temp)
    parts = [params, grads, optim, step_temp, buckets, copies, acts, logits]
    return MemoryEstimate(*(x / GIB for x in parts), total_gib=total / GIB)
