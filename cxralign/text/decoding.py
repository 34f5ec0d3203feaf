"""Bytes -> text for reports whose encoding nobody recorded, and a test for bytes that are not
text at all. Both the ingest stage (:mod:`cxralign.io.reports`) and the text stage use it, so a
report reads the same wherever it is decoded.

Order: a byte-order mark decides first (UTF-32, UTF-8, UTF-16: a Windows editor's "Unicode" text
is UTF-16 with a BOM, and without this check its ASCII bytes decoded as cp1252 alternate with
NULs); then UTF-16 without a BOM when at least a quarter of the bytes are NUL, on the side where
they fall; then UTF-8 (MIMIC-CXR, OpenI); then Windows-1252 (the usual single-byte culprit:
curly quotes, µ, ±); and only then UTF-8 with the stray bytes replaced, so a bad byte costs one
character, never the report. Latin-1 is not tried separately: it accepts every byte, so it would
turn a cp1252 text's 0x80-0x9F punctuation into invisible control characters instead of failing.

Binary content (an image or an archive saved under a report's name) decodes to text full of
control and replacement characters; :func:`looks_binary` says so, and the callers reject it
instead of storing it as a findings section.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

from cxralign.io.rejections import Flag

# Longest BOM first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL: Final = dict.fromkeys(range(0, 32), " ")
for _keep in (ord("\n"), ord("\t")):
    del _CONTROL[_keep]
# C0/C1 controls other than white space, and the replacement character.
_NOT_TEXT: Final = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
BINARY_SHARE: Final = 0.02  # more than this share of such characters (and > 8) is not a report
BINARY_MIN: Final = 8


def decode_bytes(data: bytes) -> tuple[str, tuple[str, ...]]:
    """The text of ``data`` and its quality flags (``Flag.REPORT_ENCODING_FALLBACK`` when it was
    not UTF-8/16/32, ``Flag.REPORT_BYTES_REPLACED`` when bytes had to be replaced)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _strict_or_replaced(data, codec)
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        return _strict_or_replaced(data, utf16)
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), (Flag.REPORT_ENCODING_FALLBACK,)
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), (Flag.REPORT_BYTES_REPLACED,)


def _strict_or_replaced(data: bytes, codec: str) -> tuple[str, tuple[str, ...]]:
    try:
        return data.decode(codec), ()
    except UnicodeDecodeError:
        return data.decode(codec, errors="replace"), (Flag.REPORT_BYTES_REPLACED,)


def _bomless_utf16(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when a quarter of the bytes are NUL and nearly all of them fall on
    odd (LE: ASCII letter, then 0) or even (BE) positions; else None."""
    if len(data) < 4 or len(data) % 2 or data.count(0) < len(data) // 4:
        return None
    odd = data[1::2].count(0)
    even = data[0::2].count(0)
    if odd >= 0.9 * (odd + even):
        return "utf-16-le"
    if even >= 0.9 * (odd + even):
        return "utf-16-be"
    return None


def looks_binary(text: str) -> bool:
    """True when more than ``BINARY_SHARE`` of the characters (and more than ``BINARY_MIN``)
    are control or replacement characters: bytes that were never text."""
    suspicious = len(_NOT_TEXT.findall(text))
    return suspicious > BINARY_MIN and suspicious > BINARY_SHARE * len(text)


def decode_report(data: bytes | str) -> tuple[str | None, tuple[str, ...]]:
    """The report's text (CRLF/CR -> LF, other control characters -> space) and its quality
    flags; the text is None when the content is binary (:func:`looks_binary`)."""
    text, flags = decode_bytes(data) if isinstance(data, bytes) else (data, ())
    if looks_binary(text):
        return None, flags
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL), flags
