"""``factory task create|show|list`` end to end through the CLI, on real and small files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from factory.atomic import read_jsonl, verify_manifest
from intake.benchmark_data import default_data_root
from cli.task import app

runner = CliRunner()
EPR = default_data_root() / "fewclue" / "eprstmt"
TNEWS = default_data_root() / "fewclue" / "tnews"


def test_create_eprstmt_from_fewclue_files_stores_a_valid_task(workspace):
    res = runner.invoke(
        app,
        [
            "create",
            "eprstmt",
            "--format",
            "fewclue",
            "--train",
            str(EPR / "train_0.json"),
            "--dev",
            str(EPR / "dev_0.json"),
            "--test",
            str(EPR / "test_public.json"),
            "--unlabeled",
            str(EPR / "unlabeled.json"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"] and out["counts"] == {"labels": 2, "gold": 32, "dev": 32, "test": 610, "unlabeled": 19565}
    assert out["label_counts"]["gold"] == {"Negative": 15, "Positive": 17}
    spec = workspace.load_task("eprstmt")
    assert spec.language == "zh"
    assert [lab.verbalizer for lab in spec.labels] == [("差", "负面"), ("好", "正面")]
    tdir = workspace.task_dir("eprstmt")
    assert verify_manifest(tdir / "data") == []
    intake = json.loads((tdir / "intake.json").read_text(encoding="utf-8"))
    assert intake["fmt"] == "fewclue" and len(intake["sources"]["train"]["sha256"]) == 64


def test_show_prints_counts_per_split_and_label(workspace):
    runner.invoke(app, ["create", "tn", "--train", str(TNEWS / "train_0.json"), "--dev", str(TNEWS / "dev_0.json")])
    res = runner.invoke(app, ["show", "tn"])
    assert res.exit_code == 0, res.output
    assert "gold 240  dev 240  test 0  unlabeled 0" in res.stdout
    assert "news_story / 故事" in res.stdout
    js = json.loads(runner.invoke(app, ["show", "tn", "--json"]).stdout)
    assert js["language"] == "zh" and js["counts"]["labels"] == 15
    assert set(js["label_counts"]["gold"].values()) == {16}


def test_show_unknown_task_fails_with_known_list(workspace):
    res = runner.invoke(app, ["show", "nope"])
    assert res.exit_code == 1 and "no task 'nope'" in res.stderr and "factory task create" in res.stderr


def test_list_tasks(workspace, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\nfine,a\nbad,b\n", encoding="utf-8")
    runner.invoke(app, ["create", "one", "--train", str(p)])
    runner.invoke(app, ["create", "two", "--train", str(p)])
    assert json.loads(runner.invoke(app, ["list", "--json"]).stdout)["tasks"] == ["one", "two"]


def test_csv_with_declared_labels_and_detected_english(workspace, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\n=1+1 is what the sheet says,b\ngreat phone,a\nbad phone,b\n", encoding="utf-8")
    res = runner.invoke(app, ["create", "csvtask", "--train", str(p), "--labels", "b,a", "--json"])
    assert res.exit_code == 0, res.output
    spec = workspace.load_task("csvtask")
    assert spec.language == "en" and spec.label_ids == ["b", "a"]
    # the formula-looking cell is stored as the same plain text in the snapshot
    rows = read_jsonl(workspace.task_dir("csvtask") / "data" / "gold.jsonl")
    assert rows[0]["text"] == "=1+1 is what the sheet says"


def test_jsonl_with_custom_fields_and_labels_file(workspace, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        "".join(json.dumps({"body": t, "y": y}, ensure_ascii=False) + "\n" for t, y in [("很好用", 1), ("太差了", 0)]),
        encoding="utf-8",
    )
    lf = tmp_path / "labels.json"
    lf.write_text(
        json.dumps(
            [{"id": "0", "name": "negative", "verbalizer": "差"}, {"id": "1", "name": "positive", "verbalizer": "好"}]
        ),
        encoding="utf-8",
    )
    res = runner.invoke(
        app,
        ["create", "zh1", "--train", str(p), "--text-field", "body", "--label-field", "y", "--labels-file", str(lf)],
    )
    assert res.exit_code == 0, res.output
    spec = workspace.load_task("zh1")
    assert spec.language == "zh" and [lab.words() for lab in spec.labels] == [("差",), ("好",)]
    assert [e.label for e in spec.gold] == ["1", "0"]


def test_explicit_language_overrides_detection(workspace, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\nok,a\nno,b\n", encoding="utf-8")
    assert runner.invoke(app, ["create", "forced", "--train", str(p), "--language", "zh"]).exit_code == 0
    assert workspace.load_task("forced").language == "zh"


def test_overwrite_replaces_data_but_keeps_runs(workspace, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\nok,a\nno,b\n", encoding="utf-8")
    runner.invoke(app, ["create", "ow", "--train", str(p)])
    run = workspace.new_run_dir("ow", "teacher")
    (run / "marker.txt").write_text("kept", encoding="utf-8")
    p.write_text("text,label\nok,a\nno,b\nyes,a\n", encoding="utf-8")
    res = runner.invoke(app, ["create", "ow", "--train", str(p), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert len(workspace.load_task("ow").gold) == 3
    assert (run / "marker.txt").read_text(encoding="utf-8") == "kept"


def test_sst_and_banking_formats_through_cli(workspace):
    sst = default_data_root() / "english" / "sst2"
    res = runner.invoke(app, ["create", "sst", "--format", "sst", "--train", str(sst / "stsa.binary.dev"), "--json"])
    assert res.exit_code == 0, res.output
    assert [lab["name"] for lab in json.loads(res.stdout)["labels"]] == ["negative", "positive"]
    bank = default_data_root() / "english" / "banking77"
    res = runner.invoke(
        app, ["create", "bank", "--train", str(bank / "train_5"), "--test", str(bank / "test"), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["counts"]["labels"] == 77 and out["language"] == "en" and out["counts"]["test"] == 3080


def test_prompt_settings_are_stored_with_the_task_and_a_prompt_without_text_is_refused(workspace):
    base = [
        "create",
        "epr",
        "--format",
        "fewclue",
        "--train",
        str(EPR / "train_0.json"),
        "--dev",
        str(EPR / "dev_0.json"),
    ]
    res = runner.invoke(
        app, [*base, "--text-name", "商品评论", "--prompt", "判断情感，可选：{options}。\n评论：{text}", "--json"]
    )
    assert res.exit_code == 0, res.output
    spec = workspace.load_task("epr")
    assert spec.text_name == "商品评论" and spec.prompt == "判断情感，可选：{options}。\n评论：{text}"
    bad = runner.invoke(app, [*base[:1], "epr2", *base[2:], "--prompt", "no placeholder", "--json"])
    assert bad.exit_code == 1
    err = json.loads(bad.stdout)["error"]
    assert "{text}" in err["expected"] and not workspace.has_task("epr2")
