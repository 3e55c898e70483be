"""Text helpers shared by the filters, dedup and diversity statistics.

Chinese has no spaces, so every comparison works on character n-grams of a
normalised text (lower-cased, whitespace and punctuation dropped); English uses
longer character n-grams so shared short words do not make unrelated
sentences look alike.
"""

from __future__ import annotations

import re
import unicodedata

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
SHINGLE_N = {"zh": 3, "en": 5}
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def is_cjk(ch: str) -> bool:
    """True for CJK unified ideographs (basic block and extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def normalize(text: str) -> str:
    """Lower-cased NFKC text without whitespace or punctuation: the key for exact duplicates."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


def char_ngrams(text: str, n: int) -> list[str]:
    """Character n-grams of ``text`` (the whole text when it is shorter than ``n``)."""
    if len(text) <= n:
        return [text] if text else []
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def shingles(text: str, language: str) -> frozenset[str]:
    """The set of normalised character n-grams used for overlap and duplicate checks."""
    return frozenset(char_ngrams(normalize(text), SHINGLE_N.get(language, 3)))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def overlap(a: frozenset, b: frozenset) -> float:
    """Overlap coefficient |a∩b| / min(|a|,|b|): 1.0 when one text is contained in the other."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def script_ratio(text: str, language: str) -> float:
    """Share of the letters in ``text`` written in the task's script (CJK for zh, ASCII for en).

    Digits, punctuation and spaces do not count either way; a text without any
    letters scores 0. For Chinese a Latin word counts once (as a Chinese
    character would), so brand names like "iPhone" do not outweigh the text.
    """
    if language == "zh":
        text = _LATIN_WORD.sub("a", text)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    if language == "zh":
        good = sum(1 for ch in letters if is_cjk(ch))
    else:
        good = sum(1 for ch in letters if ch.isascii())
    return good / len(letters)


def words(text: str, language: str) -> list[str]:
    """Tokens for distinct-n: characters for Chinese, lower-cased words for English."""
    if language == "zh":
        return [ch for ch in text if not ch.isspace()]
    return re.findall(r"\w+|[^\w\s]", text.lower())
