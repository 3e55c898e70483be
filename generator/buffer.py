"""The sample buffer: generation runs ahead of the other stages and leaves files behind.

``fill_buffer`` (run in its own process or Prefect flow) generates rounds of
samples for a workspace task and writes each round's survivors as one JSONL
chunk, atomically (temp file + rename), into ``Workspace.buffer_dir(task)``.
Readers (``read_buffer``) only ever see complete chunks, so they can consume the
buffer while it is being filled. Every new round is deduplicated against what
the buffer already holds.

Layout::

    buffer/generator.json                 the config of the last filler
    buffer/chunk-<ns>-<pid>.jsonl         samples: {"text", "label", "probs"}
    buffer/chunk-<ns>-<pid>.report.json   that round's report
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from factory.atomic import atomic_write_json, atomic_write_jsonl, read_jsonl
from factory.errors import TaskError
from factory.workspace import Workspace
from generator.config import GeneratorConfig
from generator.generate import Sample, generate_with, load_generator

CHUNK_GLOB = "chunk-*.jsonl"


def chunk_paths(workspace: Workspace, task_name: str) -> list[Path]:
    """Complete chunks in write order (names start with a nanosecond timestamp)."""
    d = workspace.buffer_dir(task_name)
    return sorted(d.glob(CHUNK_GLOB)) if d.is_dir() else []


def read_buffer(workspace: Workspace, task_name: str) -> list[Sample]:
    """Every sample in the task's buffer, oldest first; an empty list when there is none."""
    out: list[Sample] = []
    for p in chunk_paths(workspace, task_name):
        out.extend(Sample.from_dict(r) for r in read_jsonl(p))
    return out


def _load_teacher(teacher_dir: str | os.PathLike | None):
    if teacher_dir is None:
        return None
    from teacher import load_labeler

    return load_labeler(teacher_dir)


def fill_buffer(
    workspace: Workspace,
    task_name: str,
    cfg: GeneratorConfig | None = None,
    teacher_dir: str | os.PathLike | None = None,
    target: int = 100,
    max_rounds: int = 20,
    progress: bool = True,
) -> dict:
    """Generate rounds (each of ``cfg``'s budget) until the buffer holds ``target`` samples.

    Round ``r`` samples with seed ``cfg.seed + r`` (rounds already in the buffer
    count), so a restarted filler continues instead of repeating itself. Stops
    after ``max_rounds`` rounds even when the filters keep rejecting everything.
    Returns ``{"samples": buffer size, "rounds": rounds run, "chunks": [paths]}``.
    """
    cfg = cfg or GeneratorConfig()
    if target < 1 or max_rounds < 1:
        raise TaskError(
            "target >= 1 and max_rounds >= 1",
            f"target={target}, max_rounds={max_rounds}",
            "ask for at least one sample and one round",
            where="fill_buffer",
        )
    spec = workspace.load_task(task_name)
    cfg.check_budget(spec)
    buf = workspace.buffer_dir(task_name)
    buf.mkdir(parents=True, exist_ok=True)
    cfg.save(buf / "generator.json")
    have = read_buffer(workspace, task_name)
    if len(have) >= target:
        return {"samples": len(have), "rounds": 0, "chunks": []}
    teacher = _load_teacher(teacher_dir)
    model, tokenizer = load_generator(spec, cfg)
    start_round = len(chunk_paths(workspace, task_name))
    written: list[str] = []
    rounds = 0
    while len(have) < target and rounds < max_rounds:
        seed = cfg.seed + start_round + rounds
        res = generate_with(
            spec, cfg, model, tokenizer, teacher=teacher, existing=[s.text for s in have], seed=seed, progress=progress
        )
        rounds += 1
        fresh = res.samples[: target - len(have)]
        if not fresh:
            continue
        stem = f"chunk-{time.time_ns():020d}-{os.getpid()}"
        report = {k: v for k, v in res.report.items() if k != "rejected"}
        atomic_write_json(buf / f"{stem}.report.json", report)
        # The JSONL goes last: once it exists, readers may consume the chunk.
        atomic_write_jsonl(buf / f"{stem}.jsonl", [s.to_dict() for s in fresh])
        written.append(str(buf / f"{stem}.jsonl"))
        have.extend(fresh)
    return {"samples": len(have), "rounds": rounds, "chunks": written}
