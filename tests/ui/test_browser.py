"""Real browser: headless Chromium against the UI that `factory up` serves.

One test checks the Models page of a prepared model; the other walks a task's whole life through the pages:
upload → run (tiny budget) → label (answer, undo) → models, with a screenshot at each step it asserts on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.ui.cdp import Browser, chromium_path, js

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


WALK_TASK = "walk-reviews"  # the task name the Tasks page guesses from the gold file's name
RUN_TIMEOUT = 20 * 60  # the tiny budget takes minutes; generous for 2 cores shared with other work
VIEWPORT = (1400, 1800)
QUESTION = "Question · the teacher is least sure about this one"
# The question card's text: the markdown "#### text" heading in the innermost block holding the caption above.
QUESTION_TEXT = (
    "(() => { const h = [...document.querySelectorAll('[data-testid=stVerticalBlock]')]"
    f".filter(b => b.innerText.includes({json.dumps(QUESTION)})).map(b => b.querySelector('h4')).filter(Boolean).pop();"
    " return h ? h.innerText.trim() : null; })()"
)


@pytest.fixture
def factory_up(ls_env):
    """`factory up` on a fresh workspace: Prefect, the served deployments and the UI (Label Studio: the session's).

    The workspace is not under pytest's basetemp: other pytest sessions of the same user prune old
    basetemps, which would delete the servers' data during this long test.
    """
    from factory.workspace import Workspace
    from pipelines import services

    root = Path(tempfile.mkdtemp(prefix="factory-ui-walk-"))
    ws = Workspace(root / "ws")
    try:
        # Off the default ports that other sessions' servers use; the UI and the deployments inherit
        # $FACTORY_LS_URL/$FACTORY_LS_TOKEN (ls_env), so they use the session's Label Studio.
        services.start_prefect(ws, port=14500)
        services.start_deployments(ws, sync_interval=3600)  # no sync: one answer, then undo, must not trigger
        rec = services.start_ui(ws, port=18502)
        yield rec.url, ws
    finally:
        services.down(ws)
        shutil.rmtree(root, ignore_errors=True)


def _write_csv(path: Path, examples, labeled: bool = True) -> Path:
    """``examples`` as the CSV a person would upload (``text,label``, or ``text`` alone for the pool)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"] if labeled else ["text"])
        out.writerows([e.text, e.label] if labeled else [e.text] for e in examples)
    return path


def _upload_files(spec, folder: Path) -> dict[str, Path]:
    """A tiny EPRSTMT task as files: 8 gold per label, 20 dev, 40 test, a 60-text pool without labels."""
    folder.mkdir(parents=True, exist_ok=True)
    gold = [e for lab in spec.label_ids for e in [x for x in spec.gold if x.label == lab][:8]]
    return {
        "gold": _write_csv(folder / f"{WALK_TASK}.csv", gold),
        "dev": _write_csv(folder / "dev.csv", spec.dev[:20]),
        "test": _write_csv(folder / "test.csv", spec.test[:40]),
        "unlabeled": _write_csv(folder / "pool.csv", spec.unlabeled[:60], labeled=False),
    }


class Shots:
    """Numbered screenshots of the walk, each checked to be a real drawing of the page, with the page's text."""

    def __init__(self, browser: Browser, folder: Path):
        self.browser, self.folder, self.digests = browser, folder, set()

    def take(self, name: str, *needles: str) -> str:
        """Screenshot the viewport as ``<n>-<name>.png``; assert it is a non-blank PNG of the viewport, unlike
        the earlier ones, while the page text holds ``needles``; return that text."""
        import numpy as np
        from PIL import Image

        # Streamlit draws a page in pieces: under load the buttons can come seconds after the question text.
        try:
            self.browser.wait_text(*needles, timeout=60)
        except TimeoutError:
            pass  # the assertion below names what is missing
        text = self.browser.text()
        missing = [n for n in needles if n not in text]
        assert not missing, f"{name}: {missing} not on the page\n--- page text ---\n{text[:3000]}"
        path = self.browser.screenshot(self.folder / f"{len(self.digests) + 1}-{name}.png")
        (path.with_suffix(".txt")).write_text(text, encoding="utf-8")
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == VIEWPORT, (name, im.format, im.size)
            rgb = im.convert("RGB")
        colours = len(rgb.getcolors(maxcolors=1 << 24))
        grey = np.asarray(rgb.convert("L"), dtype=float)
        inked = float((grey < 200).mean())  # text, borders, buttons: what a blank or skeleton page lacks
        # A white page has 1 colour; Streamlit's loading skeleton a handful; anti-aliased text hundreds.
        assert colours > 200 and grey.std() > 8 and inked > 0.003, (name, colours, grey.std(), inked)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest not in self.digests, f"{name}: the same picture as an earlier step"
        self.digests.add(digest)
        return text


def _wait_published(browser: Browser, ws, timeout: float) -> str:
    """Watch the Runs page until its run card says the run published v1; fail early, with the log, if it failed."""
    deadline = time.monotonic() + timeout
    while True:
        text = browser.text()
        if "published v1" in text:
            return text
        failed = "The run failed" in text or "Crashed" in text
        if failed or time.monotonic() > deadline:
            log = ws.services_dir() / "deployments.log"
            tail = log.read_text(encoding="utf-8", errors="replace")[-4000:] if log.is_file() else "(no log)"
            why = "failed" if failed else f"was not published within {timeout:.0f}s"
            raise AssertionError(f"the run {why}\n--- page text ---\n{text[:3000]}\n--- deployments.log ---\n{tail}")
        time.sleep(5)  # the page's run list refreshes every 5 s


@pytest.mark.timeout(2400)
def test_walk_upload_run_label_models_in_chromium(factory_up, eprstmt_spec, tmp_path):
    from pipelines.procs import pick_port

    url, ws = factory_up
    files = _upload_files(eprstmt_spec, tmp_path / "upload")
    browser = Browser(*VIEWPORT, port=pick_port(9353))
    shots = Shots(browser, tmp_path / "shots")
    try:
        # 1. Tasks: upload gold, dev, test and pool; create the task; its card lists what was uploaded.
        browser.goto(url)
        browser.wait_text("New task", "Gold examples", timeout=120)
        browser.upload("Gold examples", files["gold"])
        browser.click_element(
            "__visible('[data-testid=stExpander] summary').find(s => __label(s).startsWith('More files'))",
            "the 'More files' expander",
        )
        for split in ("dev", "test", "unlabeled"):
            browser.upload(f"{split.title()} set", files[split])
        browser.wait_text("All checks passed", timeout=120)
        shots.take("upload-form", "All checks passed", "Examples per label", "Create task", "pool.csv")
        browser.click_button("Create task")
        browser.wait_text(f"Task {WALK_TASK} created", timeout=120)
        browser.click_button("Your tasks (1)")
        counts = "16 gold · 20 dev · 40 test · 60 unlabeled · 0 models"
        browser.wait_text(counts, timeout=60)
        shots.take("task-card", WALK_TASK, counts, "Labels (2): Negative · Positive")
        assert ws.list_tasks() == [WALK_TASK]

        # 2. Runs (the card's Run button): a tiny run with the fastest student, watched until it publishes v1.
        browser.click_button("Run")
        browser.wait_text("Start a production run", timeout=60)
        browser.select("Budget", "tiny")
        browser.select("Student", "fastest")
        browser.click_button("Start run")
        browser.wait_text("scheduled", timeout=120)
        assert browser.selected("Budget").startswith("tiny") and browser.selected("Student").startswith("fastest")
        shots.take("run-started", "Runs", "scheduled", "Budget", "Student")
        t0 = time.monotonic()
        _wait_published(browser, ws, RUN_TIMEOUT)
        run_s = time.monotonic() - t0
        browser.wait_text("v1 on Models", timeout=30)
        shots.take("run-published", "pipeline-production-1", "published v1", "Completed", "v1 on Models")
        assert [v.name for v in ws.model_versions(WALK_TASK)] == ["v1"], run_s

        # 3. Label: answer the first question; the next one shows; Undo brings the first one back.
        browser.goto(f"{url}/label?task={WALK_TASK}")
        browser.wait_text(QUESTION, "My answers (0)", timeout=120)
        first = browser.eval(QUESTION_TEXT)
        assert first, browser.text()[:3000]
        shots.take("label-question", first, "Open questions", "Negative", "Positive", "Undo last answer")
        browser.click_button("Positive")
        browser.wait_text("My answers (1)", timeout=60)
        browser.wait_for(js(f"{QUESTION_TEXT} !== {json.dumps(first)}"), timeout=60)
        second = browser.eval(QUESTION_TEXT)
        assert second and second != first
        shots.take("label-answered", second, "My answers (1)", "Labeled queue: 1 of")
        browser.click_button("Undo last answer")
        browser.wait_text("My answers (0)", timeout=60)
        browser.wait_for(js(f"{QUESTION_TEXT} === {json.dumps(first)}"), timeout=60)
        text = shots.take("label-undone", first, "My answers (0)", "Labeled queue: 0 of")
        assert "did not reach Label Studio" not in text

        # 4. Models: v1's per-label table and its misclassified test texts (or the caption saying there are none).
        browser.goto(f"{url}/models?task={WALK_TASK}")
        browser.wait_text(f"{WALK_TASK} · v1", "Per label", "Misclassified test texts", timeout=120)
        browser.scroll_to("Per label")
        browser.wait_for(
            "[...document.querySelectorAll('[data-testid=stDataFrame]')].some(d => d.textContent.includes('recall'))",
            timeout=60,
        )
        time.sleep(1)  # the grids draw on their canvases after their table is in the DOM
        text = shots.take("models-per-label", "Per label", "Misclassified test texts")
        frames = browser.dataframes()
    finally:
        browser.close()
        # For a person to look at: the walk's screenshots and texts next to the Models page test's.
        if (tmp_path / "shots").is_dir():
            shutil.copytree(tmp_path / "shots", ARTIFACTS / "ui-walk", dirs_exist_ok=True)
    per_label = [f for f in frames if "precision" in f and "recall" in f]
    assert per_label and all(lab in per_label[0] for lab in ("Negative", "Positive")), frames
    if "No mistakes on the" not in text:
        assert " mistakes on " in text and "the most confident first" in text, text[:3000]
        assert any("predicted" in f and "p(gold)" in f for f in frames), frames
