"""The layers import downward only: core ← stages ← recipe ← pipelines ← UI; the CLI and benchmarks sit on top.

Read from the source (AST), so the test sees every import, lazy ones inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = "factory.commands"  # the command line: factory/commands/* and factory/cli.py
TOP = {"teacher", "generator", "student", "recipe", "pipelines", "ui", "benchmarks", CLI}
# Layer -> what it may not import.
FORBIDDEN = {
    "factory": TOP,
    "teacher": {"recipe", "pipelines", "ui", "benchmarks", CLI},
    "generator": {"recipe", "pipelines", "ui", "benchmarks", CLI},
    "student": {"recipe", "pipelines", "ui", "benchmarks", CLI},
    "recipe": {"pipelines", "ui", "benchmarks", CLI},
    "pipelines": {"ui", "benchmarks", CLI},
    "ui": {"benchmarks", CLI},
}


def _layer(module: str) -> str:
    if module.startswith("factory.commands") or module == "factory.cli":
        return CLI
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {_layer(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(_layer(node.module))
            if node.module == "factory" and any(a.name in ("commands", "cli") for a in node.names):
                out.add(CLI)
    return out


def _files(layer: str):
    for p in sorted((REPO / layer).rglob("*.py")):
        rel = p.relative_to(REPO).as_posix()
        if layer == "factory" and (rel.startswith("factory/commands/") or rel == "factory/cli.py"):
            continue
        yield rel, p


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer):
    bad = {rel: sorted(_imports(p) & FORBIDDEN[layer]) for rel, p in _files(layer)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_contract_catches_an_upward_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from pipelines.flows import production\n    import factory.commands.task\n")
    assert _imports(probe) & FORBIDDEN["student"] == {"pipelines", CLI}


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


@pytest.mark.parametrize("layer", sorted({*FORBIDDEN, "benchmarks"}))
def test_no_module_imports_another_modules_private_names(layer):
    bad = {rel: _private_imports(p) for rel, p in _files(layer)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_contract_catches_a_private_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from teacher.scoring import VerbalizerScorer, _base\nfrom __future__ import annotations\n")
    assert _private_imports(probe) == ["teacher.scoring._base"]
