"""``factory run|up|down|status|demo``: run the production flow and manage the local services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from factory.errors import FactoryError

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="workspace root (default: $FACTORY_HOME or the user data dir)"
)
DEMO_TASK = "eprstmt-demo"


def _ws(root: Optional[str]):
    from factory.workspace import Workspace

    return Workspace(root)


def _config(path: Optional[str], tiny: bool) -> dict:
    from pipelines.config import PipelineConfig

    if path and tiny:
        raise typer.BadParameter("expected --config PRESET|FILE or --tiny, found both; pass only one")
    if path:
        return PipelineConfig.load(path).to_dict()
    return (PipelineConfig.preset("tiny") if tiny else PipelineConfig()).to_dict()


def _run_production(ws, task: str, cfg: dict, resume: bool) -> dict:
    """Run the production flow in this process against the workspace's Prefect server and Label Studio."""
    from pipelines import services

    with services.running(ws):
        services.apply_env(ws)  # before prefect is imported: its settings are read from the environment
        from pipelines.flows import production

        try:
            return production(task_name=task, config=cfg, resume=resume)
        finally:
            # Send the flow's last log batch while the Prefect server is still up.
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)


def _report(out: dict) -> None:
    m = out.get("metrics") or {}
    acc = m.get("accuracy")
    typer.echo(
        f"published {out['version']}" + (f" (test accuracy {100 * acc:.1f}%)" if isinstance(acc, (int, float)) else "")
    )
    q = out.get("questions") or {}
    typer.echo(f"questions queued in Label Studio: {q.get('pushed', 0)} new, {q.get('skipped', 0)} already there")
    typer.echo(f"downloadable artifact: {out['zip']}")
    if (out.get("synthesis") or {}).get("reason"):
        typer.echo(
            f"synthetic samples: {out['synthesis'].get('kept', 0)} kept by the filters, {out['synthesis']['reason']}"
        )
    secs = out.get("stage_seconds") or {}
    if secs:
        # Where the time went, stage by stage (teacher and generator run side by side in the production flow).
        typer.echo(
            "stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(secs.items(), key=lambda kv: -kv[1]))
        )


def run(
    task: str = typer.Argument(..., help="task name in the workspace"),
    config: Optional[str] = typer.Option(
        None,
        "--config",
        help="a preset name (tiny, demo: configs/<name>.yaml) or a .json/.yaml file of PipelineConfig fields",
    ),
    tiny: bool = typer.Option(
        False, "--tiny", help="the tiny preset (1 epoch, small pool): a smoke run in minutes; same as --config tiny"
    ),
    fresh: bool = typer.Option(False, "--fresh", help="start a new run even if the last one did not finish"),
    workspace: Optional[str] = WorkspaceOpt,
    student_budget: Optional[str] = typer.Option(
        None,
        "--student-budget",
        help="student kinds to train: fastest (static), balanced (static + small; default), accurate (+ base)",
    ),
    max_latency_ms: Optional[float] = typer.Option(
        None, "--max-latency-ms", help="publish the most accurate student at or under this batch-1 CPU latency"
    ),
):
    """Run the production flow for TASK (resumes an unfinished run); prints the artifact path."""
    from pipelines.config import PipelineConfig

    ws = _ws(workspace)
    try:
        cfg = _config(config, tiny)
        # isinstance, not "is not None": called as a plain function, an unset option is still its typer.Option default.
        cfg.update(
            {
                k: v
                for k, v in (("budget", student_budget), ("max_latency_ms", max_latency_ms))
                if isinstance(v, (str, int, float))
            }
        )
        cfg = PipelineConfig.from_dict(cfg).to_dict()
        from student.ladder import kinds_for

        kinds_for(cfg["budget"])
        out = _run_production(ws, task, cfg, resume=not fresh)
    except FactoryError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    _report(out)


def up(
    no_ui: bool = typer.Option(False, "--no-ui", help="do not start Streamlit"),
    no_serve: bool = typer.Option(False, "--no-serve", help="do not serve the deployments"),
    config: Optional[str] = typer.Option(
        None, "--config", help="default config of the served flows: a preset name or a .json/.yaml file"
    ),
    sync_interval: float = typer.Option(
        300.0, "--sync-interval", help="seconds between queue syncs (idle ones contact nothing)"
    ),
    workspace: Optional[str] = WorkspaceOpt,
):
    """Start Prefect server, Label Studio, the served deployments and the UI on 127.0.0.1."""
    from pipelines import services
    from pipelines.config import PipelineConfig

    ws = _ws(workspace)
    try:
        cfg = PipelineConfig.load(config).to_dict() if config else None
        services.up(ws, ui=not no_ui, serve=not no_serve, config=cfg, sync_interval=sync_interval)
    except (FactoryError, RuntimeError, TimeoutError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    _print_status(services.status(ws))
    typer.echo(
        f"state file: {ws.services_dir() / 'state.json'}; Label Studio login in {ws.services_dir() / 'labelstudio' / 'credentials.json'} (0600)"
    )


def down(workspace: Optional[str] = WorkspaceOpt):
    """Stop the services `factory up` started."""
    from pipelines import services

    stopped = services.down(_ws(workspace))
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def _print_status(st: dict) -> None:
    if not st:
        typer.echo("no services recorded (run `factory up`)")
    for name, s in st.items():
        typer.echo(
            f"{name:12s} {'running' if s['running'] else 'stopped':8s} {s['url']}  pid {s['pid']}  log {s['log']}"
        )


def status(as_json: bool = typer.Option(False, "--json", help="print JSON"), workspace: Optional[str] = WorkspaceOpt):
    """Show which services run, their URLs and logs."""
    from pipelines import services

    st = services.status(_ws(workspace))
    if as_json:
        typer.echo(json.dumps(st))
    else:
        _print_status(st)


def demo(
    tiny: bool = typer.Option(False, "--tiny", help="tiny budgets: a smoke run in a few minutes"),
    workspace: Optional[str] = WorkspaceOpt,
):
    """Create the bundled sample task (EPRSTMT split 0) and run the production flow end to end."""
    from intake.benchmark_data import load_benchmark_task
    from pipelines.config import PipelineConfig

    ws = _ws(workspace)
    if not ws.has_task(DEMO_TASK):
        from dataclasses import replace

        spec = load_benchmark_task("eprstmt", split=0)
        # A capped pool keeps the demo in minutes; the full 19.5k pool is for `factory run`.
        ws.save_task(replace(spec, name=DEMO_TASK, unlabeled=spec.unlabeled[:1000]))
        typer.echo(f"created task {DEMO_TASK} in {ws.root}")
    cfg = PipelineConfig.preset("tiny" if tiny else "demo").to_dict()
    out = _run_production(ws, DEMO_TASK, cfg, resume=True)
    _report(out)
    typer.echo(f"model folder: {Path(out['version_dir'])}")
