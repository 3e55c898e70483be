"""The flows and ``factory bench`` run one recipe: the same step functions, the same seeded caps."""

from __future__ import annotations

import inspect

from factory.spec import Example
from pipelines import flows
from pipelines import tasks as pipeline_tasks
from recipe import run as recipe_run
from recipe import seeded_cap, steps

# Steps that run in both; the flows add only the service steps (Label Studio push, publish).
SHARED = (
    "intake",
    "adapt_teacher",
    "generate_samples",
    "label_texts",
    "filter_synthetic",
    "decide_synthesis",
    "pick_questions",
    "distill_student",
    "evaluate_student",
    "score_teacher",
    "export_student",
)


def _steps_called(fn) -> set[str]:
    return {name for name in fn.__code__.co_names if hasattr(steps, name) and inspect.isfunction(getattr(steps, name))}


def test_every_pipeline_task_calls_the_recipe_step_of_its_name():
    for name in SHARED:
        task_fn = getattr(pipeline_tasks, name).fn
        assert name in _steps_called(task_fn), f"pipelines.tasks.{name} does not call recipe.steps.{name}"


def test_bench_recipe_and_production_flow_run_the_same_steps():
    assert set(SHARED) <= _steps_called(recipe_run.run_recipe)
    flow_code = {n for fn in (flows.production.fn, flows._train_and_publish) for n in fn.__code__.co_names}
    assert set(SHARED) <= flow_code, "the production flow skips a recipe step"


def test_bench_uses_the_recipe_not_its_own_composition():
    from benchmarks import full

    assert "run_recipe" in full.run.__code__.co_names
    src = inspect.getsource(full)
    for private in ("adapt(", "generate(", "distill(DistillData"):
        assert private not in src, f"benchmarks/full.py composes a stage itself ({private})"


def test_seeded_cap_is_a_seeded_sample_in_file_order_not_a_head():
    rows = [Example(f"t{i}", "a" if i < 50 else "b") for i in range(100)]  # sorted by label, as BANKING77's files
    got = seeded_cap(rows, 20, seed=0)
    assert len(got) == 20 and {e.label for e in got} == {"a", "b"}
    assert [int(e.text[1:]) for e in got] == sorted(int(e.text[1:]) for e in got)
    assert seeded_cap(rows, 20, seed=0) == got and seeded_cap(rows, 20, seed=1) != got
    assert seeded_cap(rows, None, seed=0) == rows


def test_teacher_info_names_every_member_and_its_weight_for_the_card(tmp_path):
    from factory.atomic import atomic_write_json

    atomic_write_json(
        tmp_path / "committee.json",
        {
            "kind": "committee",
            "members": ["embedding", "llm"],
            "weights": {"embedding": 0.6, "llm": 0.4},
            "combine": "loglinear",
            "metrics": {
                "members": {
                    "embedding": {"model": "embeddinggemma-300m"},
                    "llm": {"model": "qwen2.5-coder-0.5b-instruct"},
                },
                "dev": {"n": 32, "accuracy": 0.8125},
            },
        },
    )
    info = steps.teacher_info(str(tmp_path))
    assert info["model"] == "embeddinggemma-300m (0.6) + qwen2.5-coder-0.5b-instruct (0.4)"
    assert info["mode"] == "committee, loglinear pooling" and info["dev"]["accuracy"] == 0.8125
    assert steps.teacher_info(None) == {}
    from student.card import _teacher_line

    assert (
        _teacher_line(info)
        == "embeddinggemma-300m (0.6) + qwen2.5-coder-0.5b-instruct (0.4) (committee, loglinear pooling); dev accuracy 81.2 % on 32 texts"
    )


def test_resume_reuses_finished_slow_steps_only_for_the_same_task_and_config(tmp_path, monkeypatch, eprstmt_spec):
    """Step bodies are replaced by recorders here: the test is about which steps run_recipe calls, not what they do."""
    from pathlib import Path

    from factory.atomic import atomic_write_json
    from recipe import RecipeConfig

    calls: list[str] = []

    def slow(name, out_index, result=None):
        def fn(*args):
            calls.append(name)
            out = Path(args[out_index])
            atomic_write_json(out / steps.STEP_FILE, {"step": name})
            (out / "pool.jsonl").touch()
            return result or str(out)

        return fn

    def cheap(name, result):
        def fn(*args):
            calls.append(name)
            return result

        return fn

    snapshot = {"text": "the capped task"}

    def intake(spec, work, **kw):
        (Path(work) / "spec.json").write_text(snapshot["text"], encoding="utf-8")
        return str(Path(work) / "spec.json")

    monkeypatch.setattr(recipe_run.steps, "intake", intake)
    monkeypatch.setattr(recipe_run.steps, "adapt_teacher", slow("adapt_teacher", 2))
    monkeypatch.setattr(recipe_run.steps, "generate_samples", slow("generate_samples", 2))
    monkeypatch.setattr(
        recipe_run.steps, "label_texts", slow("label_texts", 3, {"pool": "p", "synthetic": "s", "model_version": "m"})
    )
    for name in ("filter_synthetic", "pick_questions", "distill_student", "export_student"):
        monkeypatch.setattr(recipe_run.steps, name, cheap(name, str(tmp_path / name)))
    monkeypatch.setattr(recipe_run.steps, "evaluate_student", cheap("evaluate_student", {"accuracy": 1.0}))
    monkeypatch.setattr(
        recipe_run.steps, "decide_synthesis", cheap("decide_synthesis", {"use": False, "path": None, "reason": ""})
    )
    monkeypatch.setattr(recipe_run.steps, "score_teacher", cheap("score_teacher", {"accuracy": 1.0}))
    monkeypatch.setattr(recipe_run.steps, "report", lambda d: {})
    slow_steps = {"adapt_teacher", "generate_samples", "label_texts"}
    cfg = RecipeConfig.preset("tiny")

    recipe_run.run_recipe(eprstmt_spec, cfg, tmp_path, resume=True)
    assert slow_steps <= set(calls)
    calls.clear()
    recipe_run.run_recipe(eprstmt_spec, cfg, tmp_path, resume=True)
    assert not slow_steps & set(calls) and "distill_student" in calls
    calls.clear()
    snapshot["text"] = "capped differently"  # e.g. the sampling code changed: the old teacher no longer applies
    recipe_run.run_recipe(eprstmt_spec, cfg, tmp_path, resume=True)
    assert slow_steps <= set(calls)
    calls.clear()
    recipe_run.run_recipe(eprstmt_spec, RecipeConfig.from_dict({**cfg.to_dict(), "seed": 1}), tmp_path, resume=True)
    assert slow_steps <= set(calls)
    calls.clear()
    recipe_run.run_recipe(eprstmt_spec, RecipeConfig.from_dict({**cfg.to_dict(), "seed": 1}), tmp_path)
    assert slow_steps <= set(calls)  # without resume every step runs
