"""Report-text scrubbing: names, dates, times, phones, IDs, emails and addresses -> typed tags.

Two sources of PHI are looked for. The study's own header values (patient and clinician names,
MRN, accession number, institution) are matched as whole words, case-insensitively, part by
part, so "Lee" goes but "marked" survives a header name "MARK". Then patterns find what the
header does not name: dates (numeric and written), times, phone and pager numbers, labelled and
long identifiers, emails, street addresses, and names after a title ("Dr. X"), before a
credential ("X, MD"), after a label ("Patient: X") or after a verb of communication
("discussed with X"). Each hit becomes a typed placeholder (``[NAME]``, ``[DATE]``, ...); a date
that parses and a patient offset given becomes the shifted date instead, so the text keeps
intervals the way the ``study_date`` column does.

No library fitted (see ``benchmarks/RESULTS.md``, "De-identification"): philter-lite's default pipeline calls
NLTK's POS tagger, whose model NLTK downloads at run time; presidio needs a spaCy model that is
not on PyPI; ``deidentify`` pins spaCy 2 and flair 0.4-era models. Radiology reports are short
and formulaic, and the patterns here are measured on IU reports with injected PHI.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

NAME: Final = "NAME"
DATE: Final = "DATE"
TIME: Final = "TIME"
PHONE: Final = "PHONE"
ID: Final = "ID"
EMAIL: Final = "EMAIL"
ADDRESS: Final = "ADDRESS"
PHI_KINDS: Final = (NAME, DATE, TIME, PHONE, ID, EMAIL, ADDRESS)

_MONTH: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY: Final = r"\d{1,2}(?:st|nd|rd|th)?"
# A capitalised name word: Lee, O'Connor, McDonald, Smith-Jones.
_CAPITALISED: Final = r"(?:[A-Z]['’])?[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?\b"
_NAME_WORDS: Final = rf"(?:[A-Z]{{2,}}\b|{_CAPITALISED})(?:[ \t]+{_CAPITALISED}){{0,2}}"
# Words that follow "discussed with" and are no name (titles are matched by their own pattern).
_NOT_A_NAME: Final = (
    r"dr|doctor|mr|mrs|ms|miss|prof|the|a|an|patient|family|emergency|nurse|nursing|team"
    r"|referring|ordering|covering|radiology|clinician|physician|provider|staff|house"
)
_STREET_SUFFIX: Final = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    r"|Parkway|Pkwy|Circle|Cir|Terrace|Highway|Hwy)"
)


@dataclass(frozen=True)
class _Pattern:
    """One detector: a regex, the kind it finds, and which group is the PHI (0: all of it)."""

    kind: str
    regex: re.Pattern[str]
    group: int = 0
    # Date formats tried, in order, on the matched text (``strptime``); empty: never shifted.
    date_formats: tuple[str, ...] = ()


def _p(kind: str, pattern: str, group: int = 0, formats: tuple[str, ...] = (),
       flags: int = re.IGNORECASE) -> _Pattern:
    return _Pattern(kind, re.compile(pattern, flags), group, formats)


# Earlier patterns win ties (same start, same length).
PATTERNS: Final[tuple[_Pattern, ...]] = (
    _p(EMAIL, r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # Dates with a year: shifted when they parse.
    _p(DATE, r"\b(?:19|20)\d\d-\d{1,2}-\d{1,2}\b", formats=("%Y-%m-%d",)),
    _p(DATE, r"\b(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b", formats=("%Y%m%d",)),
    _p(DATE, r"\b\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})\b",
       formats=("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m-%d-%y", "%m.%d.%Y", "%d.%m.%Y",
                "%d/%m/%Y")),
    _p(DATE, rf"\b{_MONTH}[ \t]+{_DAY},?[ \t]+\d{{4}}\b", formats=("%B %d %Y", "%b %d %Y")),
    _p(DATE, rf"\b{_DAY}[ \t]+(?:of[ \t]+)?{_MONTH},?[ \t]+\d{{4}}\b",
       formats=("%d %B %Y", "%d %b %Y")),
    # Partial dates: never shifted (no year, or no day).
    _p(DATE, rf"\b{_MONTH},?[ \t]+\d{{4}}\b"),
    _p(DATE, rf"\b{_MONTH}[ \t]+{_DAY}\b(?!:)"),
    _p(DATE, rf"\b{_DAY}[ \t]+(?:of[ \t]+)?{_MONTH}(?![a-z])"),
    # "3/14" is a date only after a word that introduces one, and never before "of" (a fraction).
    _p(DATE, r"\b(?:on|from|dated|since|of|comparison:?|prior|exam|study)[ \t]+"
             r"((?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))\b(?![/\d]|[ \t]+of\b)", group=1),
    _p(TIME, r"\b\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]*[ap]\.?m\b\.?)?"),
    _p(TIME, r"\b\d{1,2}[ \t]*[ap]\.?m\b\.?"),
    _p(TIME, r"\b\d{4}[ \t]*(?:hours|hrs)\b"),
    _p(PHONE, r"(?<![\w+])(?:\+?1[ \t.-]?)?(?:\(\d{3}\)[ \t]?|\d{3}[ \t.-])\d{3}[ \t.-]\d{4}"
              r"(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,5})?\b"),
    _p(PHONE, r"\b\d{3}-\d{4}\b"),
    _p(PHONE, r"\b(?:pager|beeper|ext\.?|extension|phone|tel\.?|telephone|cell)[ \t]*"
              r"(?:#|no\.?|number)?[ \t]*:?[ \t]*(\d[\d \t.-]{2,}\d)", group=1),
    _p(ID, r"\b(?:MRN|MR[ \t]*#|medical[ \t]+record(?:[ \t]+(?:number|no\.?))?|accession"
           r"(?:[ \t]*(?:number|no\.?|#))?|acc[ \t]*(?:#|no\.?)|account(?:[ \t]*(?:number|no\.?|#))?"
           r"|(?:patient|pt)[ \t]+id|unit[ \t]+(?:number|no\.?)|case[ \t]*(?:number|no\.?|#)|ID|SSN)"
           r"[ \t]*[:#]?[ \t]*(?:is[ \t]+)?((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{2,})", group=1),
    _p(ID, r"\b\d{3}-\d{2}-\d{4}\b"),
    _p(ID, r"\b[A-Z]{0,3}-?\d{6,}\b"),
    _p(ID, r"\b[A-Z]{1,3}\d{5,}\b", flags=0),
    _p(ADDRESS, rf"\b\d{{1,5}}[ \t]+(?:{_CAPITALISED}\.?[ \t]+){{1,3}}{_STREET_SUFFIX}\b\.?"
                rf"(?:,?[ \t]+(?:Apt|Suite|Unit|#)\.?[ \t]*\w+)?"
                rf"(?:,[ \t]*{_CAPITALISED}(?:[ \t]+{_CAPITALISED})*)?"
                rf"(?:,?[ \t]*[A-Z]{{2}})?(?:[ \t]+\d{{5}}(?:-\d{{4}})?)?", flags=0),
    _p(ADDRESS, r"\bP\.?[ \t]?O\.?[ \t]+Box[ \t]+\d+", flags=0),
    _p(ADDRESS, rf"\b{_CAPITALISED}(?:[ \t]+{_CAPITALISED})*,[ \t]*[A-Z]{{2}}[ \t]+\d{{5}}"
                r"(?:-\d{4})?\b", flags=0),
    _p(NAME, rf"\b(?i:dr|doctor|mr|mrs|ms|miss|mx|prof|professor)\.?[ \t]+"
             rf"((?:[A-Z]\.[ \t]*)*{_NAME_WORDS})", group=1, flags=0),
    _p(NAME, rf"\b({_CAPITALISED}(?:[ \t]+[A-Z]\.?)?(?:[ \t]+{_CAPITALISED}){{1,2}}),?[ \t]+"
             r"(?:M\.?D|D\.?O|R\.?N|PA-C|NP|Ph\.?D)\b\.?", group=1, flags=0),
    _p(NAME, r"\b(?i:patient[ \t]+name|patient|name|pt|radiologist|physician|attending|resident"
             r"|(?:signed|dictated|read|reviewed|verified)[ \t]+by)[ \t]*:[ \t]*"
             rf"({_CAPITALISED}(?:,?[ \t]+{_CAPITALISED}){{0,2}})", group=1, flags=0),
    _p(NAME, r"\b(?i:discussed[ \t]+with|called[ \t]+to|notified|communicated[ \t]+to|informed"
             r"|paged|conveyed[ \t]+to|reported[ \t]+to|spoke[ \t]+with)[ \t]+"
             rf"(?!(?i:{_NOT_A_NAME})\b)({_CAPITALISED}(?:[ \t]+{_CAPITALISED}){{0,2}})",
       group=1, flags=0),
)


@dataclass(frozen=True)
class Scrubbed:
    """Scrubbed text and how many spans of each kind were replaced."""

    text: str
    replaced: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.replaced.values())


@dataclass(frozen=True, order=True)
class _Span:
    start: int
    end: int
    rank: int
    kind: str
    replacement: str


def scrub_report(
    text: str, header_values: Iterable[str] = (), offset: timedelta | None = None
) -> Scrubbed:
    """Replace PHI in ``text``: header values of the study and pattern hits, leftmost-longest.

    ``offset`` is the patient's date shift (:func:`cxralign.io.date_shift.date_offset`); without
    it every date becomes ``[DATE]``.
    """
    spans = [*_header_spans(text, header_values), *_pattern_spans(text, offset)]
    spans.sort(key=lambda s: (s.start, -(s.end - s.start), s.rank))
    pieces: list[str] = []
    replaced: Counter[str] = Counter()
    cursor = 0
    for span in spans:
        if span.start < cursor:
            continue
        pieces += [text[cursor:span.start], span.replacement]
        replaced[span.kind] += 1
        cursor = span.end
    pieces.append(text[cursor:])
    return Scrubbed("".join(pieces), replaced)


def placeholder(kind: str) -> str:
    return f"[{kind}]"


def _header_spans(text: str, values: Iterable[str]) -> list[_Span]:
    """Whole-word, case-insensitive hits of the header values, longest value first."""
    ordered = sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True)
    if not ordered:
        return []
    alternatives = "|".join(re.escape(value) for value in ordered)
    regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    # Header values with a digit are identifiers (MRN, accession); the rest name someone/where.
    return [
        _Span(m.start(), m.end(), -1, kind, placeholder(kind))
        for m in regex.finditer(text)
        for kind in [ID if any(c.isdigit() for c in m.group()) else NAME]
    ]


def _pattern_spans(text: str, offset: timedelta | None) -> list[_Span]:
    spans = []
    for rank, pattern in enumerate(PATTERNS):
        for match in pattern.regex.finditer(text):
            start, end = _trimmed(text, *match.span(pattern.group))
            if end > start:
                replacement = _replacement(pattern, match.group(pattern.group), offset)
                spans.append(_Span(start, end, rank, pattern.kind, replacement))
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in " \t,":
        end -= 1
    return start, end


def _replacement(pattern: _Pattern, found: str, offset: timedelta | None) -> str:
    if offset is not None and pattern.date_formats:
        parsed = parse_written_date(found, pattern.date_formats)
        if parsed is not None:
            return (parsed + offset).isoformat()
    return placeholder(pattern.kind)


def parse_written_date(found: str, formats: Iterable[str]) -> date | None:
    """``found`` parsed by the first matching format, after normalising ordinals, commas,
    "of" and month abbreviations ("Sept." -> "Sep")."""
    cleaned = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", found, flags=re.IGNORECASE)
    cleaned = re.sub(r"\bof\b|,|(?<=[A-Za-z])\.", " ", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(r"\bsept\b", "sep", " ".join(cleaned.split()), flags=re.IGNORECASE)
    for fmt in formats:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None
