"""Real browser: headless Chromium against the UI that `factory up` serves; screenshot of the Models page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.cdp import Browser, chromium_path

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed (make setup installs it)"),
]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
READY = "document.body && !document.querySelector('[data-testid=\"stSkeleton\"]') && document.body.innerText.includes('Confusion matrix')"
UI_PORT = 18501  # off the default 8501 that other sessions' `factory up` may hold
IMAGES_LOADED = "[...document.images].filter(i => i.complete && i.naturalWidth > 100).length >= 2"


@pytest.fixture
def served(tmp_path, student_export):
    """The Streamlit app as `factory up` serves it, on a workspace with one published model."""
    from factory.workspace import Workspace
    from pipelines import services

    spec, export = student_export
    ws = Workspace(tmp_path / "ws")
    ws.save_task(spec)
    ws.publish_model(spec.name, export, extra={"kind": "production", "human_answers": 0})
    try:
        # The UI part of `factory up` (same command line, environment and state record); the
        # Models page needs neither Prefect nor Label Studio, whose first start costs minutes.
        rec = services.start_ui(ws, port=UI_PORT)
        yield rec.url, ws, spec
    finally:
        services.down(ws, (services.UI,))


def test_models_page_in_chromium_shows_confusion_matrix_and_download(served):
    from pipelines.procs import pick_port

    url, ws, spec = served
    version = ws.model_versions(spec.name)[-1]
    browser = Browser(port=pick_port(9333))
    try:
        browser.goto(f"{url}/models?task={spec.name}")
        browser.wait_for(READY, timeout=120)
        browser.wait_for(IMAGES_LOADED, timeout=60)
        text = browser.text()
        shot = browser.screenshot(ARTIFACTS / "ui-models-page.png")
        (ARTIFACTS / "ui-models-page.txt").write_text(text, encoding="utf-8")
        sizes = browser.eval("[...document.images].map(i => [i.naturalWidth, i.naturalHeight])")
    finally:
        browser.close()
    assert f"{spec.name} · v1" in text
    for needle in (
        "Accuracy",
        "Macro-F1",
        "Confusion matrix",
        "rows: true label",
        "Learning curve",
        "Teacher vs student",
        "Try it",
    ):
        assert needle in text, needle
    assert f"Download {spec.name}-student.zip" in text
    # The confusion matrix PNG the student stage wrote is the image the browser drew.
    from PIL import Image

    png = Image.open(next(version.rglob("confusion_matrix.png")))
    assert list(png.size) in [list(s) for s in sizes]
    assert shot.stat().st_size > 20_000
