"""Flow bodies call tasks only; the bookkeeping those tasks do (queue, run ledger, buffer) is library code."""

from __future__ import annotations

import ast
import inspect
import textwrap

from prefect import Task

from pipelines import flows, queue, runs
from pipelines import tasks as t

FLOW_FUNCTIONS = (flows.production.fn, flows.iteration.fn, flows.sync_queues.fn, flows._train_and_publish)
# Pure helpers a body may call besides tasks: path arithmetic, counts, the config's normal form, the run logger.
PURE = {"Path", "str", "len", "list", "_config", "_train_and_publish", "get_run_logger"}
# Methods on a local value: a future's result, a task result's dict.get, the run logger's info.
LOCAL_METHODS = {"result", "get", "info"}


def _is_task(name: str) -> bool:
    return isinstance(getattr(t, name, None), Task)


def _refused_calls(source: str) -> list[str]:
    """Every call in the function's body that is not a task of pipelines.tasks, Prefect or a pure helper."""
    fn = ast.parse(textwrap.dedent(source)).body[0]
    bad = []
    for node in ast.walk(ast.Module(body=fn.body, type_ignores=[])):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            ok = f.id in PURE
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "t":
            ok = _is_task(f.attr)
        elif isinstance(f, ast.Attribute) and f.attr == "submit" and isinstance(f.value, ast.Attribute):
            ok = isinstance(f.value.value, ast.Name) and f.value.value.id == "t" and _is_task(f.value.attr)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            # A method of a local value, never of a module the flows import (queue.read_answers, runs.finish_run).
            ok = f.attr in LOCAL_METHODS and not inspect.ismodule(getattr(flows, f.value.id, None))
        else:
            ok = False
        if not ok:
            bad.append(ast.unparse(f))
    return bad


def test_flow_bodies_call_only_tasks():
    bad = {fn.__name__: _refused_calls(inspect.getsource(fn)) for fn in FLOW_FUNCTIONS}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_check_refuses_file_io_in_a_flow_body():
    probe = """
    def body(task_name, rdir, version):
        ws = Workspace()
        asked = [r["text"] for r in queue.read_pushed(ws, task_name)]
        answers = read_jsonl(rdir / "answers.jsonl")
        zips = sorted(Path(version).glob("*.zip"))
        t.not_a_task(task_name)
        runs.finish_run(rdir, version=version)
        teacher_f = t.adapt_teacher.submit(asked, answers, zips)
        return t.pull_answers(task_name), teacher_f.result()
    """
    assert sorted(_refused_calls(probe)) == [
        "Path(version).glob",
        "Workspace",
        "queue.read_pushed",
        "read_jsonl",
        "runs.finish_run",
        "sorted",
        "t.not_a_task",
    ]


def test_asked_texts_are_pushed_and_answered_texts_once_each_sorted(workspace):
    assert queue.asked_texts(workspace, "t") == []
    queue.record_pushed(workspace, "t", [{"factory_id": f"q{i}", "text": x} for i, x in enumerate(["b", "a", "c"])])
    queue.write_answers(
        workspace,
        "t",
        [
            {"factory_id": "q1", "text": "a", "label": "x", "annotated_at": "2026"},
            {"factory_id": "q9", "text": "d", "label": "x", "annotated_at": "2026"},
        ],
    )
    assert queue.asked_texts(workspace, "t") == ["a", "b", "c", "d"]
    assert t.asked_texts.fn("t") == ["a", "b", "c", "d"]  # the task reads the FACTORY_HOME workspace


def test_answers_frozen_at_a_runs_start_stay_frozen(tmp_path):
    first = [{"factory_id": "q1", "text": "a", "label": "x"}]
    assert runs.frozen_answers(tmp_path) is None
    assert runs.freeze_answers(tmp_path, first) == first
    later = first + [{"factory_id": "q2", "text": "b", "label": "y"}]
    # A resumed run pulls nothing new: whatever arrived since is the next iteration's.
    assert runs.freeze_answers(tmp_path, later) == first
    assert runs.frozen_answers(str(tmp_path)) == first
    assert t.frozen_answers.fn(str(tmp_path)) == first


def test_last_finished_is_the_newest_done_run_of_its_kind(workspace):
    assert runs.last_finished(workspace, "t", "production") is None
    one = runs.open_run(workspace, "t", "production", {"a": 1})
    assert runs.last_finished(workspace, "t", "production") is None  # running, not done
    runs.finish_run(one, version="v1")
    two = runs.open_run(workspace, "t", "production", {"a": 1})
    assert two != one
    assert runs.last_finished(workspace, "t", "production") == str(one)
    runs.finish_run(str(two), version="v2")
    assert runs.last_finished(workspace, "t", "production") == str(two)
    assert runs.last_finished(workspace, "t", "iteration") is None
    assert t.last_finished_run.fn("t", "production") == str(two)
    assert runs.read_ledger(two)["status"] == "done" and runs.read_ledger(two)["version"] == "v2"


def test_finish_run_task_marks_the_ledger_done_with_its_info(workspace):
    rdir = runs.open_run(workspace, "t", "iteration", {"a": 1})
    t.finish_run.fn(str(rdir), {"version": "v3", "zip": None, "human_answers": 4})
    ledger = runs.read_ledger(rdir)
    assert (ledger["status"], ledger["version"], ledger["human_answers"]) == ("done", "v3", 4)


def test_published_version_names_the_folder_and_its_first_zip(tmp_path):
    v = tmp_path / "v3"
    v.mkdir()
    assert runs.published_version(v) == {"version": "v3", "version_dir": str(v), "zip": None}
    (v / "b.zip").write_bytes(b"")
    (v / "a.zip").write_bytes(b"")
    assert runs.published_version(str(v))["zip"] == str(v / "a.zip")


def test_buffer_chunks_lists_complete_chunks_in_write_order(workspace):
    assert t.buffer_chunks.fn("t") == []
    buf = workspace.buffer_dir("t")
    buf.mkdir(parents=True)
    for name in ("chunk-2-1.jsonl", "chunk-1-1.jsonl", "chunk-1-1.report.json", "generator.json"):
        (buf / name).write_text("", encoding="utf-8")
    assert t.buffer_chunks.fn("t") == [str(buf / "chunk-1-1.jsonl"), str(buf / "chunk-2-1.jsonl")]


def test_mark_consumed_task_records_the_trained_answers(workspace):
    rows = [{"factory_id": "q1", "label": "x"}, {"factory_id": "q2", "label": "y"}]
    t.mark_consumed.fn("t", rows)
    state = queue.read_state(workspace, "t")
    assert state["consumed"] == 2 and state["consumed_keys"] == [["q1", "x"], ["q2", "y"]]
