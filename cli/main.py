"""The ``factory`` command line.

Each command lives in its own module of :mod:`cli`; this file only mounts them.
"""

from __future__ import annotations

import typer

from cli import bench, doctor, launch, predict, services, task

app = typer.Typer(
    help="Few-shot model factory: task in, small fast model out.", no_args_is_help=True, add_completion=False
)
app.add_typer(task.app, name="task", help="Create and inspect tasks.")
app.command("doctor")(doctor.doctor)
app.command("bench")(bench.bench)
app.command("launch-plan")(launch.launch_plan)
app.command("predict")(predict.predict)
app.command("serve")(predict.serve)
app.command("run")(services.run)
app.command("up")(services.up)
app.command("down")(services.down)
app.command("status")(services.status)
app.command("demo")(services.demo)


if __name__ == "__main__":
    app()
