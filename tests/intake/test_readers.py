"""Readers: each format's good path, BOM handling, verbatim text, and the benchmark folders."""

from __future__ import annotations

import json

import pytest

from intake.benchmark_data import default_data_root, load_benchmark_task
from factory.errors import TaskError
from intake import readers
from intake.labels import EPRSTMT_LABELS, fewclue_labels, read_labels_file
from intake.readers import (
    Fields,
    detect_format,
    read_banking_split,
    read_csv,
    read_examples,
    read_fewclue_file,
    read_jsonl_examples,
    read_sst_file,
)

DATA = default_data_root()


def test_csv_reads_text_label_and_id(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('id,text,label\n7,"hello, world",pos\n8,"multi\nline",neg\n', encoding="utf-8")
    rows = read_csv(p)
    assert [(e.id, e.text, e.label) for e in rows] == [("7", "hello, world", "pos"), ("8", "multi\nline", "neg")]


def test_csv_without_id_column_numbers_rows_by_line(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\na,x\nb,y\n", encoding="utf-8")
    assert [e.id for e in read_csv(p)] == ["2", "3"]


def test_tsv_is_tab_separated(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("text\tlabel\na, b\tx\n", encoding="utf-8")
    assert read_csv(p)[0].text == "a, b"


def test_utf8_bom_is_accepted_and_stripped_csv(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufefftext,label\n好评,pos\n".encode("utf-8"))
    rows = read_csv(p)
    assert rows[0].text == "好评" and rows[0].label == "pos"


def test_utf8_bom_is_accepted_and_stripped_jsonl(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "x", "label": "a"}).encode())
    assert read_jsonl_examples(p)[0].text == "x"


def test_csv_formula_cells_are_kept_verbatim_as_text(tmp_path):
    cells = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", '=HYPERLINK("http://x")']
    p = tmp_path / "f.csv"
    p.write_text("text,label\n" + "".join(f'"{c.replace(chr(34), chr(34) * 2)}",a\n' for c in cells), encoding="utf-8")
    assert [e.text for e in read_csv(p)] == cells


def test_jsonl_configurable_fields(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        json.dumps({"content": "x", "intent": 3, "uid": "u1"})
        + "\n\n"
        + json.dumps({"content": "y", "intent": 4, "uid": "u2"})
        + "\n",
        encoding="utf-8",
    )
    rows = read_jsonl_examples(p, Fields(text="content", label="intent", id="uid"))
    assert [(e.id, e.text, e.label) for e in rows] == [("u1", "x", "3"), ("u2", "y", "4")]


def test_unlabeled_rows_drop_labels(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"text": "x", "label": 1.5}) + "\n", encoding="utf-8")
    assert read_jsonl_examples(p, labeled=False)[0].label is None


def test_fewclue_splits_on_newline_only(tmp_path):
    # U+2028 inside a text: str.splitlines() would cut the row in two.
    p = tmp_path / "f.json"
    rows = [
        {"id": 0, "sentence": "第一行\u2028第二行", "label": "Positive"},
        {"id": 1, "sentence": "差", "label": "Negative"},
    ]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    got = read_fewclue_file(p)
    assert len(got) == 2 and got[0].text == "第一行\u2028第二行"


def test_fewclue_integer_labels_become_strings():
    rows = read_fewclue_file(DATA / "fewclue" / "tnews" / "train_0.json")
    assert len(rows) == 240 and all(isinstance(e.label, str) and e.label.isdigit() for e in rows)


def test_sst_and_banking_formats():
    sst = read_sst_file(DATA / "english" / "sst2" / "stsa.binary.dev")
    assert len(sst) == 872 and {e.label for e in sst} == {"0", "1"}
    bank = read_banking_split(DATA / "english" / "banking77" / "train_5")
    assert len(bank) == 385 and len({e.label for e in bank}) == 77


def test_read_examples_rejects_unknown_format(tmp_path):
    with pytest.raises(TaskError, match="a format in"):
        read_examples(tmp_path / "x", "xml")


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("a.csv", "csv"),
        ("a.TSV", "csv"),
        ("a.jsonl", "jsonl"),
        ("train_0.json", "fewclue"),
        ("stsa.binary.train", "sst"),
        ("seq.in", "banking"),
    ],
)
def test_detect_format_from_file_name(tmp_path, name, fmt):
    assert detect_format(tmp_path / name) == fmt


