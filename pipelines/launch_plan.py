"""Launch planning for distributed training: world size, batch split, memory, command.

A training stage (teacher adaptation, student distillation) runs the same
Accelerate loop whether it is one process or many; what changes is how it is
launched. :func:`plan_launch` resolves a :class:`ResourcesConfig` (nodes, GPUs
per node, rendezvous, precision, DDP or FSDP) plus the global batch into a
:class:`LaunchPlan` with the per-device batch, gradient accumulation and a
per-GPU memory estimate; :func:`launch_command` and :func:`launch_env` turn
the plan into a ``torchrun`` (or ``accelerate launch``) command. Accelerate
reads the ``ACCELERATE_*`` / ``FSDP_*`` variables of :func:`launch_env`, so
FSDP, mixed precision and activation checkpointing need no code change in the
training loop.

No torch (stdlib and pydantic): the pipelines and the GPU benchmark import it too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from factory.atomic import atomic_write_json
from factory.config import StageConfig
from factory.errors import TaskError
from pipelines.launch_memory import MemoryEstimate, ModelShape, estimate_memory, model_shape

STRATEGIES = ("ddp", "fsdp")
PRECISIONS = ("no", "bf16", "fp16")
LAUNCHERS = ("torchrun", "accelerate")
HEADROOM = 0.9  # leave 10% of the card for the CUDA context, allocator fragmentation and NCCL buffers


class ResourcesConfig(StageConfig):
    """What a training task may use; the pipelines carry one per task."""

    nodes: int = Field(1, ge=1)
    procs_per_node: int = Field(1, ge=1)
    rdzv_endpoint: str | None = None  # host:port of node 0; required when nodes > 1
    rdzv_id: str = "factory"
    mixed_precision: str = "bf16"
    strategy: str = "ddp"
    activation_checkpointing: bool = False
    per_device_batch: int | None = Field(None, ge=1)  # None: the largest that fits the card
    gpu_memory_gib: float = 80.0
    device: str = "cuda"  # "cpu" runs gloo processes (CI, laptops)
    launcher: str = "torchrun"
    # torchrun restarts the whole group after a failed worker; the loop resumes from its checkpoint
    max_restarts: int = 3
    wrap_layer: str | None = None  # FSDP unit class name; None: the model's own _no_split_modules

    def check(self) -> None:
        """The choices, each refused with advice on which to pick, and the rendezvous multi-node runs need."""

        def bad(name: str, expected: str, found: Any, fix: str) -> TaskError:
            return TaskError(expected, repr(found), fix, where=f"ResourcesConfig.{name}")

        if self.strategy not in STRATEGIES:
            raise bad(
                "strategy",
                f"strategy in {STRATEGIES}",
                self.strategy,
                "use ddp for models that fit one GPU, fsdp for larger ones",
            )
        if self.mixed_precision not in PRECISIONS:
            raise bad(
                "mixed_precision",
                f"mixed_precision in {PRECISIONS}",
                self.mixed_precision,
                "use bf16 on A100/H100, fp16 on older GPUs, no on CPU",
            )
        if self.launcher not in LAUNCHERS:
            raise bad(
                "launcher",
                f"launcher in {LAUNCHERS}",
                self.launcher,
                "use torchrun (multi-node without per-node ranks) or accelerate",
            )
        if self.device not in ("cuda", "cpu"):
            raise bad("device", "device cuda or cpu", self.device, "use cpu only for tests and laptops")
        if self.nodes > 1 and not self.rdzv_endpoint:
            raise bad(
                "rdzv_endpoint",
                "rdzv_endpoint host:port when nodes > 1",
                None,
                "point every node at node 0, e.g. trainer-0.trainer:29400",
            )
        if self.rdzv_endpoint and ":" not in self.rdzv_endpoint:
            raise bad("rdzv_endpoint", "rdzv_endpoint as host:port", self.rdzv_endpoint, "append the port, e.g. :29400")

    @property
    def world_size(self) -> int:
        """Processes in the whole job: nodes × processes per node."""
        return self.nodes * self.procs_per_node


@dataclass
class LaunchPlan:
    """A resolved launch: everything a user needs to check before booking a cluster."""

    resources: ResourcesConfig
    world_size: int
    global_batch: int
    per_device_batch: int
    grad_accum: int
    seq_len: int
    model: ModelShape
    memory: MemoryEstimate
    fits: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)  # the resources stay a config object there: asdict only unpacks dataclasses
        d["resources"] = self.resources.to_dict()
        d["memory"] = self.memory.to_dict()
        return d


def plan_launch(
    model_config_or_params: Any,
    resources: ResourcesConfig,
    global_batch: int,
    seq_len: int,
    *,
    full_logits: bool | None = None,
) -> LaunchPlan:
    """Resolve world size, per-device batch, gradient accumulation and per-GPU memory.

    ``model_config_or_params`` is a HF config (object, dict, folder or
    config.json path) or a :class:`ModelShape`. With ``per_device_batch``
    unset, the largest power of two that fits ``gpu_memory_gib`` (with 10%
    headroom) and divides the batch each rank sees is chosen.
    """
    shape = model_shape(model_config_or_params)
    world = resources.world_size
    if global_batch < 1 or seq_len < 1:
        raise TaskError(
            "global_batch >= 1 and seq_len >= 1",
            repr((global_batch, seq_len)),
            "pass positive numbers",
            where="launch plan",
        )
    if global_batch % world:
        raise TaskError(
            f"a global batch divisible by the world size {world}",
            str(global_batch),
            f"use a multiple of {world}, e.g. {world * max(1, round(global_batch / world))}",
            where="launch plan",
        )
    per_rank = global_batch // world
    sharded = resources.strategy == "fsdp"

    def memory(mb: int) -> MemoryEstimate:
        return estimate_memory(
            shape,
            micro_batch=mb,
            seq_len=seq_len,
            world_size=world,
            sharded=sharded,
            activation_checkpointing=resources.activation_checkpointing,
            full_logits=full_logits,
        )

    budget = resources.gpu_memory_gib * HEADROOM
    notes: list[str] = []
    if resources.per_device_batch is not None:
        mb = resources.per_device_batch
        if per_rank % mb:
            raise TaskError(
                f"per_device_batch dividing the per-rank batch {per_rank} (global {global_batch} / world {world})",
                str(mb),
                f"pick a divisor of {per_rank}",
                where="launch plan",
            )
    else:
        candidates = [d for d in (2**k for k in range(int(math.log2(per_rank)) + 1)) if per_rank % d == 0]
        fitting = [d for d in candidates if memory(d).total_gib <= budget]
        mb = max(fitting) if fitting else 1
        if not fitting:
            notes.append("even a per-device batch of 1 does not fit the estimate")
    est = memory(mb)
    fits = est.total_gib <= budget
    if not fits:
        fix = "use strategy fsdp" if not sharded else "add GPUs/nodes"
        if not resources.activation_checkpointing:
            fix += " or turn on activation_checkpointing"
        notes.append(f"estimated {est.total_gib:.1f} GiB > {budget:.1f} GiB usable per GPU: {fix}")
    if resources.device == "cpu" and resources.mixed_precision == "fp16":
        notes.append("fp16 autocast on CPU is slow; use bf16 or no")
    return LaunchPlan(resources, world, global_batch, mb, per_rank // mb, seq_len, shape, est, fits, notes)


def launch_env(plan: LaunchPlan) -> dict[str, str]:
    """Environment variables that make Accelerate apply the plan inside the unchanged training loop."""
    r = plan.resources
    env = {
        "ACCELERATE_MIXED_PRECISION": r.mixed_precision,
        # Accelerator(gradient_accumulation_steps=1) falls back to this variable.
        "ACCELERATE_GRADIENT_ACCUMULATION_STEPS": str(plan.grad_accum),
    }
    if r.device == "cpu":
        env["ACCELERATE_USE_CPU"] = "true"
    if r.strategy == "fsdp":
        env.update(_fsdp_settings(r))
    return env


def _fsdp_settings(r: ResourcesConfig) -> dict[str, str]:
    s = {
        "ACCELERATE_USE_FSDP": "true",
        "FSDP_VERSION": "2",
        "FSDP_RESHARD_AFTER_FORWARD": "true",
        "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
        "FSDP_STATE_DICT_TYPE": "SHARDED_STATE_DICT",
        "FSDP_ACTIVATION_CHECKPOINTING": str(r.activation_checkpointing).lower(),
        "FSDP_CPU_RAM_EFFICIENT_LOADING": "true",
        "FSDP_SYNC_MODULE_STATES": "true",
        "FSDP_OFFLOAD_PARAMS": "false",
    }
    if r.wrap_layer:
        s["FSDP_TRANSFORMER_CLS_TO_WRAP"] = r.wrap_layer
    return s


def accelerate_config(plan: LaunchPlan) -> dict:
    """The plan as an ``accelerate launch --config_file`` document (JSON is accepted as well as YAML)."""
    r = plan.resources
    host, _, port = (r.rdzv_endpoint or "127.0.0.1:29500").rpartition(":")
    cfg: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "FSDP" if r.strategy == "fsdp" else ("MULTI_CPU" if r.device == "cpu" else "MULTI_GPU"),
        "mixed_precision": r.mixed_precision,
        "num_machines": r.nodes,
        "num_processes": plan.world_size,
        "machine_rank": 0,
        "main_process_ip": host,
        "main_process_port": int(port),
        "rdzv_backend": "c10d" if r.nodes > 1 else "static",
        "same_network": True,
        "use_cpu": r.device == "cpu",
        "gradient_accumulation_steps": plan.grad_accum,
    }
    if r.strategy == "fsdp":
        env = _fsdp_settings(r)
        cfg["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": env["FSDP_AUTO_WRAP_POLICY"],
            "fsdp_reshard_after_forward": True,
            "fsdp_state_dict_type": env["FSDP_STATE_DICT_TYPE"],
            "fsdp_activation_checkpointing": r.activation_checkpointing,
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_offload_params": False,
            **({"fsdp_transformer_layer_cls_to_wrap": r.wrap_layer} if r.wrap_layer else {}),
        }
    return cfg


def write_launch_files(plan: LaunchPlan, run_dir: str | Path) -> dict[str, Path]:
    """Save ``launch_plan.json`` and ``accelerate_config.json`` into the run directory."""
    run_dir = Path(run_dir)
    return {
        "plan": atomic_write_json(run_dir / "launch_plan.json", plan.to_dict()),
        "accelerate_config": atomic_write_json(run_dir / "accelerate_config.json", accelerate_config(plan)),
    }


def launch_command(
    plan: LaunchPlan,
    module: str,
    config_path: str | Path,
    *,
    accelerate_config_path: str | Path | None = None,
    node_rank: int = 0,
    python: str | None = None,
) -> list[str]:
    """The command that starts ``python -m <module> --config <config_path>`` on every rank of the plan.

    torchrun uses c10d rendezvous across nodes, so every node runs the same
    command; ``accelerate launch`` needs the node's rank and the config file
    written by :func:`write_launch_files`. ``python`` (e.g. ``sys.executable``)
    runs the launcher as a module of that interpreter instead of relying on
    ``torchrun``/``accelerate`` being on PATH.
    """
    r = plan.resources
    tail = ["-m", module, "--config", str(config_path)]
    if r.launcher == "accelerate":
        if accelerate_config_path is None:
            raise TaskError(
                "accelerate_config_path with launcher=accelerate",
                "None",
                "call write_launch_files(plan, run_dir) first and pass its accelerate_config path",
                where="launch",
            )
        prog = [python, "-m", "accelerate.commands.launch"] if python else ["accelerate", "launch"]
        cmd = prog + [
            "--config_file",
            str(accelerate_config_path),
            "--num_machines",
            str(r.nodes),
            "--num_processes",
            str(plan.world_size),
            "--machine_rank",
            str(node_rank),
        ]
        if r.nodes > 1:
            host, _, port = r.rdzv_endpoint.rpartition(":")
            cmd += ["--main_process_ip", host, "--main_process_port", port]
        return cmd + tail
    prog = [python, "-m", "torch.distributed.run"] if python else ["torchrun"]
    cmd = prog + ["--nnodes", str(r.nodes), "--nproc-per-node", str(r.procs_per_node)]
    if r.nodes == 1 and not r.rdzv_endpoint:
        cmd += ["--standalone"]
    else:
        cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", r.rdzv_endpoint, "--rdzv-id", r.rdzv_id]
    cmd += ["--max-restarts", str(r.max_restarts)]
    return cmd + tail
