"""Report sections: MIMIC-CXR free text, OpenI XML and CSV text -> findings, impression,
indication, comparison, history, technique.

Free text: a heading is a known name at the start of a line or after a sentence end, followed by
a colon, or alone on its line without one; any case ("Impression:", "FINDINGS", "findings:").
A section runs to the next heading. "FINAL REPORT", "WET READ", "ADDENDUM" and the like are
recognised so their words are not mistaken for content, but their text is not a section; a
WET READ is a preliminary reading and is dropped. Text before the first heading (or under FINAL
REPORT) that no FINDINGS heading claims becomes the findings: older reports put the findings
there. A report without any recognisable heading is all findings (``has_headings`` False).

A report with neither a FINDINGS nor an IMPRESSION heading often puts its body as a paragraph
after a one-line heading ("EXAMINATION:  CHEST (PA AND LAT)", a blank line, then the findings
with no heading of their own). In such a report, text after the first blank line of a section
whose content before that blank line is a single line is unlabelled, so it becomes the findings;
a heading's content that runs over several lines is left whole (a wrapped indication is not a
body). Reports with a FINDINGS or IMPRESSION heading are never split this way.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from cxralign.text.decoding import decode_report
from cxralign.text.normalise import normalise_text

FIELDS: Final = ("findings", "impression", "indication", "comparison", "history", "technique")
_UNLABELLED: Final = "unlabelled"
_DROPPED: Final = "dropped"

_HEADINGS: Final[dict[str, str]] = {
    r"findings?(?: and impressions?)?": "findings",
    r"(?:report|body of report)": "findings",
    r"impressions?|conclusions?|summary|opinion|impression and recommendations?": "impression",
    r"(?:clinical )?indications?|reason for (?:the )?(?:exam(?:ination)?|study|request)"
    r"|clinical question": "indication",
    r"(?:clinical |patient |medical )?history|clinical (?:information|details|data)": "history",
    r"comparisons?|prior studies|prior exams?": "comparison",
    r"technique|examination|exam|procedure|study|views?|type of (?:exam|study)": "technique",
    r"final report|preliminary report": _UNLABELLED,
    r"addendum|notification|recommendations?|wet read(?: version #?\d+)?": _DROPPED,
}
_HEADING_RE: Final = re.compile(
    r"(?:^|(?<=[.;!?])[ \t]+)[ \t]*(?P<name>"
    + "|".join(f"(?:{pattern})" for pattern in _HEADINGS)
    + r")[ \t]*(?::|(?=\n|\Z))",
    re.IGNORECASE | re.MULTILINE,
)
_BLANK_LINE: Final = re.compile(r"\n[ \t]*\n")
_COMPILED_NAMES: Final = [(re.compile(p, re.IGNORECASE), field) for p, field in _HEADINGS.items()]
_OPENI_LABELS: Final = {"FINDINGS": "findings", "IMPRESSION": "impression",
                        "INDICATION": "indication", "COMPARISON": "comparison",
                        "HISTORY": "history", "TECHNIQUE": "technique"}


class Reason:
    """Rejection codes of the sections stage (``rejected_inputs.reason``)."""

    EMPTY: Final = "report_empty"
    UNREADABLE: Final = "report_unreadable"
    BINARY: Final = "report_binary"
    XML_UNSAFE: Final = "report_xml_unsafe"
    TOO_LONG: Final = "report_too_long"
    NO_FINDINGS: Final = "no_findings_or_impression"
    NO_STUDY_ID: Final = "study_id_missing"
    DUPLICATE_STUDY: Final = "study_id_duplicate"


class SectionRejection(Exception):
    """A report that yields no sections; ``detail`` is built from fixed words only (no PHI)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Sections:
    """The sections of one report (None when absent) and whether it had any heading.

    ``has_headings`` is True when any section heading (not FINAL REPORT, WET READ and the like)
    was recognised; it does not say the findings were labelled: unlabelled text becomes the
    findings of a report with headings too (see the module docstring).
    """

    findings: str | None = None
    impression: str | None = None
    indication: str | None = None
    comparison: str | None = None
    history: str | None = None
    technique: str | None = None
    has_headings: bool = True


def _field_of(name: str) -> str:
    normalised = " ".join(name.split())
    for pattern, field in _COMPILED_NAMES:
        if pattern.fullmatch(normalised):
            return field
    raise AssertionError(f"heading {name!r} matched the heading regex but no table row")


