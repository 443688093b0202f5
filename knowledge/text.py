"""Text normalization shared by documents and questions.

Documents and questions go through the *same* :func:`normalize` so that a
traditional-character or full-width question matches simplified passages.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc

CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
CJK_PUNCT = "，。、；：！？（）《》“”‘’【】—…·〔〕"
_CJK_RE = re.compile(f"[{CJK}]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\ufeff\ud800-\udfff]")
_SPACE_RE = re.compile(r"[ \t\u3000\u00a0]+")
# A space between two CJK characters (or CJK and a digit) is PDF debris, not a word break.
_CJK_SPACE_RE = re.compile(
    f"(?<=[{CJK}{CJK_PUNCT}0-9])[ \t\u3000\u00a0]+(?=[{CJK}{CJK_PUNCT}])"
    f"|(?<=[{CJK}{CJK_PUNCT}])[ \t\u3000\u00a0]+(?=[0-9])"
)
_SENTENCE_RE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s``)."""
    return str(_t2s().convert(text))


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def strip_control(text: str) -> str:
    """Drop control and zero-width characters, keep newlines and tabs."""
    return _CONTROL_RE.sub("", text)


def squeeze_cjk_spaces(text: str) -> str:
    """Remove spaces that sit between CJK characters (PDF and web debris)."""
    return _CJK_SPACE_RE.sub("", text)


def normalize(text: str) -> str:
    """Canonical form for matching: NFKC (full-width → half-width), simplified,
    lower-case, no control characters, single spaces."""
    text = unicodedata.normalize("NFKC", strip_control(text))
    text = to_simplified(text).lower()
    text = squeeze_cjk_spaces(text)
    return _SPACE_RE.sub(" ", text).strip()


_ASCII_TO_FULL = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"}
_PUNCT_NEAR_CJK = re.compile(f"(?<=[{CJK}）》”])([,:;?!])|([,:;?!])(?=[{CJK}（《“])")
_PAREN_RE = re.compile(r"\(([^()\n]{0,40})\)")


def to_display(text: str) -> str:
    """Tidy a passage for reading: Chinese punctuation next to Chinese text."""
    text = _PUNCT_NEAR_CJK.sub(lambda m: _ASCII_TO_FULL[m.group(1) or m.group(2)], text)

    def paren(m: re.Match[str]) -> str:
        inner = m.group(1)
        return f"（{inner}）" if has_cjk(inner) else m.group(0)

    text = _PAREN_RE.sub(paren, text)
    return squeeze_cjk_spaces(text).strip()


def split_sentences(text: str) -> list[str]:
    """Split at Chinese and Western sentence ends, keeping the punctuation."""
    return [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()]


def pack_sentences(text: str, limit: int, *, hard_cut: bool = False) -> list[str]:
    """Group consecutive sentences into pieces of about ``limit`` characters.

    With ``hard_cut``, a run with no sentence ends (voice-to-text) longer than
    twice the limit is cut by length, half a piece overlapping the next.
    """
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if current and len(current) + len(sentence) > limit:
            pieces.append(current)
            current = ""
        current += sentence
        while hard_cut and len(current) > 2 * limit:
            pieces.append(current[:limit])
            current = current[limit // 2 :]
    if current:
        pieces.append(current)
    return pieces


def read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Entries of a jieba user dictionary (lines ``word [freq] [tag]``; ``#`` starts a comment line)."""
    entries: list[tuple[str, int | None, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append((parts[0], freq, tag))
    return entries
