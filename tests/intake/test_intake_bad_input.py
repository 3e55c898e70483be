"""Every bad input exits non-zero through the CLI, says expected/found/fix, and leaves the workspace unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intake import textfile
from cli.task import app

runner = CliRunner()

GOOD_CSV = "text,label\ngreat phone,pos\nlove it,pos\nbroken on arrival,neg\nawful battery,neg\n"


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (hidden temp files included) with file contents."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def seeded(workspace, tmp_path):
    """A workspace that already holds a valid task ``keep``, so 'unchanged' means something."""
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    res = runner.invoke(app, ["create", "keep", "--train", str(good)])
    assert res.exit_code == 0, res.output
    return workspace


def w(tmp_path: Path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return str(p)


def jl(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


TWO_CLASS = [{"text": "good", "label": "a"}, {"text": "bad", "label": "b"}]

# (case id, files {name: content}, extra args, substring the message must hold)
CASES = [
    ("empty-file", {"t.csv": ""}, [], "an empty file"),
    ("whitespace-only-file", {"t.csv": "  \n\n "}, [], "only whitespace"),
    ("header-only", {"t.csv": "text,label\n"}, [], "only the header row"),
    ("single-class", {"t.csv": "text,label\nx,a\ny,a\n"}, [], "at least 2 classes"),
    ("label-outside-declared-set", {"t.csv": "text,label\nx,a\ny,b\nz,c\n"}, ["--labels", "a,b"], "'c'"),
    (
        "dev-label-outside-gold-labels",
        {"t.csv": "text,label\nx,a\ny,b\n", "d.csv": "text,label\nz,zz\n"},
        ["--dev", "{d.csv}"],
        "'zz' in dev",
    ),
    (
        "label-without-gold-example",
        {"t.csv": "text,label\nx,a\ny,b\n"},
        ["--labels", "a,b,c"],
        "no gold example for ['c']",
    ),
    ("duplicate-ids", {"t.csv": "id,text,label\n1,x,a\n1,y,b\n"}, [], "id '1' on rows 1 and 2"),
    (
        "conflicting-duplicate-texts",
        {"t.csv": "text,label\nsame words,a\nother,b\nsame words,b\n"},
        [],
        "one label per distinct text",
    ),
    (
        "conflict-between-gold-and-test",
        {"t.csv": "text,label\nsame words,a\nother,b\n", "e.csv": "text,label\nsame words,b\n"},
        ["--test", "{e.csv}", "--conflicts", "refuse"],
        "labeled 'a' in gold (id 2) and 'b' in test",
    ),
    ("empty-text", {"t.csv": "text,label\n,a\ny,b\n"}, [], "empty or whitespace-only text"),
    (
        "whitespace-text",
        {"t.jsonl": jl({"text": "   \t", "label": "a"}, {"text": "y", "label": "b"})},
        [],
        "t.jsonl line 1",
    ),
    (
        "non-utf8-bytes",
        {"t.csv": "text,label\nx,a\n".encode() + "好,b\n".encode("gbk")},
        [],
        "byte 0xba at byte offset 15 (line 3)",
    ),
    ("utf16-file", {"t.csv": "text,label\nx,a\ny,b\n".encode("utf-16")}, [], "UTF-16"),
    (
        "malformed-json-line-3",
        {"t.jsonl": jl(*TWO_CLASS, '{"text": "x", "label": "a"')},
        [],
        "t.jsonl line 3: expected one JSON object per line; found malformed JSON",
    ),
    ("json-row-not-object", {"t.jsonl": jl(*TWO_CLASS, '["x", "a"]')}, [], "a JSON list"),
    (
        "mixed-label-types",
        {"t.jsonl": jl({"text": "x", "label": 1}, {"text": "y", "label": "1"}, {"text": "z", "label": 2})},
        [],
        "labels of one type",
    ),
    (
        "float-label",
        {"t.jsonl": jl({"text": "x", "label": 1.5}, {"text": "y", "label": 2.5})},
        [],
        "a string or an integer",
    ),
    (
        "null-label",
        {"t.jsonl": jl({"text": "x", "label": None}, {"text": "y", "label": "b"})},
        [],
        "missing or empty label",
    ),
    (
        "text-not-string",
        {"t.jsonl": jl({"text": 42, "label": "a"}, {"text": "y", "label": "b"})},
        [],
        "a string in field 'text'",
    ),
    ("unknown-format", {"t.csv": GOOD_CSV}, ["--format", "xml"], "a format in"),
    ("undetectable-format", {"t.txt": GOOD_CSV}, [], "pass --format explicitly"),
    ("missing-text-column", {"t.csv": "sentence,label\nx,a\ny,b\n"}, [], "--text-field"),
    ("missing-text-field-jsonl", {"t.jsonl": jl({"sentence": "x", "label": "a"})}, [], "a text field 'text'"),
    ("missing-label-column", {"t.csv": "text,category\nx,a\ny,b\n"}, [], "--label-field"),
    ("repeated-csv-column", {"t.csv": "text,label,text\nx,a,y\n"}, [], "repeated columns ['text']"),
    ("ragged-csv-row", {"t.csv": "text,label\nx,a\ny,b,extra\n"}, [], "2 columns as in the header"),
    ("unclosed-csv-quote", {"t.csv": 'text,label\nx,a\n"never closed,b\n'}, [], "well-formed CSV"),
    ("missing-train-file", {}, ["--train", "{nope.csv}"], "does not exist"),
    ("train-is-a-directory", {}, ["--format", "csv", "--train", "{.}"], "a regular file"),
    (
        "banking-label-count-mismatch",
        {"seq.in": "a\nb\nc\n", "label": "x\ny\n"},
        ["--train", "{seq.in}"],
        "2 labels for 3 texts",
    ),
    ("unknown-language", {"t.csv": GOOD_CSV}, ["--language", "fr"], "a language in"),
    (
        "labels-and-labels-file",
        {"t.csv": GOOD_CSV, "l.txt": "pos\nneg\n"},
        ["--labels", "pos,neg", "--labels-file", "{l.txt}"],
        "either --labels or --labels-file",
    ),
    (
        "duplicate-in-labels-file",
        {"t.csv": GOOD_CSV, "l.txt": "pos\nneg\npos\n"},
        ["--labels-file", "{l.txt}"],
        "each label listed once",
    ),
    ("sst-line-without-space", {"stsa.binary.train": "1 fine film\n0\n"}, ["--format", "sst"], "'<label> <text>'"),
    (
        "bad-dev-file-after-good-train",
        {"t.csv": GOOD_CSV, "d.csv": b"text,label\n\xff,pos\n"},
        ["--dev", "{d.csv}"],
        "d.csv line 2",
    ),
    (
        "bad-unlabeled-file",
        {"t.jsonl": jl(*TWO_CLASS), "u.jsonl": jl({"text": "ok"}, '{"text": ')},
        ["--unlabeled", "{u.jsonl}"],
        "u.jsonl line 2",
    ),
    (
        "zero-width-only-text",
        {"t.jsonl": jl({"text": "\u200b\u200b\ufeff", "label": "a"}, {"text": "y", "label": "b"})},
        [],
        "only invisible characters",
    ),
    ("nul-inside-text", {"t.jsonl": jl({"text": "go\u0000od", "label": "a"}, {"text": "y", "label": "b"})}, [], "NUL"),
    ("labels-differing-in-case", {"t.csv": "text,label\nx,Pos\ny,pos\nz,neg\n"}, [], "differ by more than case"),
    (
        "deeply-nested-json",
        {"t.jsonl": jl(*TWO_CLASS) + '{"text": "x", "label": ' + "[" * 100000 + "]" * 100000 + "}\n"},
        [],
        "line 3",
    ),
    (
        "5000-digit-integer-label",
        {"t.jsonl": jl(*TWO_CLASS) + '{"text": "x", "label": ' + "9" * 5000 + "}\n"},
        [],
        "line 3",
    ),
    (
        "18-plus-digit-integer-label",
        {"t.jsonl": jl({"text": "x", "label": 10**19}, {"text": "y", "label": 2})},
        [],
        "at most 18 digits",
    ),
    (
        "very-long-label",
        {"t.jsonl": jl({"text": "x", "label": "a" * 300}, {"text": "y", "label": "b"})},
        [],
        "at most 200 characters",
    ),
    ("unknown-conflicts-mode", {"t.csv": GOOD_CSV}, ["--conflicts", "ignore"], "--conflicts one of"),
    (
        "utf16-le-without-bom",
        {"t.csv": "text,label\nx,a\ny,b\n".encode("utf-16-le")},
        [],
        "looks like UTF-16 without a byte-order mark (UTF-16LE",
    ),
    ("utf16-be-without-bom", {"t.csv": "text,label\nx,a\ny,b\n".encode("utf-16-be")}, [], "(UTF-16BE"),
    (
        "utf16-without-bom-chinese-text",
        {"t.csv": "text,label\n好评,正面\n差评,负面\n".encode("utf-16-le")},
        [],
        "save the file as UTF-8",
    ),
    (
        "utf16-without-bom-jsonl",
        {"t.jsonl": jl(*TWO_CLASS).encode("utf-16-le")},
        [],
        "looks like UTF-16 without a byte-order mark",
    ),
    ("cr-only-line-endings-csv", {"t.csv": "text,label\rx,a\ry,b\r"}, [], "the file uses CR line endings (old Mac)"),
    (
        "cr-only-line-endings-jsonl",
        {"t.jsonl": jl(*TWO_CLASS).replace("\n", "\r")},
        [],
        "convert to LF or CRLF",
    ),
    (
        "stray-cr-inside-a-line",
        {"t.csv": "text,label\nx,a\ny\r,b\n"},
        [],
        "stray carriage return (CR, \\r) inside line 3",
    ),
    ("stray-cr-in-a-crlf-file", {"t.csv": "text,label\r\nx,a\r\ny\rz,b\r\n"}, [], "t.csv line 3"),
    (
        "stray-cr-in-dev-file",
        {"t.csv": GOOD_CSV, "d.csv": "text,label\ngood\rstuff,pos\n"},
        ["--dev", "{d.csv}"],
        "d.csv line 2",
    ),
    (
        "cr-only-labels-file",
        {"t.csv": GOOD_CSV, "l.txt": "pos\rneg\r"},
        ["--labels-file", "{l.txt}"],
        "CR line endings",
    ),
    ("boolean-label", {"t.jsonl": jl({"text": "x", "label": True}, {"text": "y", "label": "b"})}, [], "(bool)"),
    (
        "empty-labels-file",
        {"t.csv": GOOD_CSV, "l.txt": ""},
        ["--labels-file", "{l.txt}"],
        "l.txt: expected a file with at least one row",
    ),
    ("missing-dev-file", {"t.csv": GOOD_CSV}, ["--dev", "{nope.csv}"], "an existing --dev file"),
]


def _invoke(tmp_path: Path, files: dict, extra: list[str], task_name: str = "newtask"):
    paths = {fname: w(tmp_path, fname, content) for fname, content in files.items()}
    args = ["create", task_name]
    if "--train" not in extra:
        args += ["--train", next(iter(paths.values()))]
    # "{name}" in the extra args stands for the path of that file in tmp_path.
    args += [str(tmp_path / a[1:-1]) if a.startswith("{") and a.endswith("}") else a for a in extra]
    return runner.invoke(app, args)


@pytest.mark.parametrize("case,files,extra,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_nonzero_with_message_and_workspace_unchanged(seeded, tmp_path, case, files, extra, needle):
    before = snapshot(seeded.root)
    res = _invoke(tmp_path, files, extra)
    assert res.exit_code == 1, res.output
    msg = res.stderr
    assert needle in msg
    assert "expected" in msg and "found" in msg and "Fix:" in msg
    assert snapshot(seeded.root) == before
    assert not seeded.has_task("newtask")


@pytest.mark.parametrize(
    "bad_name", ["../x", "a/b", "..", ".hidden", "has space", "x" * 65, "-flag", "newtask\n", "new\ttask", ""]
)
def test_path_like_task_names_are_refused(seeded, tmp_path, bad_name):
    before = snapshot(seeded.root)
    good = w(tmp_path, "good.csv", GOOD_CSV)
    res = runner.invoke(app, ["create", bad_name, "--train", good])
    assert res.exit_code != 0
    if res.exit_code == 1:  # click itself rejects '-flag' as an option (exit 2)
        assert "task name" in res.stderr and "Fix:" in res.stderr
    assert snapshot(seeded.root) == before
    assert not (seeded.root.parent / "x").exists()


def test_file_over_size_limit(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "MAX_FILE_BYTES", 40)
    before = snapshot(seeded.root)
    res = runner.invoke(app, ["create", "big", "--train", w(tmp_path, "t.csv", GOOD_CSV)])
    assert res.exit_code == 1
    assert "a file of at most 40 bytes" in res.stderr and "MAX_FILE_BYTES" in res.stderr
    assert snapshot(seeded.root) == before


def test_row_over_length_limit_names_the_line(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "MAX_TEXT_CHARS", 30)
    before = snapshot(seeded.root)
    body = "text,label\nshort,a\n" + "y" * 31 + ",b\n"
    res = runner.invoke(app, ["create", "long", "--train", w(tmp_path, "t.csv", body)])
    assert res.exit_code == 1
    assert "t.csv line 3" in res.stderr and "at most 30 characters" in res.stderr and "31 characters" in res.stderr
    assert snapshot(seeded.root) == before


def test_existing_task_is_not_replaced_without_overwrite(seeded, tmp_path):
    before = snapshot(seeded.root)
    res = runner.invoke(app, ["create", "keep", "--train", w(tmp_path, "t.csv", GOOD_CSV)])
    assert res.exit_code == 1 and "already exists" in res.stderr and "--overwrite" in res.stderr
    assert snapshot(seeded.root) == before


def test_bad_overwrite_keeps_the_old_task(seeded, tmp_path):
    before = snapshot(seeded.root)
    res = runner.invoke(app, ["create", "keep", "--overwrite", "--train", w(tmp_path, "t.csv", "text,label\nx,a\n")])
    assert res.exit_code == 1 and "at least 2 classes" in res.stderr
    assert snapshot(seeded.root) == before
    assert len(seeded.load_task("keep").gold) == 4


def test_json_mode_reports_error_fields(seeded, tmp_path):
    res = runner.invoke(app, ["create", "j", "--json", "--train", w(tmp_path, "t.jsonl", jl(*TWO_CLASS, "{oops"))])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False
    err = out["error"]
    assert err["where"] == "t.jsonl line 3"
    assert err["expected"] == "one JSON object per line"
    assert "malformed JSON" in err["found"] and err["fix"]


@pytest.mark.parametrize("below", ["", "sub", "sub/deeper"])
def test_a_file_given_as_the_workspace_or_above_it_is_a_clear_error(tmp_path, below):
    from cli.main import app as cli

    (tmp_path / "ws").write_text("not a folder")
    root = tmp_path / "ws" / below if below else tmp_path / "ws"
    good = w(tmp_path, "good.csv", GOOD_CSV)
    before = snapshot(tmp_path)
    for args in (["task", "create", "t", "--train", good], ["task", "list"], ["task", "show", "t"]):
        res = runner.invoke(cli, [*args, "--workspace", str(root), "--json"])
        assert res.exit_code == 1, res.output
        err = json.loads(res.stdout)["error"]  # --json output stays JSON
        assert f"{tmp_path / 'ws'} is a file" in err["found"] and err["fix"]
        plain = runner.invoke(cli, [*args, "--workspace", str(root)])
        assert plain.exit_code == 1 and "expected a workspace folder" in plain.stderr and "Fix:" in plain.stderr
    assert snapshot(tmp_path) == before


# (case id, files, extra args, warning text): data that loads but deserves a look; exit 0 and the warning.
WARNING_CASES = [
    ("one-gold-per-class", {"t.csv": "text,label\ngreat phone,pos\nawful battery,neg\n"}, [], "fewer than 4 gold"),
    (
        "dev-identical-to-train",
        {"t.csv": GOOD_CSV, "d.csv": GOOD_CSV},
        ["--dev", "{d.csv}"],
        "the dev set holds exactly the gold texts",
    ),
    (
        "train-passed-as-pool",
        {"t.csv": GOOD_CSV, "u.csv": GOOD_CSV},
        ["--unlabeled", "{u.csv}"],
        "4 of 4 unlabeled texts are gold texts",
    ),
    (
        "labels-with-surrounding-spaces",
        {"t.csv": 'text,label\ngreat phone," pos"\nlove it,pos\nbroken on arrival,neg \nawful battery,neg\n'},
        [],
        "label ' pos' was stripped to 'pos', label 'neg ' was stripped to 'neg'",
    ),
]


@pytest.mark.parametrize("case,files,extra,needle", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_data_that_deserves_a_look_is_stored_with_a_warning_and_its_fix(seeded, tmp_path, case, files, extra, needle):
    res = _invoke(tmp_path, files, extra)
    assert res.exit_code == 0, res.output
    assert any(needle in line and "Fix:" in line for line in res.stderr.splitlines() if line.startswith("warning:"))
    assert seeded.load_task("newtask") and len(seeded.load_task("keep").gold) == 4
    as_json = _invoke(tmp_path, files, [*extra, "--overwrite", "--json"])
    assert as_json.exit_code == 0 and any(needle in x["message"] for x in json.loads(as_json.stdout)["warnings"])


def test_labels_differing_only_by_surrounding_spaces_are_stored_as_one_label(seeded, tmp_path):
    body = 'text,label\ngreat phone," pos"\nlove it,pos\nbroken on arrival,neg\nawful battery,neg\n'
    assert _invoke(tmp_path, {"t.csv": body}, []).exit_code == 0
    spec = seeded.load_task("newtask")
    assert sorted(spec.label_ids) == ["neg", "pos"]
    assert [e.label for e in spec.gold].count("pos") == 2
    notes = json.loads((seeded.task_dir("newtask") / "intake.json").read_text())["warnings"]
    assert [n["labels"] for n in notes if n["check"] == "label-whitespace"] == [{" pos": "pos"}]


def _create_at_once(tmp_path: Path, root: Path, name: str, *extra: str) -> list[tuple[int, str, str]]:
    """Start two ``factory task create NAME`` processes together, each with its own train file."""
    import os
    import subprocess
    import sys

    bodies = {
        "a.csv": "text,label\nalpha good,pos\nalpha fine,pos\nalpha bad,neg\nalpha poor,neg\n",
        "b.csv": "text,label\nbeta good,pos\nbeta fine,pos\nbeta bad,neg\nbeta poor,neg\n",
    }
    paths = [w(tmp_path, f, body) for f, body in bodies.items()]
    env = {**os.environ, "FACTORY_HOME": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli.main", "task", "create", name, "--train", p, *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in paths
    ]
    return [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]


def _stored_source(ws, name: str) -> str:
    """The train file the stored data came from, checked against what intake.json records."""
    from factory.atomic import sha256_file

    gold = {e.text for e in ws.load_task(name).gold}
    source = json.loads((ws.task_dir(name) / "intake.json").read_text())["sources"]["train"]
    assert source["sha256"] == sha256_file(source["path"])
    assert gold == {line.split(",")[0] for line in Path(source["path"]).read_text().splitlines()[1:]}
    return source["path"]


def test_two_cli_creates_of_one_name_at_once_one_succeeds_the_other_says_it_exists(workspace, tmp_path):
    results = _create_at_once(tmp_path, workspace.root, "same")
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for rc, _, err in results if rc == 1)
    assert "already exists" in loser and "--overwrite" in loser and "Traceback" not in loser
    _stored_source(workspace, "same")  # the data and intake.json are the winner's, whole
    assert not list(workspace.task_dir("same").rglob("*.tmp"))


def test_two_cli_overwrites_at_once_leave_data_and_intake_record_from_the_same_create(workspace, tmp_path):
    results = _create_at_once(tmp_path, workspace.root, "both", "--overwrite")
    assert [rc for rc, _, _ in results] == [0, 0], results
    _stored_source(workspace, "both")


def test_intake_config_is_checked_when_built_and_when_a_field_changes(tmp_path):
    from factory.errors import TaskError
    from intake.create import IntakeConfig

    train = w(tmp_path, "t.csv", GOOD_CSV)
    cfg = IntakeConfig(name="ok", train=train)
    assert cfg.fmt == "csv"  # guessed from the file name
    with pytest.raises(TaskError, match=r"unknown \['format'\]"):
        IntakeConfig.from_dict({"name": "ok", "train": train, "format": "csv"})
    with pytest.raises(TaskError, match="--conflicts: expected --conflicts one of"):
        IntakeConfig(name="ok", train=train, conflicts="ignore")
    with pytest.raises(TaskError, match="IntakeConfig.overwrite: expected a valid boolean"):
        IntakeConfig(name="ok", train=train, overwrite="perhaps")
    with pytest.raises(TaskError, match="--language: expected a language in"):
        cfg.language = "xx"
    with pytest.raises(TaskError, match="--dev file"):
        cfg.dev = str(tmp_path / "missing.csv")
    assert (cfg.language, cfg.dev) == (None, None)
