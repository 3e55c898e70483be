"""AppTest helpers for the Streamlit UI: the real app script against a temp workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


@pytest.fixture
def app(workspace):
    """The app's AppTest after a first run (Tasks page), with ``$FACTORY_HOME`` at a fresh workspace."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(at, name: str):
    """Switch ``at`` to ``ui/views/<name>.py`` and run it; fail on any exception the page raised."""
    at.switch_page(f"views/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """A real Label Studio server (the pipelines launcher), shared by the session's UI tests.

    The UI finds it through ``$FACTORY_LS_URL``/``$FACTORY_LS_TOKEN``, which
    ``pipelines.labelstudio.connection`` honours for servers started elsewhere;
    when both are already set (a running ``factory up``), that server is used.
    """
    import os

    if os.environ.get("FACTORY_LS_URL") and os.environ.get("FACTORY_LS_TOKEN"):
        yield {"url": os.environ["FACTORY_LS_URL"], "token": os.environ["FACTORY_LS_TOKEN"]}
        return
    from factory.workspace import Workspace
    from pipelines import lsserver

    ws = Workspace(tmp_path_factory.mktemp("ls-services"))
    rec = lsserver.start(ws, port=18180)  # off the default port other sessions' servers use
    token = lsserver.token_path(ws).read_text(encoding="utf-8").strip()
    yield {"url": rec.url, "token": token}
    lsserver.stop(ws)


@pytest.fixture
def ls_env(label_studio, monkeypatch):
    monkeypatch.setenv("FACTORY_LS_URL", label_studio["url"])
    monkeypatch.setenv("FACTORY_LS_TOKEN", label_studio["token"])
    return label_studio


@pytest.fixture(scope="session")
def prefect_services(tmp_path_factory):
    """A real Prefect server and the factory's served deployments (the pipelines launcher).

    They run in their own workspace, so a run started from a test's workspace
    fails at intake (the task is unknown there): a quick, real failure to watch.
    """
    from factory.workspace import Workspace
    from pipelines import services

    ws = Workspace(tmp_path_factory.mktemp("prefect-services"))
    try:
        rec = services.start_prefect(ws, port=14300)  # off the default port other sessions' servers use
        services.start_deployments(ws, sync_interval=3600)
        yield {"api": f"{rec.url}/api", "ui": rec.url, "workspace": ws}
    finally:
        services.down(ws, (services.SERVE, services.PREFECT))


@pytest.fixture
def prefect_env(prefect_services, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_services["api"])
    return prefect_services


def build_student_export(out, name: str = "reviews"):
    """A real exported student (the student package end to end) on a slice of SST-2.

    The student is a 2-layer, 32-wide BERT with random initial weights and
    MiniLM's tokenizer, so distill + evaluate + ONNX export take seconds; the
    files are exactly what the production flow publishes.
    """
    from dataclasses import replace

    from transformers import AutoTokenizer, BertConfig, BertModel

    from sentence_transformers import SentenceTransformer, models

    from intake.benchmark_data import load_benchmark_task
    from factory.models import resolve_model
    from student import DistillConfig, DistillData, evaluate, export_artifact
    from student.ladder import distill_ladder, read_ladder

    tok = AutoTokenizer.from_pretrained(resolve_model("all-minilm-l6-v2").source)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(out / "tiny-bert")
    tok.save_pretrained(out / "tiny-bert")
    spec = load_benchmark_task("sst2", split=0)
    spec = replace(spec, name=name, dev=spec.dev[:16], test=spec.test[:40], unlabeled=spec.unlabeled[:20])
    # Two kinds, as a run's ladder trains them: a static student made from a tiny sentence encoder, and the tiny BERT.
    body = models.Transformer(str(out / "tiny-bert"), max_seq_length=32)
    SentenceTransformer(modules=[body, models.Pooling(body.get_embedding_dimension(), "mean")], device="cpu").save(
        str(out / "tiny-st")
    )
    kinds = {
        "static": {"student": "static", "static_from": str(out / "tiny-st"), "static_dims": 8},
        "small": {"student": str(out / "tiny-bert")},
    }
    cfg = DistillConfig(epochs=2, max_length=32, patience=1)
    art = distill_ladder(DistillData.from_spec(spec), cfg, out / "run", kinds=kinds)
    metrics = evaluate(art, spec.test, out / "eval")
    metrics["ladder"] = read_ladder(art.run_dir)
    teacher = {"model": "gemma-3-270m", "mode": "finetune", "dev": {"n": 16, "accuracy": 0.8125, "ece": 0.07}}
    export_artifact(art, spec, out / "export", metrics=metrics, teacher_info=teacher)
    return spec, out / "export"


@pytest.fixture(scope="session")
def student_export(tmp_path_factory):
    """(spec, export dir) of a real exported student, built once per session."""
    return build_student_export(tmp_path_factory.mktemp("student-export"))
