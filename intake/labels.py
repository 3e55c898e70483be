"""Label sets: the known benchmark label sets, declared label lists and label files.

A task's label set is either declared by the user (``--labels a,b`` or a labels
file) or inferred from the gold file. Declaring it is what lets intake reject
a label outside the set or a label without a gold example.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from factory.errors import TaskError
from factory.spec import Example, Label
from intake.textfile import read_user_text, split_lines

# Verbalizers and readable names for the FewCLUE tasks whose label ids are not words.
EPRSTMT_LABELS = [
    # First word: Gemma's raw prompt (picked on dev); second: the chat prompt's answer (the teacher picks on dev).
    Label("Negative", "Negative", description="负面评价", verbalizer=("差", "负面")),
    Label("Positive", "Positive", description="正面评价", verbalizer=("好", "正面")),
]
# SST-2 files use 0/1; the first verbalizers are those of LM-BFF's SST-2 template, the second a chat answer.
SST_LABELS = [
    Label("0", "negative", description="negative movie review", verbalizer=("terrible", "negative")),
    Label("1", "positive", description="positive movie review", verbalizer=("great", "positive")),
]
# The FewCLUE label file that sits next to the data files (TNEWS has one).
FEWCLUE_LABELS_FILE = "label_index2en2zh.json"


def _sort_key(label_id: str):
    # Numeric ids (TNEWS 100..116) sort as numbers, the rest alphabetically.
    return (0, int(label_id), "") if label_id.lstrip("-").isdigit() else (1, 0, label_id)


def parse_label_list(value: str) -> list[Label]:
    """``"neg,pos"`` -> labels ``neg`` and ``pos`` (in that order)."""
    ids = [x.strip() for x in value.split(",")]
    if not value.strip() or any(not x for x in ids):
        raise TaskError(
            "a comma-separated list of label names such as 'neg,pos'",
            repr(value),
            "remove empty entries from --labels",
            where="--labels",
        )
    return [Label(x, x) for x in ids]


def _label_from_obj(obj, where: str) -> Label:
    if isinstance(obj, (str, int)) and not isinstance(obj, bool):
        return Label(str(obj), str(obj))
    if not isinstance(obj, dict):
        raise TaskError(
            "a label name or an object with 'id' or 'label'",
            type(obj).__name__,
            "write one label per line or a JSON list of labels",
            where=where,
        )
    lid = obj.get("id", obj.get("label"))
    if lid is None or isinstance(lid, bool) or not str(lid).strip():
        raise TaskError("an 'id' (or 'label') field", f"keys {sorted(obj)}", "give every label an id", where=where)
    lid = str(lid).strip()
    name = obj.get("name") or obj.get("label_desc") or lid
    zh = obj.get("label_zh")
    verb = obj.get("verbalizer") or ([zh] if zh else [])
    if isinstance(verb, str):
        verb = [verb]
    return Label(lid, str(name), description=obj.get("description") or zh, verbalizer=tuple(str(v) for v in verb))


def read_labels_file(path: str | os.PathLike) -> list[Label]:
    """Read a label set: a JSON list, JSON lines of objects (FewCLUE style) or one name per line.

    Objects may carry ``id``/``label``, ``name``/``label_desc``, ``description``,
    ``verbalizer`` (a word or a list) or FewCLUE's ``label_zh`` (used as both
    description and verbalizer).
    """
    p = Path(path)
    text = read_user_text(p)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        items = [(obj, f"{p.name} item {i + 1}") for i, obj in enumerate(whole)]
    else:
        items = []
        for n, line in enumerate(split_lines(text), 1):
            if not line.strip():
                continue
            s = line.strip()
            if s.startswith("{"):
                try:
                    obj = json.loads(s)
                except json.JSONDecodeError as e:
                    raise TaskError(
                        "one JSON object per line",
                        f"malformed JSON ({e.msg} at column {e.colno})",
                        "fix or remove that line",
                        where=f"{p.name} line {n}",
                    ) from None
            else:
                obj = s
            items.append((obj, f"{p.name} line {n}"))
    labels = [_label_from_obj(obj, where) for obj, where in items]
    ids = [lab.id for lab in labels]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise TaskError(
            "each label listed once",
            f"duplicates {dup}",
            "remove the repeated lines from the labels file",
            where=p.name,
        )
    return labels


def infer_labels(gold: list[Example]) -> list[Label]:
    """Label set from the gold examples: a known benchmark set when it matches, else sorted ids."""
    ids = {e.label for e in gold if e.label is not None}
    if ids == {lab.id for lab in EPRSTMT_LABELS}:
        return list(EPRSTMT_LABELS)
    return [Label(x, x) for x in sorted(ids, key=_sort_key)]


def _has_cjk(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def fewclue_label_names(data_file: str | os.PathLike) -> dict[str, str]:
    """Label id -> name from the ``label_desc`` / ``label_des`` fields of a FewCLUE data file (TNEWS, IFLYTEK)."""
    names: dict[str, str] = {}
    for line in split_lines(read_user_text(Path(data_file))):
        try:
            row = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue  # the data reader reports malformed lines with their number
        if (
            not isinstance(row, dict)
            or isinstance(row.get("label"), bool)
            or not isinstance(row.get("label"), (str, int))
        ):
            continue
        name = row.get("label_desc", row.get("label_des"))
        if isinstance(name, str) and name.strip():
            names.setdefault(str(row["label"]).strip(), name.strip())
    return names


def fewclue_labels(
    gold: list[Example], data_file: str | os.PathLike, labels_file: str | os.PathLike | None = None
) -> list[Label]:
    """Labels for a FewCLUE file: an explicit labels file, else ``label_index2en2zh.json`` beside it, else inferred.

    Inferred ids take their names from the data's ``label_desc``/``label_des`` (a teacher needs names,
    not ids); a Chinese name (IFLYTEK's 打车, CSLDCP's labels themselves) is also the verbalizer word.
    """
    beside = Path(data_file).parent / FEWCLUE_LABELS_FILE
    if labels_file is not None:
        return read_labels_file(labels_file)
    if beside.is_file():
        return read_labels_file(beside)
    labels = infer_labels(gold)
    if labels == list(EPRSTMT_LABELS):
        return labels
    names = fewclue_label_names(data_file)
    out = []
    for lab in labels:
        name = names.get(lab.id, lab.name)
        out.append(Label(lab.id, name, verbalizer=(name,) if _has_cjk(name) else ()))
    return out
