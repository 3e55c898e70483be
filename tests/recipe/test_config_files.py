"""The config files in configs/: every one parses and validates, says what it is for and how to run it; the recipe
presets are what the old RecipeConfig.tiny()/demo() built; RecipeConfig refuses bad input naming the field."""

from __future__ import annotations

import pytest

from benchmarks.full import BenchPreset, bench_preset
from benchmarks.tasks import TASKS_DIR, TaskSettings
from factory.config import CONFIGS_DIR, read_config_file
from factory.errors import TaskError
from recipe.config import RecipeConfig, check_stages, presets

RECIPE_FILES = sorted(p for p in CONFIGS_DIR.glob("*.yaml") if not p.stem.startswith("bench-"))
BENCH_FILES = sorted(CONFIGS_DIR.glob("bench-*.yaml"))
TASK_FILES = sorted(TASKS_DIR.glob("*.yaml"))


def test_the_expected_files_are_there():
    assert {p.stem for p in RECIPE_FILES} >= {"tiny", "demo"} and presets() == [p.stem for p in RECIPE_FILES]
    assert [p.stem for p in BENCH_FILES] == ["bench-full", "bench-quick"]
    assert {p.stem for p in TASK_FILES} == {"eprstmt", "tnews", "sst2", "banking77"}


@pytest.mark.parametrize("path", RECIPE_FILES + BENCH_FILES + TASK_FILES, ids=lambda p: p.name)
def test_each_file_starts_with_a_header_saying_what_it_is_for_and_the_command_that_runs_it(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header and header[0].startswith(f"# {path.stem}: "), "the first line names the file and its purpose"
    commands = [h for h in header if h.lstrip("# ").startswith(("factory ", "make "))]
    assert commands, f"{path.name}: the header shows the command that runs it"
    assert all(len(line) <= 120 for line in lines)


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: p.name)
def test_each_recipe_preset_validates_down_to_its_stage_configs(path):
    cfg = RecipeConfig.preset(path.stem)
    check_stages(cfg)
    assert RecipeConfig.load(path) == cfg == RecipeConfig.load(path.stem)


@pytest.mark.parametrize("path", BENCH_FILES, ids=lambda p: p.name)
def test_each_bench_preset_has_its_structure_and_a_valid_recipe(path):
    p = BenchPreset.load(path)
    check_stages(RecipeConfig.from_dict(p.recipe))
    assert p.pool_ladder and all(n > 0 for n in p.pool_ladder)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.name)
def test_each_task_file_validates(path):
    s = TaskSettings.from_dict(read_config_file(path))
    assert s.text_name and (s.template is None or "{text}" in s.template)


def test_tiny_and_demo_are_what_the_classmethods_built():
    tiny = RecipeConfig(
        teacher={
            "llm": {"model": "gemma-3-270m", "mode": "zero-shot", "progress": False},
            "embedding": {"body": "frozen", "progress": False},
        },
        generator={"model": "gemma-3-270m", "per_label": 2, "max_new_tokens": 32},
        student={"epochs": 1, "layers": 2, "patience": 1},
        questions=6,
        pool_cap=40,
        dev_cap=16,
        test_cap=40,
    )
    demo = RecipeConfig(
        teacher={"embedding": {"body": "frozen"}},
        generator={"per_label": 8},
        student={"epochs": 4},
        questions=20,
        pool_cap=1000,
        test_cap=None,
    )
    assert RecipeConfig.preset("tiny") == tiny and RecipeConfig.preset("demo") == demo
    assert RecipeConfig.preset("demo").to_dict()["budget"] == "balanced"  # the rest keeps the class defaults


def test_bench_presets_keep_their_numbers():
    quick, full = bench_preset(quick=True), bench_preset(quick=False)
    assert quick.recipe == {
        "score_teacher": False,
        "pool_cap": 2000,
        "dev_cap": 300,
        "test_cap": 600,
        "questions": 20,
        "generator": {"total": 80},
    }
    assert (quick.setfit_iterations, quick.setfit_max_steps, quick.pool_ladder) == (20, 40, [400])
    assert full.recipe == {
        "score_teacher": False,
        "pool_cap": 8000,
        "dev_cap": None,
        "test_cap": None,
        "questions": 20,
        "generator": {"per_label": 32},
    }
    assert (full.setfit_iterations, full.setfit_max_steps, full.pool_ladder) == (20, None, [400, 2000])


def test_an_unknown_preset_lists_the_presets():
    with pytest.raises(TaskError) as e:
        RecipeConfig.preset("nope")
    assert "'nope'" in str(e.value) and "'demo'" in str(e.value) and "'tiny'" in str(e.value)
    assert "bench-quick" not in str(e.value)  # the benchmark budgets are not recipe presets
    with pytest.raises(TaskError, match="'tiny'"):
        RecipeConfig.load("nope")


def test_unknown_key_bad_value_and_bad_assignment_name_the_field():
    with pytest.raises(TaskError, match=r"unknown \['pool_size'\]"):
        RecipeConfig.from_dict({"pool_size": 10})
    with pytest.raises(TaskError, match="RecipeConfig.pool_cap: expected a value greater than or equal to 1"):
        RecipeConfig(pool_cap=0)
    with pytest.raises(TaskError, match="RecipeConfig.synthetic_use: expected 'dev' or 'always'"):
        RecipeConfig(synthetic_use="sometimes")
    cfg = RecipeConfig.preset("tiny")
    with pytest.raises(TaskError, match="RecipeConfig.max_latency_ms: expected a value greater than 0; found -1"):
        cfg.max_latency_ms = -1
    with pytest.raises(TaskError, match="RecipeConfig.generator: expected a valid dictionary"):
        cfg.generator = "fast"
    assert cfg == RecipeConfig.preset("tiny")  # a refused assignment changes nothing
    assert cfg.replace(questions=3).questions == 3 and cfg.questions == 6
