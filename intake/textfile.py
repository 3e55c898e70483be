"""Safe reading of user text files: size limit, strict UTF-8 (BOM-less UTF-16 named), BOM, line endings, splitting.

Every reader in :mod:`intake.readers` goes through :func:`read_user_text`, so
the same limits and the same error messages apply to every format. The limits
are module constants: change them here (or monkeypatch them in tests); they
are read at call time.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from factory.errors import TaskError

# A few-shot task's files are small; the largest bundled pool is ~3 MB.
MAX_FILE_BYTES = 200 * 1024 * 1024
# Longer texts are almost always a broken file (a missing newline or quote).
MAX_TEXT_CHARS = 20_000
MAX_ROWS = 2_000_000

BOM = "\ufeff"


def _fmt_bytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def check_exists(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a :class:`Path`, or raise a :class:`TaskError` if it is missing."""
    p = Path(path).expanduser()
    if not p.exists():
        raise TaskError(
            f"an existing {what}",
            f"{p} does not exist",
            "check the path (relative paths start at the current directory)",
            where=str(p),
        )
    return p


def read_user_text(path: str | os.PathLike) -> str:
    """Read a user file as UTF-8 text, enforcing :data:`MAX_FILE_BYTES`.

    A UTF-8 byte-order mark is stripped (Excel writes one). Invalid bytes raise
    a :class:`TaskError` naming the byte offset and line; so do UTF-16 files (with or
    without a byte-order mark), CR-only line endings, stray CRs and empty files.
    """
    p = check_exists(path)
    if not p.is_file():
        raise TaskError(
            "a regular file",
            f"{p} is a directory or special file",
            "pass the path of the data file itself",
            where=str(p),
        )
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TaskError(
            f"a file of at most {_fmt_bytes(MAX_FILE_BYTES)}",
            f"{_fmt_bytes(size)}",
            "split the file or sample it (few-shot tasks need little data); the limit is intake.textfile.MAX_FILE_BYTES",
            where=p.name,
        )
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise TaskError(
            "a readable file",
            f"{type(e).__name__}: {e.strerror or e}",
            "check the file's permissions and that it is not locked",
            where=p.name,
        ) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TaskError(
            "UTF-8 text",
            "a UTF-16 byte-order mark at offset 0",
            "re-save the file as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)",
            where=p.name,
        )
    utf16 = _utf16_without_bom(raw)
    if utf16:
        raise TaskError(
            "UTF-8 text",
            f"what looks like UTF-16 without a byte-order mark ({utf16}: a NUL byte at every other position)",
            f"save the file as UTF-8 (e.g. `iconv -f {utf16} -t UTF-8 in > out`)",
            where=p.name,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        bad = raw[e.start : e.start + 1].hex()
        raise TaskError(
            "UTF-8 text",
            f"byte 0x{bad} at byte offset {e.start} (line {line}) that is not valid UTF-8",
            "re-save the file as UTF-8 (e.g. `iconv -f GBK -t UTF-8 in > out` for Chinese files from Excel)",
            where=f"{p.name} line {line}",
        ) from None
    if text.startswith(BOM):
        text = text[len(BOM) :]
    if not text.strip():
        raise TaskError(
            "a file with at least one row",
            "an empty file" if not raw else "only whitespace",
            "check that you picked the right file and that it was saved",
            where=p.name,
        )
    _check_line_endings(text, p.name)
    return text


def _utf16_without_bom(raw: bytes, sample: int = 4096) -> str | None:
    """``"UTF-16LE"``/``"UTF-16BE"`` when ``raw`` looks like BOM-less UTF-16, else None.

    UTF-8 text has no NUL bytes, while UTF-16 puts one beside every ASCII character (digits, commas,
    newlines, Latin letters): NULs on one parity only, and the bytes decode as UTF-16, give it away.
    """
    head = raw[:sample]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    for nuls, other, codec in ((odd, even, "UTF-16LE"), (even, odd, "UTF-16BE")):
        if nuls >= max(2, half // 10) and other <= nuls // 10:
            try:
                head.decode(codec)
            except UnicodeDecodeError:
                continue
            return codec
    return None


def _check_line_endings(text: str, name: str) -> None:
    """Refuse CR-only line endings and carriage returns alone inside a line: readers split on LF only.

    A CR-only file would read as one long line (one text, or malformed JSON), and a stray CR would end up
    inside a text, so both are named here with the fix instead of giving a confusing error later.
    """
    if "\r" not in text:
        return
    lone = text.replace("\r\n", "").count("\r")
    if not lone:
        return  # CRLF (Windows) line endings: split_lines drops the CR
    if "\n" not in text:
        raise TaskError(
            "lines ending in LF or CRLF",
            f"the file uses CR line endings (old Mac): {lone} CR and no LF",
            "convert to LF or CRLF (e.g. `tr '\\r' '\\n' < in > out`; Excel: save as 'CSV UTF-8')",
            where=name,
        )
    at = re.search(r"\r(?!\n)", text).start()
    line = text.count("\n", 0, at) + 1
    raise TaskError(
        "lines ending in LF or CRLF",
        f"a stray carriage return (CR, \\r) inside line {line}" + (f" and {lone - 1} more" if lone > 1 else ""),
        "remove the stray CR characters (e.g. `tr -d '\\r' < in > out`)",
        where=f"{name} line {line}",
    )


def split_lines(text: str) -> list[str]:
    """Split on ``"\\n"`` only: texts may hold Unicode line separators that ``splitlines`` breaks on."""
    lines = text.split("\n")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_ROWS:
        raise TaskError(
            f"at most {MAX_ROWS} rows", f"{len(lines)} lines", "sample the file; the limit is intake.textfile.MAX_ROWS"
        )
    return lines


def clean_text(value: str, where: str) -> str:
    """Strip a text and check it is non-empty and within :data:`MAX_TEXT_CHARS`.

    Text is stored verbatim otherwise: a leading ``=``, ``+``, ``-`` or ``@`` is
    kept as plain text (the factory never evaluates cells as formulas).
    """
    text = value.strip()
    if not text:
        raise TaskError(
            "a non-empty text", "an empty or whitespace-only text", "fill in the text or delete the row", where=where
        )
    if "\x00" in text:
        raise TaskError(
            "a text without NUL characters",
            "a NUL (\\x00) character",
            "remove it; a NUL usually means a binary or UTF-16 file read as text",
            where=where,
        )
    # Zero-width and format characters (U+200B, U+FEFF, ...) are invisible: a text made only of them is empty.
    if not "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Zs", "Cc")).strip():
        raise TaskError(
            "a text with visible characters",
            "only invisible characters (zero-width spaces or format marks)",
            "fill in the text or delete the row",
            where=where,
        )
    if len(text) > MAX_TEXT_CHARS:
        raise TaskError(
            f"a text of at most {MAX_TEXT_CHARS} characters",
            f"{len(text)} characters",
            "shorten the text, or check for a missing line break or unclosed quote; the limit is intake.textfile.MAX_TEXT_CHARS",
            where=where,
        )
    return text
