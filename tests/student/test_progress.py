"""The student loop says how far it is: ``progress.json`` in its folder after every epoch, for the Runs page."""

from __future__ import annotations

import json

import student.train as train
from student import DistillConfig, DistillData, distill


def test_student_loop_writes_progress_after_every_epoch(tiny_bert, eprstmt_spec, tmp_path, monkeypatch):
    seen = []
    write = train._report_progress

    def spy(out, state, epochs, kind):
        write(out, state, epochs, kind)
        seen.append(json.loads((out / train.PROGRESS_FILE).read_text(encoding="utf-8")))

    monkeypatch.setattr(train, "_report_progress", spy)
    data = DistillData.from_spec(eprstmt_spec)
    data.gold, data.dev = data.gold[:16], data.dev[:8]
    cfg = DistillConfig(student=str(tiny_bert), epochs=3, batch_size=16, max_length=24, patience=5)
    distill(data, cfg, out_dir=tmp_path / "run")

    assert [(p["done"], p["total"], p["unit"], p["step"]) for p in seen] == [
        (0, 3, "epoch", "distill"),
        (1, 3, "epoch", "distill"),
        (2, 3, "epoch", "distill"),
        (3, 3, "epoch", "distill"),
    ]
    assert seen[0]["eta_s"] is None  # nothing timed yet
    assert seen[1]["eta_s"] > 0 and seen[-1]["eta_s"] == 0
    assert all(p["kind"] == "encoder" for p in seen)
    assert seen[-1] == json.loads((tmp_path / "run" / "progress.json").read_text(encoding="utf-8"))
