"""Readers that turn data files into examples and benchmark folders into a :class:`TaskSpec`.

Formats (``FORMATS``):

- ``csv``: a header row, then one example per row (``text``/``label``/``id``
  columns by default; ``.tsv`` files are tab-separated).
- ``jsonl``: one JSON object per line with configurable text/label/id fields.
- ``fewclue``: FewCLUE JSON lines (``sentence``/``label``/``id``).
- ``sst``: SST-2 lines ``<label> <text>``.
- ``banking``: a BANKING77 split folder with ``seq.in`` and ``label``.

All of them read through :func:`intake.textfile.read_user_text` (size limit,
strict UTF-8, BOM stripped) and split lines on ``"\\n"`` only. Cell values are
stored verbatim as text: nothing is ever evaluated.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from intake import textfile
from intake.checks import check_spec, detect_language
from factory.errors import TaskError
from intake.labels import EPRSTMT_LABELS, SST_LABELS, fewclue_labels, infer_labels  # noqa: F401  (EPRSTMT_LABELS re-exported)
from factory.spec import Example, Label, TaskSpec
from intake.textfile import clean_text, read_user_text, split_lines

FORMATS = ("fewclue", "csv", "jsonl", "sst", "banking")


@dataclass(frozen=True)
class Fields:
    """Which columns / JSON keys hold the text, the label and the row id."""

    text: str = "text"
    label: str = "label"
    id: str = "id"
    alt_text: tuple[str, ...] = ()  # read when ``text`` is absent from a row (FewCLUE's CSLDCP uses "content")


FEWCLUE_FIELDS = Fields(text="sentence", label="label", id="id", alt_text=("content",))


def _label_value(value, where: str, stripped: dict[str, str] | None = None) -> str:
    """The label of a row as a string id, refused when missing, too long or of the wrong type.

    Surrounding spaces are removed (``" pos"`` and ``"pos"`` are one label); each changed label is
    recorded in ``stripped`` (raw -> stripped) so intake can say so instead of merging them silently.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise TaskError(
            "a label on every row of a labeled file",
            "a missing or empty label",
            "add the label, or pass the file as --unlabeled",
            where=where,
        )
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TaskError(
            "a label that is a string or an integer",
            f"{json.dumps(value, ensure_ascii=False)[:60]} ({type(value).__name__})",
            'write labels as strings such as "pos" or integers such as 1',
            where=where,
        )
    if isinstance(value, int) and abs(value) >= 10**18:
        raise TaskError(
            "a label id of at most 18 digits",
            "a longer integer",
            'use a short label id such as 1 or a name such as "pos"',
            where=where,
        )
    if isinstance(value, str) and len(value) > 200:
        raise TaskError(
            "a label of at most 200 characters", f"{len(value)} characters", "use a short label id or name", where=where
        )
    label = str(value).strip()
    if stripped is not None and isinstance(value, str) and value != label:
        stripped.setdefault(value, label)
    return label


def read_jsonl_examples(
    path: str | os.PathLike, fields: Fields = Fields(), labeled: bool = True, stripped: dict[str, str] | None = None
) -> list[Example]:
    """Read JSON lines; blank lines are skipped, ids default to the line number (``stripped``: see _label_value)."""
    p = Path(path)
    out: list[Example] = []
    first_type: tuple[type, int] | None = None
    for n, line in enumerate(split_lines(read_user_text(p)), 1):
        if not line.strip():
            continue
        where = f"{p.name} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskError(
                "one JSON object per line",
                f"malformed JSON ({e.msg} at column {e.colno})",
                "fix or remove that line",
                where=where,
            ) from None
        except (RecursionError, ValueError) as e:  # nesting too deep; an integer beyond Python's digit limit
            raise TaskError(
                "one flat JSON object per line",
                f"JSON the reader cannot take ({type(e).__name__})",
                'write each row as {"text": ..., "label": ...}',
                where=where,
            ) from None
        if not isinstance(row, dict):
            raise TaskError(
                "one JSON object per line",
                f"a JSON {type(row).__name__}",
                'wrap each row as {"text": ..., "label": ...}',
                where=where,
            )
        key = next((k for k in (fields.text, *fields.alt_text) if k in row), None)
        if key is None:
            raise TaskError(
                f"a text field {' or '.join(repr(k) for k in (fields.text, *fields.alt_text))}",
                f"fields {sorted(row)}",
                "name the text field with --text-field",
                where=where,
            )
        if not isinstance(row[key], str):
            raise TaskError(f"a string in field {key!r}", type(row[key]).__name__, "quote the text", where=where)
        label = None
        if labeled:
            raw = row.get(fields.label)
            label = _label_value(raw, where, stripped)
            # 1 and "1" would become the same label id: refuse to guess which was meant.
            if first_type is None:
                first_type = (type(raw), n)
            elif type(raw) is not first_type[0]:
                kinds = {int: "number", str: "string"}
                raise TaskError(
                    "labels of one type throughout the file",
                    f"a {kinds[type(raw)]} label {json.dumps(raw)} here but a {kinds[first_type[0]]} label on line {first_type[1]}",
                    "write every label the same way (all strings or all integers)",
                    where=where,
                )
        rid = row.get(fields.id)
        out.append(Example(text=clean_text(row[key], where), label=label, id=str(n) if rid is None else str(rid)))
    return out


