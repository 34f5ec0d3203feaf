"""Sentence splitting for radiology report sections, with character offsets.

A sentence ends at ``.``/``!``/``?`` followed by white space (or glued to a capitalised word:
"bilaterally.There"), at a blank line, and before a list item ("1. ...", "2) ...", "- ...").
It does not end after a title ("Dr.", "Mr."), after another abbreviation ("e.g.", "approx.",
"vs.") unless a capital letter follows, inside a number ("3.5 cm": no white space), or after a
list marker at the start of a sentence ("1. No acute disease" is one sentence, the marker left
out of its span). De-identification tokens ("XXXX", "___") are ordinary words. Spans are trimmed
and a span without a letter or digit ("." left over from "disease. .") is not a sentence.

A sentence longer than ``max_chars`` (a run-on text without full stops) is cut into pieces of
at most that length, each ending at the last ``;``/``,`` or else the last space of its window
(a hard cut only inside one over-long word). Every step looks at a bounded window, so splitting
is linear in the text length.
"""

from __future__ import annotations

import re
from typing import Final

_TITLES: Final = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "drs"})
_ABBREVIATIONS: Final = frozenset(
    {"e.g", "i.e", "eg", "ie", "approx", "vs", "etc", "a.m", "p.m", "cf", "fig", "incl", "resp",
     "esp", "min", "sec", "hr", "hrs", "pt", "pts", "ca", "dept", "u.s", "nos", "vol", "ref", "al",
     "jr", "sr"}
)
_BOUNDARY: Final = re.compile(
    r"[.!?]+(?=\s|$)"  # end punctuation before white space
    r"|\.(?=[A-Z][a-z])"  # glued: "bilaterally.There"
    r"|\n[ \t]*\n"  # blank line
    r"|\n(?=[ \t]*(?:[-*\u2022]|\d{1,2}[.)])\s)"  # a new line that starts a list item
    r"|(?<=[^\s.:;])[ \t]+(?=(?:[2-9]|1\d)[.)][ \t]+[A-Z])"  # "disease 2. Stable": list in a line
)
_MARKER: Final = re.compile(r"[ \t]*(?:[-*\u2022]|\d{1,2}[.)])[ \t]+")
_WORD_BEFORE: Final = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_HAS_WORD: Final = re.compile(r"\w")
_LOOK_BACK: Final = 40  # characters before a full stop that decide whether it ends a sentence


def _is_boundary(text: str, match: re.Match[str], sentence_start: int) -> bool:
    if not match.group().startswith("."):
        return True
    before = text[max(sentence_start, match.start() - _LOOK_BACK) : match.start()]
    if before.strip().isdigit() and len(before.strip()) <= 2:
        return False  # "1." opening a list item
    word = _WORD_BEFORE.search(before)
    if word is None:
        return True
    token = word.group(1).lower().rstrip(".")
    if token in _TITLES or (len(token) == 1 and word.group(1).isupper()):
        return False  # "Dr. Smith", initials
    if token in _ABBREVIATIONS:
        following = text[match.end() :].lstrip()
        return bool(following) and following[0].isupper()
    return True


def split_sentences(text: str, max_chars: int | None = None) -> list[tuple[int, int]]:
    """``(char_start, char_end)`` of each sentence of ``text``, in order; none longer than
    ``max_chars`` when given."""
    spans = _sentence_spans(text)
    if max_chars is None or all(end - start <= max_chars for start, end in spans):
        return spans
    return [piece for start, end in spans for piece in _pieces(text, start, end, max_chars)]


def _pieces(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into trimmed pieces of at most ``max_chars`` characters."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max(window.rfind(";"), window.rfind(","))
        if cut <= 0:
            cut = window.rfind(" ")
        cut = start + (cut + 1 if cut > 0 else max_chars)
        _append(text, start, cut, pieces)
        start = cut
    _append(text, start, end, pieces)
    return pieces


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.start() < start or not _is_boundary(text, match, start):
            continue
        end = match.end() if match.group()[:1] in ".!?" else match.start()
        _append(text, start, end, spans)
        start = match.end()
    _append(text, start, len(text), spans)
    return spans


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    marker = _MARKER.match(text, start, end)
    if marker is not None:
        start = marker.end()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if _HAS_WORD.search(text, start, end):
        spans.append((start, end))
