"""Prompt-based fine-tuning (PET / LM-BFF style) with model selection on dev.

Either the top layers are updated in full, or (``TeacherConfig.lora_rank``) LoRA
adapters on their projections are trained and merged in at the end.

The LM keeps its head: the loss is cross-entropy over the label scores that
:class:`~teacher.scoring.VerbalizerScorer` computes from the verbalizer rows,
so the few gold examples only have to nudge a model that already "speaks" the
label words. The embedding (most of the parameters, tied to the head) stays
frozen by default, which also keeps optimizer memory small on a CPU.
"""

from __future__ import annotations

import logging
import random
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from teacher.calibration import nll
from teacher.config import TeacherConfig
from teacher.frozen import lower_states, split_layer, upper_scores
from teacher.scoring import VerbalizerScorer, base_model, score_rows, score_states

log = logging.getLogger(__name__)


def set_trainable(model, cfg: TeacherConfig) -> list[str]:
    """Mark the parameters fine-tuning updates; returns their names."""
    for p in model.parameters():
        p.requires_grad_(False)
    base = base_model(model)
    layers = base.layers
    chosen = list(layers)[-cfg.train_layers :] if cfg.train_layers else list(layers)
    for layer in chosen:
        for p in layer.parameters():
            p.requires_grad_(True)
    if getattr(base, "norm", None) is not None:
        for p in base.norm.parameters():
            p.requires_grad_(True)
    if not cfg.freeze_embeddings:
        for p in model.get_input_embeddings().parameters():
            p.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def add_lora(model, cfg: TeacherConfig):
    """Put rank-``cfg.lora_rank`` LoRA adapters on the projections of the top ``cfg.train_layers`` layers (``peft``).

    The model object is changed in place (its projections become LoRA layers), so a scorer holding it
    trains the adapters; only they require grad. Returns the ``peft`` wrapper for :func:`merge_lora`.
    """
    from peft import LoraConfig, get_peft_model

    n = len(base_model(model).layers)
    top = list(range(n))[-cfg.train_layers :] if cfg.train_layers else list(range(n))
    lcfg = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(LORA_TARGETS),
        layers_to_transform=top,
        bias="none",
    )
    return get_peft_model(model, lcfg)


def merge_lora(wrapped) -> list[str]:
    """Fold the adapters into their projections and remove them; returns the changed weights' names."""
    from peft.tuners.lora import LoraLayer

    model = wrapped.base_model.model
    changed = sorted(f"{name}.weight" for name, m in model.named_modules() if isinstance(m, LoraLayer))
    wrapped.merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(False)
    return changed


def finetune(
    scorer: VerbalizerScorer,
    train_rows: list[list[int]],
    train_y: list[int],
    dev_rows: list[list[int]],
    dev_y: list[int],
    cfg: TeacherConfig,
) -> dict:
    """Train in place, keep the weights that score best on dev; returns the training history."""
    from transformers import get_linear_schedule_with_warmup

    model = scorer.model
    if cfg.lora_rank:
        for p in model.parameters():
            p.requires_grad_(False)
        wrapped = add_lora(model, cfg)
        names = {n for n, p in model.named_parameters() if p.requires_grad}
    else:
        wrapped, names = None, set(set_trainable(model, cfg))
    params = [p for n, p in model.named_parameters() if n in names]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(train_rows) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup_ratio * total), total)
    eval_every = cfg.eval_every or steps_per_epoch
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    history: list[dict] = []
    best: dict = {"key": None, "state": None, "step": 0}
    dev_y_arr = np.asarray(dev_y)
    t0 = time.perf_counter()
    # Frozen embedding and lower layers: their output is computed once, steps run the top layers only.
    split = split_layer(scorer, cfg.train_layers, cfg.freeze_embeddings)
    train_states = lower_states(scorer, train_rows, split, cfg.eval_batch_size) if split is not None else None
    dev_states = (
        lower_states(scorer, dev_rows, split, cfg.eval_batch_size) if train_states is not None and dev_rows else None
    )
    if train_states is None:
        split = None
    else:
        log.info(
            "cached the frozen layers' output for %d train and %d dev prompts in %.0f s",
            len(train_rows),
            len(dev_rows),
            time.perf_counter() - t0,
        )

    def evaluate(step: int, train_loss: float | None) -> None:
        if not dev_rows:
            return
        s = (
            score_states(scorer, dev_states, split, cfg.eval_batch_size)
            if dev_states is not None
            else score_rows(scorer, dev_rows, cfg.eval_batch_size)
        )
        acc = float((s.argmax(1) == dev_y_arr).mean())
        loss = nll(s, dev_y_arr)
        history.append({"step": step, "dev_accuracy": acc, "dev_nll": loss, "train_loss": train_loss})
        log.info(
            "step %d: dev accuracy %.3f, dev NLL %.3f, train loss %s (%.0f s)",
            step,
            acc,
            loss,
            train_loss,
            time.perf_counter() - t0,
        )
        key = (acc, -loss)
        if best["key"] is None or key > best["key"]:
            best.update(
                key=key, step=step, state={n: p.detach().clone() for n, p in model.named_parameters() if n in names}
            )

    evaluate(0, None)  # the unadapted prompt is a candidate too
    model.train()
    step, running = 0, []
    bar = tqdm(total=total, desc="fine-tuning teacher", disable=not cfg.progress, leave=False)
    for _ in range(cfg.epochs):
        order = list(range(len(train_rows)))
        rng.shuffle(order)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if train_states is not None:
                scores = upper_scores(scorer, [train_states[j] for j in idx], split)
            else:
                scores = scorer.scores([train_rows[j] for j in idx])
            loss = loss_fn(scores, torch.tensor([train_y[j] for j in idx], device=scores.device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            running.append(loss.item())
            bar.update(1)
            if step % eval_every == 0 or step == total:
                evaluate(step, float(np.mean(running)))
                running = []
                model.train()
    bar.close()
    model.eval()
    if best["state"] is not None:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in best["state"]:
                    p.copy_(best["state"][n])
    for p in model.parameters():
        p.requires_grad_(False)
    trained = merge_lora(wrapped) if wrapped is not None else sorted(names)
    return {
        "history": history,
        "best_step": best["step"],
        "trained": trained,
        "lora_rank": cfg.lora_rank,
        "trainable_params": int(sum(p.numel() for p in params)),
        "seconds": time.perf_counter() - t0,
        "steps": total,
        "frozen_prefix_cache": split is not None,
    }
