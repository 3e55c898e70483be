"""A Prefect task that runs a training entry point as a distributed job.

The task turns the pipeline's resources config into a launch plan
(:mod:`pipelines.launch_plan`: world size, per-device batch, memory estimate), saves
the plan and the Accelerate config into the run directory, and runs the
command: ``torchrun`` on this machine for one node (a process work pool, or a
Kubernetes pod that holds all the GPUs), or, for several nodes, a Kubernetes
Indexed Job rendered from ``pipelines/templates/torchrun-job.json`` whose pods
all run the same ``torchrun`` command and meet at pod 0 (c10d rendezvous).

Resilience comes from three layers: torchrun restarts the worker group
(``max_restarts``), the training loop resumes from its last complete
checkpoint in the run directory, and Prefect retries the whole task.
No torch here: the training runs in the launched processes.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import string
import subprocess
import sys
from pathlib import Path

from prefect import get_run_logger, task

from factory.atomic import atomic_write_json
from factory.errors import TaskError
from pipelines.launch_plan import ResourcesConfig, launch_command, launch_env, plan_launch, write_launch_files

TEMPLATE = Path(__file__).parent / "templates" / "torchrun-job.json"
RDZV_PORT = 29400


def render_job(name: str, command: list[str], env: dict[str, str], resources: ResourcesConfig, k8s: dict) -> list[dict]:
    """The Service + Indexed Job manifests for a multi-node run (every pod runs ``command``)."""
    values = {
        "name": name,
        "namespace": k8s.get("namespace", "default"),
        "image": k8s["image"],
        "workdir": k8s.get("workdir", "/opt/model-factory"),
        "nodes": resources.nodes,
        "gpus_per_node": resources.procs_per_node,
        "rdzv_port": RDZV_PORT,
        "backoff_limit": k8s.get("backoff_limit", 2),
        "cpu": k8s.get("cpu", "8"),
        "memory": k8s.get("memory", "64Gi"),
        "workspace_pvc": k8s.get("workspace_pvc", "factory-workspace"),
        "workspace_mount": k8s.get("workspace_mount", "/workspace"),
        "command": json.dumps(command),
        "env": json.dumps([{"name": k, "value": v} for k, v in env.items()]),
    }
    return json.loads(string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values))


def _kubectl(args: list[str], stdin: str | None = None) -> None:
    proc = subprocess.run(["kubectl", *args], input=stdin, text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")


@task(name="distributed-train", retries=2, retry_delay_seconds=60)
def distributed_train(
    module: str,
    config_path: str,
    resources: dict,
    model_config: str,
    global_batch: int,
    seq_len: int,
    run_dir: str,
    k8s: dict | None = None,
    timeout_s: int = 24 * 3600,
) -> dict:
    """Plan and run ``python -m <module> --config <config_path>`` across the GPUs/nodes of ``resources``.

    ``resources`` holds :class:`pipelines.launch_plan.ResourcesConfig` fields;
    ``model_config`` is the model folder or config.json the memory estimate
    reads. Several nodes need ``k8s`` (``image``, optionally ``namespace``,
    ``workspace_pvc``, ...): the run directory must be on storage every pod
    mounts. Returns the plan as a dict; raises if the job fails.
    """
    try:
        log = get_run_logger()
    except Exception:  # called as a plain function (distributed_train.fn) outside a flow run
        log = logging.getLogger(__name__)
    res = ResourcesConfig.from_dict(dict(resources))
    run = Path(run_dir)
    name = "factory-" + run.name.lower().replace("_", "-")[-40:].strip("-")
    if res.nodes > 1:
        if not k8s or "image" not in k8s:
            raise TaskError(
                "k8s settings with an image for a multi-node run",
                repr(k8s),
                "pass k8s={'image': 'registry/model-factory:TAG'}",
                where="distributed_train",
            )
        res.rdzv_endpoint = res.rdzv_endpoint or f"{name}-0.{name}:{RDZV_PORT}"
        res.rdzv_id = name
    plan = plan_launch(model_config, res, global_batch, seq_len)
    files = write_launch_files(plan, run)
    env = launch_env(plan)
    for note in plan.notes:
        log.warning(note)
    log.info(
        f"world {plan.world_size}, per-device batch {plan.per_device_batch} x accum {plan.grad_accum}, "
        f"~{plan.memory.total_gib:.1f} GiB per GPU"
    )
    if res.nodes == 1:
        cmd = launch_command(
            plan, module, config_path, accelerate_config_path=files["accelerate_config"], python=sys.executable
        )
        log.info("running " + shlex.join(cmd))
        proc = subprocess.run(cmd, env={**os.environ, **env}, timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(
                f"training exited with {proc.returncode}; rerunning resumes from the last checkpoint in {run_dir}"
            )
        return plan.to_dict()
    cmd = launch_command(plan, module, config_path, python="python")
    manifests = render_job(name, cmd, env, res, k8s)
    atomic_write_json(run / "k8s-job.json", manifests)
    if shutil.which("kubectl") is None:
        raise TaskError(
            "kubectl on the worker to submit a multi-node job",
            "no kubectl on PATH",
            f"install kubectl in the worker image or apply {run / 'k8s-job.json'} by hand",
            where="distributed_train",
        )
    ns = k8s.get("namespace", "default")
    # A retried task replaces the previous attempt's job; the loop resumes from its checkpoints.
    _kubectl(["delete", "job", name, "-n", ns, "--ignore-not-found", "--wait=true"])
    _kubectl(["apply", "-f", "-"], stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}))
    log.info(f"submitted Indexed Job {name} ({res.nodes} pods x {res.procs_per_node} GPUs); waiting")
    _kubectl(["wait", f"job/{name}", "-n", ns, "--for=condition=complete", f"--timeout={timeout_s}s"])
    return plan.to_dict()
