"""Launch planning: batch split, memory estimate, commands, accelerate config, the dry-run CLI."""

from __future__ import annotations

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from factory.errors import TaskError
from pipelines.launch_plan import (
    ResourcesConfig,
    accelerate_config,
    launch_command,
    launch_env,
    plan_launch,
    write_launch_files,
)
from pipelines.launch_memory import GIB, estimate_memory, model_shape

GEMMA = {
    "model_type": "gemma3_text",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "vocab_size": 1000,
    "tie_word_embeddings": True,
    "layer_types": ["sliding_attention", "full_attention"],
}
BERT = {
    "model_type": "bert",
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 500,
    "max_position_embeddings": 128,
    "type_vocab_size": 2,
    "architectures": ["BertForSequenceClassification"],
}


@pytest.mark.parametrize("cfg,cls", [(GEMMA, "AutoModelForCausalLM"), (BERT, "AutoModelForSequenceClassification")])
def test_parameter_count_matches_the_built_model(cfg, cls):
    import transformers

    conf = transformers.AutoConfig.for_model(
        **{k: v for k, v in cfg.items() if k != "architectures"}, architectures=cfg.get("architectures")
    )
    with torch.device("meta"):
        model = getattr(transformers, cls).from_config(conf)
    assert model_shape(conf.to_dict()).params == sum(p.numel() for p in model.parameters())


def test_states_take_sixteen_bytes_a_parameter_and_fsdp_divides_them():
    shape = model_shape(GEMMA)
    one = estimate_memory(shape, micro_batch=1, seq_len=8)
    assert (one.params_gib + one.grads_gib + one.optimizer_gib) * GIB == pytest.approx(16 * shape.params)
    eight = estimate_memory(shape, micro_batch=1, seq_len=8, world_size=8, sharded=True)
    assert eight.optimizer_gib == pytest.approx(one.optimizer_gib / 8)
    ckpt = estimate_memory(shape, micro_batch=64, seq_len=512, activation_checkpointing=True)
    assert ckpt.activations_gib < estimate_memory(shape, micro_batch=64, seq_len=512).activations_gib


def test_plan_splits_global_batch_into_device_batch_and_accumulation():
    res = ResourcesConfig(nodes=2, procs_per_node=4, rdzv_endpoint="node0:29400", per_device_batch=4)
    plan = plan_launch(GEMMA, res, global_batch=64, seq_len=128)
    assert (plan.world_size, plan.per_device_batch, plan.grad_accum) == (8, 4, 2)
    assert launch_env(plan)["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"] == "2"


def test_plan_picks_smaller_device_batch_when_memory_is_short():
    roomy = plan_launch(GEMMA, ResourcesConfig(gpu_memory_gib=80), 256, 512)
    tight = plan_launch(GEMMA, ResourcesConfig(gpu_memory_gib=0.5), 256, 512)
    assert roomy.per_device_batch > tight.per_device_batch
    assert tight.per_device_batch * tight.grad_accum == 256
    assert tight.memory.total_gib <= 0.5 * 0.9


def test_plan_rejects_batch_not_divisible_by_world_and_multinode_without_endpoint():
    with pytest.raises(TaskError, match="divisible by the world size 3"):
        plan_launch(GEMMA, ResourcesConfig(procs_per_node=3), 16, 32)
    with pytest.raises(TaskError, match="rdzv_endpoint"):
        ResourcesConfig(nodes=2)
    with pytest.raises(TaskError, match="strategy"):
        ResourcesConfig(strategy="zero7")


def test_resources_name_the_field_of_an_unknown_key_a_bad_value_or_a_bad_assignment():
    with pytest.raises(TaskError, match=r"unknown \['gpus'\]"):
        ResourcesConfig.from_dict({"gpus": 8})
    with pytest.raises(TaskError, match="ResourcesConfig.per_device_batch: expected a value greater than or equal"):
        ResourcesConfig(per_device_batch=0)
    res = ResourcesConfig(procs_per_node=2)
    with pytest.raises(TaskError, match="ResourcesConfig.mixed_precision: expected mixed_precision in"):
        res.mixed_precision = "fp8"
    with pytest.raises(TaskError, match="ResourcesConfig.rdzv_endpoint"):
        res.nodes = 2  # more than one node needs the rendezvous
    assert (res.nodes, res.mixed_precision, res.world_size) == (1, "bf16", 2)


def test_torchrun_command_uses_c10d_rendezvous_across_nodes():
    plan = plan_launch(GEMMA, ResourcesConfig(nodes=2, procs_per_node=8, rdzv_endpoint="n0:29400"), 16, 32)
    cmd = launch_command(plan, "student.train", "job.json")
    assert cmd[:5] == ["torchrun", "--nnodes", "2", "--nproc-per-node", "8"]
    assert cmd[cmd.index("--rdzv-endpoint") + 1] == "n0:29400" and "--standalone" not in cmd
    assert cmd[-4:] == ["-m", "student.train", "--config", "job.json"]
    local = launch_command(plan_launch(GEMMA, ResourcesConfig(procs_per_node=2), 4, 8), "m", "c", python="/py")
    assert local[:3] == ["/py", "-m", "torch.distributed.run"] and "--standalone" in local


def test_fsdp_plan_writes_accelerate_config_and_env(tmp_path):
    res = ResourcesConfig(procs_per_node=8, strategy="fsdp", activation_checkpointing=True, launcher="accelerate")
    plan = plan_launch(GEMMA, res, 64, 256)
    files = write_launch_files(plan, tmp_path)
    cfg = json.loads(files["accelerate_config"].read_text())
    assert cfg["distributed_type"] == "FSDP" and cfg["fsdp_config"]["fsdp_activation_checkpointing"] is True
    assert cfg == accelerate_config(plan)
    env = launch_env(plan)
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_ACTIVATION_CHECKPOINTING"] == "true"
    cmd = launch_command(plan, "teacher.train", "t.json", accelerate_config_path=files["accelerate_config"])
    assert cmd[:4] == ["accelerate", "launch", "--config_file", str(files["accelerate_config"])]
    assert json.loads(files["plan"].read_text())["memory"]["total_gib"] == pytest.approx(
        plan.memory.total_gib, abs=1e-3
    )


def test_launch_plan_cli_prints_json_plan(tmp_path):
    from cli.launch import launch_plan

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(GEMMA))
    app = typer.Typer()
    app.command()(launch_plan)
    out = CliRunner().invoke(
        app, ["--model", str(cfg), "--global-batch", "32", "--procs-per-node", "4", "--strategy", "fsdp", "--json"]
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["world_size"] == 4 and d["env"]["ACCELERATE_USE_FSDP"] == "true" and d["command"][0] == "torchrun"
    bad = CliRunner().invoke(app, ["--model", str(cfg), "--global-batch", "30", "--procs-per-node", "4"])
    assert bad.exit_code == 2 and "divisible" in bad.output
