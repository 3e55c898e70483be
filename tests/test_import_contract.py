"""The layers import downward only: core ← intake ← stages ← recipe ← pipelines ← UI; the CLI and benchmarks on top.

Read from the source (AST), so the test sees every import, lazy ones inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = {"teacher", "generator", "student"}
TOP = {"recipe", "pipelines", "ui", "benchmarks", "cli"}
# Model libraries: the flows hand work to the stages and never load a model themselves.
MODEL_LIBS = {"torch", "transformers", "sentence_transformers", "peft", "onnxruntime", "accelerate"}
# Layer -> what it may not import.
FORBIDDEN = {
    "factory": {"intake"} | STAGES | TOP,
    "intake": STAGES | TOP,
    "teacher": TOP,
    "generator": TOP,
    "student": TOP,
    "recipe": {"pipelines", "ui", "benchmarks", "cli"},
    "pipelines": {"ui", "benchmarks", "cli"} | MODEL_LIBS,
    "ui": {"benchmarks", "cli"} | MODEL_LIBS,
    "benchmarks": {"ui", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _files(layer: str):
    for p in sorted((REPO / layer).rglob("*.py")):
        yield p.relative_to(REPO).as_posix(), p


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer):
    bad = {rel: sorted(_imports(p) & FORBIDDEN[layer]) for rel, p in _files(layer)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_contract_catches_an_upward_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from pipelines.flows import production\n    import cli.task\n")
    assert _imports(probe) & FORBIDDEN["student"] == {"pipelines", "cli"}


def test_the_contract_catches_torch_in_a_flow_module(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    import torch.nn\n    from transformers import AutoModel\n")
    assert _imports(probe) & FORBIDDEN["pipelines"] == {"torch", "transformers"}


def _private_imports(path: Path) -> list[str]:
    """``module._name`` for every ``from module import _name`` of another module (private names stay home)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{node.module}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module != "__future__"
        for a in node.names
        if a.name.startswith("_") and not a.name.startswith("__")
    ]


@pytest.mark.parametrize("layer", sorted({*FORBIDDEN, "cli"}))
def test_no_module_imports_another_modules_private_names(layer):
    bad = {rel: _private_imports(p) for rel, p in _files(layer)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_contract_catches_a_private_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from teacher.scoring import VerbalizerScorer, _base\nfrom __future__ import annotations\n")
    assert _private_imports(probe) == ["teacher.scoring._base"]
