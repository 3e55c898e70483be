"""What `factory run` / `factory demo` print when a run publishes: the version, the synthesis verdict, the time."""

from __future__ import annotations

from cli.services import _report


def test_the_run_report_says_whether_synthetic_samples_were_used_and_where_the_time_went(capsys):
    _report(
        {
            "version": "v3",
            "zip": "/w/v3/t-student.zip",
            "metrics": {"accuracy": 0.842},
            "questions": {"pushed": 20, "skipped": 0},
            "synthesis": {"use": False, "kept": 31, "reason": "left out: on 32 dev texts the embedding head …"},
            "stage_seconds": {"distill": 400.0, "teacher-label": 500.0},
        }
    )
    out = capsys.readouterr().out
    assert "published v3 (test accuracy 84.2%)" in out
    assert "synthetic samples: 31 kept by the filters, left out: on 32 dev texts" in out
    assert out.index("teacher-label 500") < out.index("distill 400")