def read_csv(
    path: str | os.PathLike, fields: Fields = Fields(), labeled: bool = True, stripped: dict[str, str] | None = None
) -> list[Example]:
    """Read a CSV (or ``.tsv``) file with a header row. Cells are kept verbatim, formulas included."""
    p = Path(path)
    text = read_user_text(p)
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    # The row-length limit, not csv's own 128 KiB field limit, should decide what is too long.
    csv.field_size_limit(max(csv.field_size_limit(), textfile.MAX_FILE_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        if fields.text not in header:
            raise TaskError(
                f"a header row with a {fields.text!r} column",
                f"columns {header}",
                "rename the column or pass --text-field NAME",
                where=f"{p.name} line 1",
            )
        if labeled and fields.label not in header:
            raise TaskError(
                f"a header row with a {fields.label!r} column",
                f"columns {header}",
                "rename the column or pass --label-field NAME",
                where=f"{p.name} line 1",
            )
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise TaskError(
                "distinct column names in the header",
                f"repeated columns {dup}",
                "rename or drop the repeated columns",
                where=f"{p.name} line 1",
            )
        ti = header.index(fields.text)
        li = header.index(fields.label) if fields.label in header else None
        ii = header.index(fields.id) if fields.id in header else None
        out: list[Example] = []
        for row in reader:
            where = f"{p.name} line {reader.line_num}"
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise TaskError(
                    f"{len(header)} columns as in the header",
                    f"{len(row)} columns",
                    "quote cells that contain the delimiter, or fix the row",
                    where=where,
                )
            label = _label_value(row[li], where, stripped) if labeled else None
            out.append(
                Example(
                    text=clean_text(row[ti], where),
                    label=label,
                    id=row[ii].strip() if ii is not None and row[ii].strip() else str(reader.line_num),
                )
            )
    except csv.Error as e:
        raise TaskError(
            "well-formed CSV", str(e), "check the quotes on that row", where=f"{p.name} line {reader.line_num}"
        ) from None
    if not out:
        raise TaskError(
            "at least one data row after the header",
            "only the header row",
            "add examples below the header",
            where=p.name,
        )
    return out


def read_fewclue_file(path: str | os.PathLike, labeled: bool = True) -> list[Example]:
    """Read one FewCLUE file (JSON lines with ``sentence``/``label``/``id``)."""
    return read_jsonl_examples(path, FEWCLUE_FIELDS, labeled=labeled)


def read_sst_file(path: str | os.PathLike, labeled: bool = True) -> list[Example]:
    """Read SST-2 lines ``<label> <text>``; the id is the line number."""
    p = Path(path)
    out = []
    for n, line in enumerate(split_lines(read_user_text(p)), 1):
        if not line.strip():
            continue
        where = f"{p.name} line {n}"
        label, sep, text = line.strip().partition(" ")
        if not sep:
            raise TaskError(
                "'<label> <text>' on every line",
                f"{line.strip()[:40]!r} with no space",
                "put the label, a space, then the text",
                where=where,
            )
        out.append(Example(text=clean_text(text, where), label=label if labeled else None, id=str(n)))
    return out


def read_banking_split(
    path: str | os.PathLike, labeled: bool = True, stripped: dict[str, str] | None = None
) -> list[Example]:
    """Read a BANKING77 split: a folder (or its ``seq.in``) with a parallel ``label`` file."""
    p = textfile.check_exists(path)
    d = p if p.is_dir() else p.parent
    texts = split_lines(read_user_text(d / "seq.in"))
    if not labeled:
        return [Example(text=clean_text(t, f"seq.in line {n}"), id=str(n)) for n, t in enumerate(texts, 1)]
    labels = split_lines(read_user_text(d / "label"))
    if len(texts) != len(labels):
        raise TaskError(
            "as many lines in 'label' as in 'seq.in'",
            f"{len(labels)} labels for {len(texts)} texts",
            "make the two files line up one to one",
            where=str(d),
        )
    return [
        Example(text=clean_text(t, f"seq.in line {n}"), label=_label_value(lab, f"label line {n}", stripped), id=str(n))
        for n, (t, lab) in enumerate(zip(texts, labels), 1)
    ]


def read_examples(
    path: str | os.PathLike,
    fmt: str,
    fields: Fields | None = None,
    labeled: bool = True,
    stripped: dict[str, str] | None = None,
) -> list[Example]:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`); labels whose spaces were removed go to ``stripped``."""
    if fmt == "csv":
        return read_csv(path, fields or Fields(), labeled, stripped)
    if fmt == "jsonl":
        return read_jsonl_examples(path, fields or Fields(), labeled, stripped)
    if fmt == "fewclue":
        return read_jsonl_examples(path, fields or FEWCLUE_FIELDS, labeled, stripped)
    if fmt == "sst":
        return read_sst_file(path, labeled)
    if fmt == "banking":
        return read_banking_split(path, labeled, stripped)
    raise TaskError(
        f"a format in {list(FORMATS)}", repr(fmt), "pass --format csv, jsonl, fewclue, sst or banking", where="--format"
    )


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format from the file name: ``.csv``/``.tsv``, ``.jsonl``, FewCLUE ``.json``, SST, BANKING."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir() or name == "seq.in":
        return "banking"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".json"):
        return "fewclue"
    if name.startswith("stsa."):
        return "sst"
    raise TaskError(
        f"a file name ending in .csv, .tsv, .jsonl or .json, or --format in {list(FORMATS)}",
        repr(p.name),
        "pass --format explicitly",
        where="--format",
    )


# -- benchmark folders (the layouts of ../shared/data) -------------------------
def read_fewclue_dir(d: str | Path, name: str, split: int = 0) -> TaskSpec:
    """FewCLUE protocol: gold = ``train_k``, dev = ``dev_k``, test = ``test_public``, pool = ``unlabeled``."""
    d = Path(d)
    train = d / f"train_{split}.json"
    gold = read_fewclue_file(train)

    def opt(fname: str, labeled: bool = True) -> list[Example]:
        return read_fewclue_file(d / fname, labeled) if (d / fname).exists() else []

    spec = TaskSpec(
        name=name,
        language=detect_language([e.text for e in gold]),
        labels=fewclue_labels(gold, train),
        gold=gold,
        dev=opt(f"dev_{split}.json"),
        test=opt("test_public.json"),
        unlabeled=opt("unlabeled.json", labeled=False),
    )
    return check_spec(spec)


def read_sst_dir(d: str | Path, name: str, shots: int = 8, seed: int = 0) -> TaskSpec:
    """SST-2: gold = ``shots`` examples per class drawn from train by ``seed``; the rest of train is the pool."""
    d = Path(d)
    train = read_sst_file(d / "stsa.binary.train")
    rng = random.Random(seed)
    picked: set[int] = set()
    for lab in SST_LABELS:
        idx = [i for i, e in enumerate(train) if e.label == lab.id]
        picked.update(rng.sample(idx, min(shots, len(idx))))
    gold = [train[i] for i in sorted(picked)]
    pool = [Example(text=e.text, id=e.id) for i, e in enumerate(train) if i not in picked]
    spec = TaskSpec(
        name=name,
        language="en",
        labels=list(SST_LABELS),
        gold=gold,
        dev=read_sst_file(d / "stsa.binary.dev"),
        test=read_sst_file(d / "stsa.binary.test"),
        unlabeled=pool,
    )
    return check_spec(spec)


def banking_labels(gold: list[Example]) -> list[Label]:
    """BANKING77 intents with readable names (``card_arrival`` -> ``card arrival``)."""
    return [Label(lab.id, lab.id.replace("_", " ").strip().lower()) for lab in infer_labels(gold)]


def read_banking_dir(d: str | Path, name: str, shots: int = 5) -> TaskSpec:
    """BANKING77: gold = the fixed ``train_5``/``train_10`` subset, dev = ``valid``, pool = ``train`` minus gold."""
    d = Path(d)
    if shots not in (5, 10):
        raise TaskError("5 or 10 shots (the fixed BANKING77 subsets)", str(shots), "pass --shots 5 or --shots 10")
    gold = read_banking_split(d / f"train_{shots}")
    gold_texts = {e.text for e in gold}
    pool = [e for e in read_banking_split(d / "train", labeled=False) if e.text not in gold_texts]
    spec = TaskSpec(
        name=name,
        language="en",
        labels=banking_labels(gold),
        gold=gold,
        dev=read_banking_split(d / "valid") if (d / "valid").is_dir() else [],
        test=read_banking_split(d / "test") if (d / "test").is_dir() else [],
        unlabeled=pool,
    )
    return check_spec(spec)
