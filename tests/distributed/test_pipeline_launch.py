"""The Prefect distributed-training task: a real torchrun launch on CPU, and the multi-node Kubernetes job."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipelines.distributed import distributed_train, render_job
from pipelines.launch_plan import ResourcesConfig

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "model_type": "gemma3_text",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "vocab_size": 64,
    "layer_types": ["full_attention"],
    "use_cache": False,
}


def test_pipelines_do_not_import_torch():
    import subprocess

    code = "import pipelines.distributed, sys; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_single_node_task_runs_torchrun_and_saves_plan(tmp_path, monkeypatch):
    # The FSDP worker of benchmarks/gpu.py is a small real Accelerate training entry point.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.chdir(ROOT)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY))
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"config": TINY, "batch": 2, "seq": 8, "steps": 1, "out": str(tmp_path / "result.json")}))
    res = {"procs_per_node": 1, "device": "cpu", "mixed_precision": "no", "max_restarts": 0}
    plan = distributed_train.fn("benchmarks.gpu", str(job), res, str(cfg), 2, 8, str(tmp_path / "run"))
    assert plan["world_size"] == 1
    assert json.loads((tmp_path / "result.json").read_text())["distributed_type"].endswith("MULTI_CPU")
    assert (tmp_path / "run" / "launch_plan.json").is_file() and (tmp_path / "run" / "accelerate_config.json").is_file()


def test_multinode_job_gives_every_pod_the_same_rendezvous():
    res = ResourcesConfig(nodes=3, procs_per_node=8, rdzv_endpoint="factory-x-0.factory-x:29400")
    cmd = [
        "python",
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "3",
        "--rdzv-endpoint",
        res.rdzv_endpoint,
        "-m",
        "student.train",
    ]
    svc, job = render_job("factory-x", cmd, {"ACCELERATE_MIXED_PRECISION": "bf16"}, res, {"image": "reg/factory:1"})
    assert svc["kind"] == "Service" and svc["spec"]["clusterIP"] == "None"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 3
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "factory-x"
    c = pod["containers"][0]
    assert c["command"] == cmd and c["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert {"name": "ACCELERATE_MIXED_PRECISION", "value": "bf16"} in c["env"]
