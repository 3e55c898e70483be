"""``factory bench``: benchmark a stage or the whole factory on a benchmark task."""

from __future__ import annotations

import importlib
import inspect
import statistics
from typing import Optional

import typer

STAGES = ("teacher", "generator", "student", "all")


def _parse_splits(s: str) -> list[int]:
    if "-" in s:
        a, b = s.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in s.split(",")]


def bench(
    task: str = typer.Option(
        ..., "--task", help="eprstmt, tnews, sst2, banking77, or any FewCLUE-style folder name with --data"
    ),
    stage: str = typer.Option("all", "--stage", help="teacher | generator | student | all"),
    splits: str = typer.Option("0", "--splits", help="few-shot split(s): 0, 0-4 or 0,2"),
    data: Optional[str] = typer.Option(
        None, "--data", help="task directory with the same layout (default: ../shared/data/...)"
    ),
    quick: bool = typer.Option(False, "--quick", help="capped pools and test sets: minutes on a laptop CPU"),
    shots: int = typer.Option(
        8, "--shots", help="examples per class for SST-2 (sampled by seed); 5 or 10 for BANKING77"
    ),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="print the benchmark record as JSON"),
    out: str = typer.Option("bench-results", "--out", help="folder where the JSON record is saved"),
    student_budget: Optional[str] = typer.Option(
        None,
        "--student-budget",
        help="--stage student: the kinds to train (fastest | balanced | accurate; default accurate)",
    ),
    workdir: Optional[str] = typer.Option(
        None,
        "--workdir",
        help="keep models here; a rerun of the same task and preset reuses the finished teacher, generation and labels found there; default: a temp folder",
    ),
):
    """Run a benchmark with the FewCLUE protocol (gold=train_k, select on dev_k, report test_public)."""
    from benchmarks.record import make_record, print_record, save_record
    from intake.benchmark_data import load_benchmark_task

    if stage not in STAGES:
        raise typer.BadParameter(f"expected one of {STAGES}, found {stage!r}")
    module = importlib.import_module(f"benchmarks.{'full' if stage == 'all' else stage}")
    records = []
    for k in _parse_splits(splits):
        spec = load_benchmark_task(task, split=k, data=data, shots=shots, seed=seed)
        params = inspect.signature(module.run).parameters
        kwargs = {"workdir": f"{workdir}/split{k}"} if workdir and "workdir" in params else {}
        if student_budget and "budget" in params:
            kwargs["budget"] = student_budget
        out_rows = module.run(spec, quick=quick, seed=seed, **kwargs)
        # A benchmark returns its rows, or a dict of rows plus extra record fields.
        extra = dict(out_rows) if isinstance(out_rows, dict) else {"results": out_rows}
        rows = extra.pop("results")
        rec = make_record(task, k, rows, stage=None if stage == "all" else stage, quick=quick, **extra)
        path = save_record(rec, out)
        records.append(rec)
        print_record(rec, as_json)
        if not as_json:
            typer.echo(f"\nrecord saved to {path}")
    if len(records) > 1:
        by_sys: dict[str, list[float]] = {}
        for rec in records:
            for r in rec["results"]:
                if r.get("accuracy") is not None:
                    by_sys.setdefault(r["system"], []).append(r["accuracy"])
        typer.echo("\nmean ± std over splits " + splits)
        for s, accs in by_sys.items():
            sd = statistics.pstdev(accs) if len(accs) > 1 else 0.0
            typer.echo(f"  {s}: {100 * statistics.mean(accs):.1f} ± {100 * sd:.1f} (n={len(accs)})")