def _clean(text: str) -> str | None:
    text = text.strip()
    return text or None


def _join(parts: list[str]) -> str | None:
    return _clean("\n".join(part.strip() for part in parts if part.strip()))


def _body_after_one_line(field: str, content: str) -> list[tuple[str, str]]:
    """``content`` of a ``field`` heading, with the paragraph after a one-line content split off
    as unlabelled text ("EXAMINATION:  CHEST (PA AND LAT)", blank line, body)."""
    if field in (_UNLABELLED, _DROPPED):
        return [(field, content)]
    parts = _BLANK_LINE.split(content.strip(), maxsplit=1)
    if len(parts) < 2 or "\n" in parts[0]:
        return [(field, content)]
    return [(field, parts[0]), (_UNLABELLED, parts[1])]


def parse_free_text(text: str) -> Sections:
    """Sections of a MIMIC-CXR style or CSV free-text report."""
    pieces: list[tuple[str, str]] = []
    field, position, has_headings = _UNLABELLED, 0, False
    for match in _HEADING_RE.finditer(text):
        pieces.append((field, text[position : match.start()]))
        field = _field_of(match.group("name"))
        has_headings = has_headings or field not in (_DROPPED, _UNLABELLED)
        position = match.end()
    pieces.append((field, text[position:]))
    if not any(name in ("findings", "impression") for name, _ in pieces):
        pieces = [split for piece in pieces for split in _body_after_one_line(*piece)]
    collected: dict[str, list[str]] = {}
    for name, content in pieces:
        collected.setdefault(name, []).append(content)
    values = {name: _join(collected.get(name, [])) for name in FIELDS}
    unlabelled = _join(collected.get(_UNLABELLED, []))
    if values["findings"] is None and unlabelled is not None:
        values["findings"] = unlabelled
    return Sections(**values, has_headings=has_headings)


def parse_openi_xml(text: str) -> Sections:
    """Sections of an OpenI report (``<AbstractText Label="FINDINGS">``). Entities can only be
    declared in a document type declaration, so a document with one is parsed by defusedxml,
    which rejects entity declarations (a "billion laughs" expansion) and external references
    instead of expanding them; one without is parsed by the standard library's C parser, three
    times faster than defusedxml's pure-Python one and just as safe there. ``text`` is already
    decoded, so no encoding can hide the declaration from the check."""
    text = text.lstrip("\ufeff")
    parse = SafeET.fromstring if "<!DOCTYPE" in text else ET.fromstring
    try:
        root = parse(text)
    except ET.ParseError as error:
        raise SectionRejection(Reason.UNREADABLE, f"XML parse error at line {error.position[0]}") from None
    except DefusedXmlException as error:
        raise SectionRejection(
            Reason.XML_UNSAFE, f"XML declares entities or external references ({type(error).__name__})"
        ) from None
    values: dict[str, str | None] = {}
    for element in root.iter("AbstractText"):
        field = _OPENI_LABELS.get((element.get("Label") or "").upper())
        if field is not None:
            values[field] = _clean("".join(element.itertext()))
    return Sections(**values, has_headings=bool(values))


def parse_report(data: bytes | str, report_format: str, max_chars: int | None = None) -> Sections:
    """Sections of one report in ``report_format`` (``openi_xml`` or a free-text format), read
    from its normalised text (:mod:`cxralign.text.normalise`).

    Raises :class:`SectionRejection` for an empty, binary, unreadable or unsafe report, one
    longer than ``max_chars`` characters (checked before any parsing, so its cost is bounded),
    or one with neither findings nor impression text.
    """
    text, _flags = decode_report(data)
    if text is None:
        raise SectionRejection(Reason.BINARY, "report content is binary, not text")
    if max_chars is not None and len(text) > max_chars:
        raise SectionRejection(Reason.TOO_LONG, f"report has {len(text)} characters (limit {max_chars})")
    text = normalise_text(text)
    if not text.strip():
        raise SectionRejection(Reason.EMPTY, "report text is empty")
    sections = parse_openi_xml(text) if report_format == "openi_xml" else parse_free_text(text)
    if sections.findings is None and sections.impression is None:
        raise SectionRejection(Reason.NO_FINDINGS, f"{report_format} report has no findings or impression")
    return sections
