"""Unicode normalisation of report text before anything reads it.

Reports pasted from word processors or web forms carry characters that look like plain text but
defeat matching: a soft hyphen or a zero-width space inside "pneumo\\u00adthorax" hides the
finding, and a Greek capital Nu in "\\u039do pneumothorax" hides the negation, which turns an
absent finding into a present one. So, in this order:

1. format characters (Unicode category Cf: soft hyphen, zero-width space/joiners, word joiner,
   byte-order mark, bidirectional marks) are removed;
2. NFKC folds compatibility forms (no-break and other odd spaces, full-width letters,
   ligatures, superscript digits) to their plain equivalents;
3. in a word that mixes Latin letters with Greek or Cyrillic ones, or a word of Greek/Cyrillic
   letters that all have a Latin look-alike (``ΝΟ``), each such letter becomes its Latin
   look-alike, from the Unicode confusables data (``confusable_homoglyphs``). A Greek word with a
   letter that has no Latin twin, or a lone symbol such as "μm", is left alone.

The text stage normalises whole reports *before* sectioning, so the stored ``sections`` text is
the normalised text and the ``sentences`` offsets (and the triplets' evidence spans) point into
it exactly; the untouched original stays in the ``reports`` table. Normalising before storing,
rather than keeping an offset map from a normalised copy back to the raw text, gives every
reader of ``sections``/``sentences`` (the rule and stanza backends, the text encoder) the same
clean text and keeps one coordinate system.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Final

from confusable_homoglyphs import confusables

_WORD: Final = re.compile(r"[^\W\d_]+")


def normalise_text(text: str) -> str:
    """``text`` with format characters removed, NFKC applied and look-alike letters made Latin."""
    if text.isascii():
        return text
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return _WORD.sub(_latin_word, text)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    if word.isascii():
        return word
    twins = [char if char.isascii() else _latin_twin(char) for char in word]
    if any(twin is None for twin in twins) and not any(char.isascii() for char in word):
        return word  # a word of another script, not a disguised Latin one
    return "".join(twin or char for twin, char in zip(twins, word, strict=True))


@cache
def _latin_twin(char: str) -> str | None:
    """The ASCII letter ``char`` is confusable with, for Greek and Cyrillic letters only."""
    if not unicodedata.name(char, "").startswith(("GREEK", "CYRILLIC")):
        return None
    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=True) or []
    for item in found:
        for glyph in item["homoglyphs"]:
            if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalpha():
                return glyph["c"]
    return None
