"""Using a student: files in, labels and scores out (bad rows named by line); a real HTTP server answering."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.predict import predict
from student import DistillConfig, DistillData, distill, export_artifact


@pytest.fixture(scope="module")
def artifact(tiny_bert, eprstmt_spec, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("use")
    data = DistillData.from_spec(eprstmt_spec)
    data.dev = data.dev[:8]
    art = distill(
        data, DistillConfig(student=str(tiny_bert), epochs=1, batch_size=16, max_length=32), out_dir=root / "run"
    )
    return export_artifact(art, eprstmt_spec, root / "export", metrics={"accuracy": 0.5, "n": 8})


def _cli(*args):
    app = typer.Typer()
    app.command()(predict)
    return CliRunner().invoke(app, [str(a) for a in args])


def test_csv_in_csv_out_with_per_label_scores_and_bad_rows_named_by_line(artifact, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,review\n1,质量很好\n2,\n3,太差了\n", encoding="utf-8")
    res = _cli(artifact, "--input", src, "--text-column", "review", "--output", tmp_path / "out.csv", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["predicted"] == 2 and report["skipped"] == 1 and report["problems"] == ["line 3: empty text"]
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert [r["text"] for r in rows] == ["质量很好", "太差了"] and {"p_Negative", "p_Positive"} <= set(rows[0])
    assert abs(float(rows[0]["p_Negative"]) + float(rows[0]["p_Positive"]) - 1) < 1e-4


def test_jsonl_with_broken_rows_skips_them_or_stops_leaving_no_output(artifact, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "很好"}\nnot json\n{"other": 1}\n"就这样"\n[1]\n', encoding="utf-8")
    res = _cli(artifact, "--input", src, "--json")
    report = json.loads(res.output)
    assert res.exit_code == 0 and report["predicted"] == 2 and report["skipped"] == 3
    assert [p.split(":")[0] for p in report["problems"]] == ["line 2", "line 3", "line 5"]
    out = [json.loads(line) for line in open(report["output"], encoding="utf-8")]
    assert [r["line"] for r in out] == [1, 4] and set(out[0]["scores"]) == {"Negative", "Positive"}
    stop = _cli(artifact, "--input", src, "--output", tmp_path / "stopped.jsonl", "--on-error", "stop", "--json")
    assert stop.exit_code == 1 and "line 2" in json.loads(stop.output)["error"]
    assert not (tmp_path / "stopped.jsonl").exists() and not list(tmp_path.glob(".stopped*"))


def test_plain_text_and_the_errors_a_user_can_fix(artifact, tmp_path):
    (tmp_path / "in.txt").write_text("很好\n\n太差\n", encoding="utf-8")
    ok = _cli(artifact, "--input", tmp_path / "in.txt", "--json")
    assert json.loads(ok.output)["predicted"] == 2
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    res = _cli(artifact, "--input", tmp_path / "cols.csv", "--json")
    assert res.exit_code == 1 and "--text-column" in json.loads(res.output)["error"]
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    res = _cli(artifact, "--input", tmp_path / "latin.txt", "--json")
    assert res.exit_code == 1 and "UTF-8" in json.loads(res.output)["error"]
    both = _cli(artifact, "--input", tmp_path / "in.txt", "--text", "x", "--json")
    assert both.exit_code == 1 and "both" in json.loads(both.output)["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_factory_serve_answers_predict_health_and_metadata_over_http(artifact):
    import httpx

    port = _free_port()
    code = f"from cli.main import app; app(['serve', {str(artifact)!r}, '--port', '{port}'])"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/health", timeout=1).json() == {"ok": True}:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(
                proc.stdout.read1().decode(errors="replace") if proc.poll() is not None else "server did not start"
            )
        meta = httpx.get(f"{url}/metadata").json()
        assert (
            meta["task"] == "eprstmt"
            and [lab["id"] for lab in meta["labels"]] == ["Negative", "Positive"]
            and meta["metrics"]["accuracy"] == 0.5
        )
        one = httpx.post(f"{url}/predict", json={"text": "很好"}).json()["predictions"]
        many = httpx.post(f"{url}/predict", json={"texts": ["很好", "太差"]}).json()["predictions"]
        assert len(one) == 1 and len(many) == 2 and set(many[0]["scores"]) == {"Negative", "Positive"}
        assert one[0]["label"] == many[0]["label"]
        assert httpx.post(f"{url}/predict", content=b"not json").status_code == 400
        assert httpx.post(f"{url}/predict", json={"texts": [1, 2]}).status_code == 422
        assert httpx.post(f"{url}/predict", json={"text": "a", "texts": ["b"]}).status_code == 422
        too_many = httpx.post(f"{url}/predict", json={"texts": ["x"] * 300})
        assert too_many.status_code == 413 and "at most 256" in too_many.json()["error"]
        assert httpx.post(f"{url}/predict", content=b"x" * (2 << 20)).status_code == 413
    finally:
        proc.terminate()
        proc.wait(timeout=30)
