"""``factory launch-plan``: print the resolved distributed launch plan without running anything."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Optional

import typer


def _model_config(model: str) -> str:
    """A bundled name, a Hugging Face folder or a config.json path → a path holding config.json."""
    p = Path(model).expanduser()
    if p.exists():
        return str(p)
    from factory.models import resolve_model

    ref = resolve_model(model)
    src = Path(ref.source)
    if not (src / "config.json").is_file():
        raise typer.BadParameter(
            f"expected a config.json for {model!r}; found none in {src} (a GGUF model not yet cached). "
            f"Fix: load it once (`factory doctor`) or pass the path of a config.json"
        )
    return str(src)


def launch_plan(
    model: str = typer.Option(
        "gemma-3-270m", "--model", help="bundled model name, HF model folder or config.json path"
    ),
    global_batch: int = typer.Option(32, "--global-batch", help="sequences per optimizer step, over all GPUs"),
    seq_len: int = typer.Option(256, "--seq-len", help="tokens per sequence"),
    nodes: int = typer.Option(1, "--nodes"),
    procs_per_node: int = typer.Option(1, "--procs-per-node", help="GPUs (or CPU processes) per node"),
    rdzv_endpoint: Optional[str] = typer.Option(
        None, "--rdzv-endpoint", help="host:port of node 0 (needed with --nodes > 1)"
    ),
    strategy: str = typer.Option("ddp", "--strategy", help="ddp | fsdp"),
    mixed_precision: str = typer.Option("bf16", "--mixed-precision", help="bf16 | fp16 | no"),
    activation_checkpointing: bool = typer.Option(False, "--activation-checkpointing/--no-activation-checkpointing"),
    per_device_batch: Optional[int] = typer.Option(None, "--per-device-batch", help="default: the largest that fits"),
    gpu_memory_gib: float = typer.Option(80.0, "--gpu-memory-gib", help="memory of one GPU"),
    device: str = typer.Option("cuda", "--device", help="cuda | cpu"),
    launcher: str = typer.Option("torchrun", "--launcher", help="torchrun | accelerate"),
    logits: str = typer.Option("auto", "--logits", help="all (LM loss) | last (classification, verbalizer) | auto"),
    module: str = typer.Option("student.train", "--module", help="training entry module"),
    config: str = typer.Option("cfg.json", "--config", help="training config passed to the module"),
    out: Optional[str] = typer.Option(
        None, "--out", help="run directory: write launch_plan.json and accelerate_config.json there"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
):
    """Dry run: world size, per-device batch, gradient accumulation, per-GPU memory and the launch command."""
    from factory.errors import TaskError
    from pipelines.launch_plan import ResourcesConfig, launch_command, launch_env, plan_launch, write_launch_files

    if logits not in ("all", "last", "auto"):
        raise typer.BadParameter(f"expected all, last or auto; found {logits!r}")
    try:
        res = ResourcesConfig(
            nodes=nodes,
            procs_per_node=procs_per_node,
            rdzv_endpoint=rdzv_endpoint,
            strategy=strategy,
            mixed_precision=mixed_precision,
            activation_checkpointing=activation_checkpointing,
            per_device_batch=per_device_batch,
            gpu_memory_gib=gpu_memory_gib,
            device=device,
            launcher=launcher,
        )
        plan = plan_launch(
            _model_config(model), res, global_batch, seq_len, full_logits={"all": True, "last": False}.get(logits)
        )
    except TaskError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    files = write_launch_files(plan, out) if out else {}
    cmd = launch_command(plan, module, config, accelerate_config_path=files.get("accelerate_config"))
    env = launch_env(plan)
    if as_json:
        typer.echo(
            json.dumps({**plan.to_dict(), "command": cmd, "env": env, "files": {k: str(v) for k, v in files.items()}})
        )
        return
    m, mem = plan.model, plan.memory
    typer.echo(f"model: {m.params / 1e6:.1f}M params, {m.layers} layers, hidden {m.hidden}, vocab {m.vocab}")
    typer.echo(
        f"world size {plan.world_size} = {res.nodes} node(s) x {res.procs_per_node}; strategy {res.strategy}, "
        f"{res.mixed_precision}, activation checkpointing {'on' if res.activation_checkpointing else 'off'}"
    )
    typer.echo(
        f"global batch {plan.global_batch} = per-device {plan.per_device_batch} x world {plan.world_size} x grad-accum {plan.grad_accum}; seq {plan.seq_len}"
    )
    typer.echo("memory per GPU (GiB):")
    for k, v in mem.to_dict().items():
        typer.echo(f"  {k.removesuffix('_gib'):<16}{v:>10.2f}")
    typer.echo(f"fits {res.gpu_memory_gib:g} GiB (90% usable): {'yes' if plan.fits else 'NO'}")
    for n in plan.notes:
        typer.echo(f"note: {n}")
    typer.echo("environment:\n  " + " ".join(f"{k}={v}" for k, v in env.items()))
    typer.echo("command (every node):\n  " + shlex.join(cmd))
    for k, v in files.items():
        typer.echo(f"wrote {k}: {v}")
