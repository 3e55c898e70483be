"""The Tasks page gives fixes in its own words: no command-line flag from the library's messages reaches it."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest

from factory.errors import TaskError
from ui.upload import PAGE_FLAGS, page_error, page_fix, page_warning, when

ROOT = Path(__file__).resolve().parents[2]
# Every module whose errors or warnings the Tasks page can show: the readers, intake and its checks, and the
# workspace that stores (and reports broken) tasks.
MESSAGE_MODULES = [
    "intake/readers.py",
    "intake/create.py",
    "intake/datacheck.py",
    "intake/checks.py",
    "factory/spec.py",
    "intake/labels.py",
    "intake/textfile.py",
    "factory/workspace.py",
]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# Flags spelled at run time (f"--{opt}"), each with every value it takes; a new one fails the scan below.
BUILT_FLAGS = {
    # IntakeConfig.check: the file options it checks exist.
    "f\"--{opt.replace('_', '-')} file\"": [
        f"--{o} file" for o in ("train", "dev", "test", "unlabeled", "labels-file")
    ],
}


def _message_strings(path: Path) -> tuple[list[str], list[str]]:
    """(string literals outside docstrings, f-strings that build a flag at run time) of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    strings, built = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            strings.append(node.value)
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for a, b in zip(parts, parts[1:]):
                if isinstance(a, ast.Constant) and str(a.value).endswith("--") and isinstance(b, ast.FormattedValue):
                    built.append(ast.unparse(node))
    return strings, built


def _scan():
    strings, built = [], []
    for rel in MESSAGE_MODULES:
        s, b = _message_strings(ROOT / rel)
        strings += [(rel, x) for x in s if FLAG.search(x)]
        built += [(rel, x) for x in b]
    return strings, built


def test_the_scan_finds_the_flags_the_messages_are_known_to_carry():
    flags = {f for _, s in _scan()[0] for f in FLAG.findall(s)}
    assert {"--text-field", "--overwrite", "--unlabeled", "--conflicts", "--language"} <= flags


def test_every_flag_in_a_message_the_tasks_page_shows_has_a_page_translation():
    strings, _ = _scan()
    missing = sorted({f"{f} ({rel})" for rel, s in strings for f in FLAG.findall(s) if f not in PAGE_FLAGS})
    assert not missing, f"add these flags to ui.upload.PAGE_FLAGS (and a phrase if it reads badly): {missing}"


@pytest.mark.parametrize("rel,message", _scan()[0])
def test_each_message_with_a_flag_reads_without_it_on_the_page(rel, message):
    assert not FLAG.search(page_fix(message)), page_fix(message)


def test_flags_built_at_run_time_are_known_and_translated():
    _, built = _scan()
    unknown = sorted({f"{src} ({rel})" for rel, src in built if src not in BUILT_FLAGS})
    assert not unknown, f"list these in BUILT_FLAGS with every flag they make: {unknown}"
    for values in BUILT_FLAGS.values():
        for v in values:
            assert not FLAG.search(page_fix(v)), v


@pytest.mark.parametrize(
    "cli,page",
    [
        ("rename the column or pass --text-field NAME", "rename the column or pick the text column in 'Text column'"),
        (
            "rename the column or pass --label-field NAME",
            "rename the column or pick the label column in 'Label column'",
        ),
        (
            "add the label, or pass the file as --unlabeled",
            "add the label, or upload the file as the 'Unlabeled set' under 'More files'",
        ),
        (
            "pick another name or pass --overwrite",
            "type another name in 'Task name', or tick 'Replace the existing task'",
        ),
        (
            "fix the wrong labels, or pass --conflicts drop to drop the later rows",
            "fix the wrong labels, or delete the later rows from the dev or test file",
        ),
        (
            "a file name ending in .csv, .tsv, .jsonl or .json, or --format in ['fewclue', 'csv', 'jsonl']",
            "a file name ending in .csv, .tsv, .jsonl or .json",
        ),
        (
            "recreate it: `factory task create shop ... --overwrite`",
            "create it again on the 'New task' tab under the same name and tick 'Replace the existing task'",
        ),
    ],
)
def test_command_line_advice_becomes_the_page_s_control_names(cli, page):
    assert page_fix(cli) == page


def test_an_unknown_flag_in_the_user_s_own_text_is_left_alone():
    assert page_fix("text '--verbose --text-fields' labeled twice") == "text '--verbose --text-fields' labeled twice"


def test_a_page_error_translates_its_advice_but_not_what_was_found():
    err = TaskError(
        "a header row with a 'text' column",
        "columns ['--text-field']",
        "rename the column or pass --text-field NAME",
        where="--format",
    )
    shown = page_error(err)
    assert shown.found == "columns ['--text-field']"  # the user's data, verbatim
    assert shown.fix.endswith("'Text column'") and "--" not in shown.where
    assert page_error(err := ValueError("x")) is err


def test_a_data_warning_gets_its_message_and_fix_in_page_words():
    w = {
        "check": "pool-is-gold",
        "message": "was the train file passed as --unlabeled?",
        "fix": "pass --format explicitly",
    }
    shown = page_warning(w)
    assert shown["check"] == "pool-is-gold" and not FLAG.search(shown["message"] + shown["fix"])


@pytest.mark.parametrize(
    "age,said",
    [(5, "just now"), (-30, "just now"), (600, "10 min ago"), (3 * 3600 + 59, "3 h ago"), (86400, "1 day ago")],
)
def test_a_creation_time_is_said_as_people_say_it(age, said):
    now = 1_750_000_000.0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now - age))
    assert when(stamp, now=now) == said


def test_an_old_or_unknown_creation_time_is_a_date_or_said_to_be_unknown():
    assert when("2024-03-04T10:00:00+0000", now=1_750_000_000.0) == "on 4 Mar 2024"
    assert when(None) == "at an unknown time"
    assert when("yesterday") == "on yesterday"
