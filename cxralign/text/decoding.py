"""Bytes -> text for reports whose encoding nobody recorded.

UTF-8 first (MIMIC-CXR, OpenI), then Windows-1252 (the usual single-byte culprit: curly quotes,
µ, ±), and only then UTF-8 with the stray bytes replaced, so a bad byte costs one character,
never the report. Latin-1 is not tried separately: it accepts every byte, so it would turn a
cp1252 text's 0x80-0x9F punctuation into invisible control characters instead of failing.
"""

from __future__ import annotations

from typing import Final

from cxralign.io.rejections import Flag

_CONTROL: Final = dict.fromkeys(range(0, 32), " ")
for _keep in (ord("\n"), ord("\t")):
    del _CONTROL[_keep]


def decode_report(data: bytes | str) -> tuple[str, str | None]:
    """The report's text (CRLF/CR -> LF, other control characters -> space) and a quality flag:
    None, ``Flag.REPORT_ENCODING_FALLBACK`` or ``Flag.REPORT_BYTES_REPLACED``."""
    flag = None
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text, flag = data.decode("cp1252"), Flag.REPORT_ENCODING_FALLBACK
            except UnicodeDecodeError:
                text, flag = data.decode("utf-8", errors="replace"), Flag.REPORT_BYTES_REPLACED
    else:
        text = data
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL)
    return text, flag