def test_labels_file_variants(tmp_path):
    plain = tmp_path / "l.txt"
    plain.write_text("neg\npos\n", encoding="utf-8")
    assert [lab.id for lab in read_labels_file(plain)] == ["neg", "pos"]
    js = tmp_path / "l.json"
    js.write_text(json.dumps([{"id": "p", "name": "positive", "verbalizer": ["good", "great"]}, "n"]), encoding="utf-8")
    labs = read_labels_file(js)
    assert labs[0].verbalizer == ("good", "great") and labs[0].name == "positive" and labs[1].id == "n"
    tnews = read_labels_file(DATA / "fewclue" / "tnews" / "label_index2en2zh.json")
    assert len(tnews) == 15 and tnews[0].verbalizer == ("故事",)


def test_eprstmt_benchmark_task_follows_fewclue_protocol():
    spec = load_benchmark_task("eprstmt", split=0)
    assert spec.language == "zh"
    assert spec.counts() == {"labels": 2, "gold": 32, "dev": 32, "test": 610, "unlabeled": 19565}
    assert spec.labels == EPRSTMT_LABELS
    assert all(e.label is None for e in spec.unlabeled)


def test_tnews_benchmark_uses_label_file():
    spec = load_benchmark_task("tnews", split=1)
    assert len(spec.labels) == 15 and "105" not in spec.label_ids
    assert spec.labels[0].name == "news_story"


def test_sst_shots_are_per_class_and_seeded():
    a = load_benchmark_task("sst2", split=0, shots=4, seed=0)
    b = load_benchmark_task("sst2", split=0, shots=4, seed=0)
    c = load_benchmark_task("sst2", split=1, shots=4, seed=0)
    assert [e.text for e in a.gold] == [e.text for e in b.gold]
    assert [e.text for e in a.gold] != [e.text for e in c.gold]
    assert sorted(e.label for e in a.gold) == ["0"] * 4 + ["1"] * 4
    assert len(a.gold) + len(a.unlabeled) == 6920
    assert not {e.id for e in a.gold} & {e.id for e in a.unlabeled}


def test_banking_pool_excludes_gold_texts():
    spec = load_benchmark_task("banking77", split=0, shots=5)
    assert len(spec.gold) == 385 and len(spec.labels) == 77
    assert not {e.text for e in spec.gold} & {e.text for e in spec.unlabeled}
    assert spec.labels[0].name == spec.labels[0].id.replace("_", " ").lower()


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_fewclue_reads_content_text_and_label_des_names_with_integer_labels(tmp_path):
    # IFLYTEK: integer-like ids with Chinese names in label_des; the names become the verbalizers.
    train = _jsonl(
        tmp_path / "train_0.json",
        [
            {"label": "0", "label_des": "打车", "sentence": "一键叫车，司机秒接单"},
            {"label": "1", "label_des": "地图导航", "sentence": "离线地图，实时路况"},
        ],
    )
    spec = readers.read_fewclue_dir(tmp_path, "ifly")
    assert [(lab.id, lab.name, lab.verbalizer) for lab in spec.labels] == [
        ("0", "打车", ("打车",)),
        ("1", "地图导航", ("地图导航",)),
    ]
    # CSLDCP: the text sits in "content" and the labels are the names themselves.
    csl = _jsonl(
        tmp_path / "csl.json",
        [
            {"content": "量子纠缠的实验验证", "label": "物理学", "id": 1},
            {"content": "细胞凋亡通路", "label": "生物学", "id": 2},
        ],
    )
    rows = readers.read_fewclue_file(csl)
    assert [e.text for e in rows] == ["量子纠缠的实验验证", "细胞凋亡通路"]
    assert [lab.words() for lab in fewclue_labels(rows, csl)] == [("物理学",), ("生物学",)]
    # TNEWS-style integer labels with English descriptions: names kept, no English verbalizer forced on a zh teacher.
    tn = _jsonl(
        tmp_path / "tn.json",
        [
            {"label": 102, "label_desc": "news_entertainment", "sentence": "明星"},
            {"label": 103, "label_desc": "news_sports", "sentence": "球赛"},
        ],
    )
    labs = fewclue_labels(readers.read_fewclue_file(tn), tn)
    assert [(lab.id, lab.name, lab.verbalizer) for lab in labs] == [
        ("102", "news_entertainment", ()),
        ("103", "news_sports", ()),
    ]
    assert train.is_file()
