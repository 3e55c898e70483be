"""Long steps report progress: ``report_progress`` and the teacher labeling it in chunks."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from recipe import steps


def test_report_progress_estimates_the_time_left_from_the_start(tmp_path, monkeypatch):
    monkeypatch.setattr(steps.time, "time", lambda: 1000.0)
    path = steps.report_progress(tmp_path / "out", "teacher-label", 25, 100, "texts", started=950.0)
    rec = json.loads(path.read_text(encoding="utf-8"))
    # 25 texts in 50 s: 75 more take 150 s.
    assert rec == {
        "step": "teacher-label",
        "done": 25,
        "total": 100,
        "unit": "texts",
        "eta_s": 150.0,
        "updated": 1000.0,
    }
    assert path == tmp_path / "out" / steps.PROGRESS_FILE


def test_report_progress_keeps_a_given_estimate_and_extra_fields(tmp_path):
    rec = json.loads(steps.report_progress(tmp_path, "distill", 3, 8, "epoch", eta_s=120, kind="small").read_text())
    assert (rec["done"], rec["total"], rec["eta_s"], rec["kind"]) == (3, 8, 120, "small")


class _FakeLabeler:
    """Counts calls and reads the progress file at each one, so the test sees when reports were written."""

    def __init__(self, out_dir):
        self.out_dir, self.calls, self.reports = out_dir, [], []

    def label(self, texts, progress=False):
        p = self.out_dir / steps.PROGRESS_FILE
        self.reports.append(json.loads(p.read_text(encoding="utf-8"))["done"] if p.is_file() else None)
        self.calls.append(len(texts))

        class R:
            probs = np.tile([0.25, 0.75], (len(texts), 1))

        return R()


def test_label_texts_labels_in_chunks_and_reports_after_each(eprstmt_small, tmp_path, monkeypatch):
    import teacher

    spec = replace(eprstmt_small, unlabeled=eprstmt_small.unlabeled[:50])
    spec_path = steps.intake(spec, tmp_path, pool_cap=None, dev_cap=None, test_cap=None)
    out = tmp_path / "labels"
    fake = _FakeLabeler(out)
    monkeypatch.setattr(teacher, "load_labeler", lambda d: fake)
    monkeypatch.setattr(steps, "LABEL_CHUNK", 20)

    res = steps.label_texts("teacher-dir", spec_path, [], str(out))

    assert fake.calls == [20, 20, 10]
    assert fake.reports == [0, 20, 40]  # before each chunk, the texts labeled so far
    last = json.loads((out / steps.PROGRESS_FILE).read_text(encoding="utf-8"))
    assert (last["step"], last["done"], last["total"], last["unit"], last["eta_s"]) == (
        "teacher-label",
        50,
        50,
        "texts",
        0,
    )
    rows = [json.loads(line) for line in open(res["pool"], encoding="utf-8")]
    assert len(rows) == 50 and rows[0]["probs"] == [0.25, 0.75]
