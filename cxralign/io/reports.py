"""Report text as written: MIMIC-CXR ``.txt`` files, OpenI XML, CSV inline text.

Reports are stored raw (sections are parsed by a later stage). Encodings are not declared in
these sources, so bytes are decoded by :func:`cxralign.text.decoding.decode_bytes` (byte-order
marks, UTF-16 without one, UTF-8, cp1252, then replacement characters; each fallback is
flagged, none is fatal); binary content is rejected as unreadable. OpenI XML is parsed with
defusedxml: a file that declares entities (a "billion laughs" expansion) or fetches external
ones is rejected, never expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from cxralign.io.rejections import Reason, Rejection
from cxralign.text.decoding import decode_bytes, looks_binary


@dataclass(frozen=True)
class ReportText:
    """A decoded report, the warnings raised while decoding it, and any source labels."""

    text: str
    flags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


def decode_text(raw: bytes) -> ReportText:
    """The text of ``raw`` with its decoding flags; binary content is rejected as unreadable."""
    text, flags = decode_bytes(raw)
    if looks_binary(text):
        raise Rejection(Reason.REPORT_UNREADABLE, "the report holds binary data, not text")
    return ReportText(text, flags)


def read_text_report(path: Path) -> ReportText:
    """A plain-text report file (MIMIC-CXR layout, or a CSV manifest's report_path)."""
    report = decode_text(_read_bytes(path))
    return _non_empty(ReportText(report.text.strip(), report.flags))


def inline_report(text: str) -> ReportText:
    """Report text given inline (a CSV manifest's report_text column)."""
    return _non_empty(ReportText(text.strip()))


def read_openi_report(path: Path) -> ReportText:
    """An OpenI ``<eCitation>`` file: its labelled sections as ``LABEL: text`` paragraphs and
    its MeSH major terms as labels.

    Only the abstract sections are kept: the rest of the XML names image files, authors and
    source URLs, which are identifiers.
    """
    root = _parse_xml(_read_bytes(path))
    paragraphs = []
    for section in root.iter("AbstractText"):
        text = " ".join("".join(section.itertext()).split())
        if text:
            label = (section.get("Label") or "").strip().upper()
            paragraphs.append(f"{label}: {text}" if label else text)
    labels = tuple(
        term.text.strip() for term in root.iterfind("MeSH/major") if term.text and term.text.strip()
    )
    return _non_empty(ReportText("\n\n".join(paragraphs), labels=labels))


def openi_image_ids(path: Path) -> tuple[str, ...]:
    """The ``<parentImage id=...>`` values of an OpenI file; none if it cannot be parsed (the
    report itself is then rejected when read)."""
    try:
        root = _parse_xml(_read_bytes(path))
    except Rejection:
        return ()
    return tuple(
        image.get("id", "").strip() for image in root.iter("parentImage") if image.get("id")
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise Rejection(
            Reason.REPORT_UNREADABLE, f"report file could not be read ({type(error).__name__})"
        ) from None


def _parse_xml(raw: bytes) -> ElementTree.Element:
    try:
        return _parse_safely(raw)
    except ElementTree.ParseError:
        pass
    try:  # undeclared legacy encoding: decode as text and parse that
        return _parse_safely(decode_text(raw).text)
    except ElementTree.ParseError:
        raise Rejection(Reason.REPORT_UNREADABLE, "report XML is not well-formed") from None


def _parse_safely(xml: bytes | str) -> ElementTree.Element:
    try:
        return SafeElementTree.fromstring(xml)
    except DefusedXmlException:
        raise Rejection(
            Reason.REPORT_UNREADABLE, "report XML declares entities or external references"
        ) from None


def _non_empty(report: ReportText) -> ReportText:
    if not report.text:
        raise Rejection(Reason.REPORT_EMPTY, "the report holds no text")
    return report
