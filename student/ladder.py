"""The student ladder: several kinds of student from the same soft labels, one published by a latency budget.

Kinds (each is a set of :class:`student.DistillConfig` overrides, trained by
the one loop in :mod:`student.train`):

- ``static``: token vectors from EmbeddingGemma, averaged, linear head (:mod:`student.static`);
  thousands of texts a second on one core;
- ``small``: the default transformer student (Chinese: 6 layers derived from Gemma-3-270M;
  English: the bundled MiniLM-L6);
- ``base``: 12 of EmbeddingGemma-300M's 24 layers (spread, so the last layer the
  embedding was trained at stays) with the vocabulary pruned: the largest kind, under 110M parameters.

Budgets: ``fastest`` trains ``static``; ``balanced`` trains ``static`` and
``small``; ``accurate`` trains all three. The published student is the one
with the best dev accuracy (ties: the faster) among those whose measured
batch-1 latency fits ``max_latency_ms`` when one is given, unless the dev set
is too small to tell it from ``small`` (see :func:`pick`); if none fits, the
fastest. Latency is measured on dev texts with the trained model on this CPU.
``ladder.json`` records every kind trained, so the Models page can plot
accuracy against speed.
"""

from __future__ import annotations

from pathlib import Path

from factory.atomic import atomic_write_json
from factory.errors import TaskError
from student.artifact import StudentArtifact
from student.config import DistillConfig
from student.data import DistillData

KINDS: dict[str, dict] = {
    "static": {"student": "static"},
    "small": {},
    "base": {"student": "derived", "derive_from": "embeddinggemma-300m", "layers": 12, "layer_selection": "spread"},
}
DEFAULT_KIND = "small"
BUDGETS: dict[str, tuple[str, ...]] = {
    "fastest": ("static",),
    "balanced": ("static", "small"),
    "accurate": ("static", "small", "base"),
}
LADDER_FILE = "ladder.json"
LATENCY_TEXTS = 32


def kinds_for(budget: str) -> tuple[str, ...]:
    """The kinds a budget trains; raise :class:`TaskError` for an unknown budget."""
    if budget not in BUDGETS:
        raise TaskError(
            f"a budget among {sorted(BUDGETS)}",
            repr(budget),
            "use 'balanced' (the default), 'fastest' or 'accurate'",
            where="student budget",
        )
    return BUDGETS[budget]


def measure_latency(art: StudentArtifact, texts: list[str]) -> dict:
    """Median batch-1 latency and batch-32 throughput of the trained model (torch, this CPU) on ``texts``."""
    from student.evaluate import measure_speed
    from student.runtime import load_student

    clf = load_student(art.model_dir, backend="torch")
    clf.predict(texts[:2])  # warm-up
    return measure_speed(clf.predict, texts, latency_n=min(len(texts), 20))


def pick(rows: list[dict], max_latency_ms: float | None, n_dev: int | None = None) -> dict:
    """Best dev accuracy (ties: lower latency) among rows within ``max_latency_ms``; the fastest if none is.

    A small dev set cannot tell kinds apart: unless the best beats the default kind (``DEFAULT_KIND``, the
    best on test so far) by more than two standard errors of a dev accuracy on ``n_dev`` texts, the default
    is kept. On EPRSTMT's 32 dev texts the 12-layer ``base`` led ``small`` by 78.1 to 75.0 % on dev and
    trailed it by 75.5 to 82.7 % on 600 test texts.
    """
    fits = [r for r in rows if max_latency_ms is None or r["latency_ms_per_text"] <= max_latency_ms]
    if not fits:
        return min(rows, key=lambda r: r["latency_ms_per_text"])
    best = max(fits, key=lambda r: (r["dev_accuracy"] or 0.0, -r["latency_ms_per_text"]))
    default = next((r for r in fits if r["kind"] == DEFAULT_KIND), None)
    if default is None or best is default or not n_dev:
        return best
    p = default["dev_accuracy"] or 0.0
    noise = 2 * (max(p * (1 - p), 0.01) / n_dev) ** 0.5
    return best if (best["dev_accuracy"] or 0.0) - p > noise else default


def distill_ladder(
    data: DistillData,
    cfg: DistillConfig,
    out_dir: str | Path,
    *,
    budget: str = "balanced",
    max_latency_ms: float | None = None,
    kinds: dict[str, dict] | None = None,
) -> StudentArtifact:
    """Train the budget's kinds from ``data`` under ``out_dir/<kind>``; return the published one's artifact.

    ``cfg`` holds the settings every kind shares (epochs, temperature, …); a
    ``cfg.student`` other than ``"auto"`` names one student and skips the ladder.
    ``kinds`` (name -> DistillConfig overrides) trains those instead of the budget's.
    """
    from student.distill import distill

    out = Path(out_dir)
    if kinds:
        plan = dict(kinds)
    elif cfg.student != "auto":
        plan = {"custom": {}}
    else:
        plan = {k: KINDS[k] for k in kinds_for(budget)}
    texts = [t for t, _ in data.dev][:LATENCY_TEXTS] or [t for t, _ in data.gold][:LATENCY_TEXTS]
    rows, arts = [], {}
    for kind, overrides in plan.items():
        art = distill(data, cfg.replace(**overrides), out_dir=out / kind)
        speed = measure_latency(art, texts)
        arts[kind] = art
        rows.append(
            {
                "kind": kind,
                "student": art.kind,
                "base": art.base,
                "params": art.params,
                "dev_accuracy": art.dev_metrics.get("accuracy"),
                "latency_ms_per_text": speed.get("latency_ms_per_text"),
                "texts_per_second": speed.get("texts_per_second"),
                "dir": kind,
            }
        )
    chosen = pick(rows, max_latency_ms, n_dev=len(data.dev))
    fits = max_latency_ms is None or chosen["latency_ms_per_text"] <= max_latency_ms
    atomic_write_json(
        out / LADDER_FILE,
        {
            "budget": budget,
            "max_latency_ms": max_latency_ms,
            "published": chosen["kind"],
            "fits_budget": fits,
            "kinds": rows,
        },
    )
    return arts[chosen["kind"]]


def read_ladder(out_dir: str | Path) -> dict | None:
    """The ``ladder.json`` of a distill step's folder (or of the folder above a kind's run), if any."""
    for d in (Path(out_dir), Path(out_dir).parent):
        if (d / LADDER_FILE).is_file():
            import json

            return json.loads((d / LADDER_FILE).read_text(encoding="utf-8"))
    return None
