"""Table-level API of the text stage (what the Dagster assets and the CLI call).

``sections_table`` -> ``sentences_table`` -> ``triplets_table``; each takes and returns Arrow
tables with the columns of DESIGN.md, and ``sections_table`` returns its rejected reports as
``rejected_inputs`` rows instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import pyarrow as pa

from cxralign.io.rejections import RejectedInput, rejected_table
from cxralign.text.sections import FIELDS, Reason, SectionRejection, parse_report
from cxralign.text.sentences import split_sentences
from cxralign.text.settings import TextLimits
from cxralign.text.stanza_backend import StanzaParser, models_available
from cxralign.text.triplets import RuleParser, Triplet

STAGE: Final = "report_sections"
# Sentences are numbered in reading order over these sections (the ones triplets come from).
SENTENCE_SECTIONS: Final = ("findings", "impression")

SECTIONS_SCHEMA: Final = pa.schema(
    [("study_id", pa.string())]
    + [(name, pa.string()) for name in FIELDS]
    + [("has_headings", pa.bool_()), ("source_format", pa.string())]
)
SENTENCES_SCHEMA: Final = pa.schema(
    [
        ("study_id", pa.string()),
        ("sentence_index", pa.int32()),
        ("section", pa.string()),
        ("text", pa.string()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
    ]
)
TRIPLETS_SCHEMA: Final = pa.schema(
    [
        ("study_id", pa.string()),
        ("sentence_index", pa.int32()),
        ("region", pa.string()),
        ("finding", pa.string()),
        ("existence", pa.string()),
        ("evidence", pa.string()),
        ("cue", pa.string()),
    ]
)

class TripletParser(Protocol):
    """What a triplet backend offers (the rule and the stanza backends)."""

    backend_name: str

    def parse(self, sentence: str) -> list[Triplet]: ...

    def parse_many(self, sentences: Sequence[str]) -> list[list[Triplet]]: ...


def load_parser(backend: str = "auto") -> TripletParser:
    """``rules``, ``stanza`` (RuntimeError without installed models) or ``auto`` (stanza when
    its models are installed, else rules). ``parser.backend_name`` says which one it is."""
    if backend == "rules":
        return RuleParser()
    if backend == "stanza":
        return StanzaParser.from_installed_models()
    if backend == "auto":
        return StanzaParser.from_installed_models() if models_available() else RuleParser()
    raise ValueError(f"unknown triplet backend {backend!r}: use auto, rules or stanza")


def sections_table(
    reports: pa.Table, limits: TextLimits | None = None
) -> tuple[pa.Table, pa.Table]:
    """Sections of each report, and the rejected reports (one row each, with a reason).

    Input columns: ``study_id``, ``report_text`` (string or binary), ``report_format``
    (``mimic_txt``, ``openi_xml``, ``csv_text``, ``txt``; default ``txt`` when the column is
    absent) and optionally ``source_path_hash`` or, in file mode, ``source_label`` (else the
    study id names a rejected report).
    A row without a study id is rejected, and so is every row after the first with the same
    study id (a study has one report; which one is right cannot be told, so the first wins and
    the others are named, not merged).
    """
    limits = limits or TextLimits()
    rows = reports.to_pydict()
    count = reports.num_rows
    formats = rows.get("report_format") or ["txt"] * count
    sources = rows.get("source_path_hash") or rows.get("source_label") or rows["study_id"]
    kept: list[dict[str, object]] = []
    rejected: list[RejectedInput] = []
    seen: set[str] = set()
    for study_id, text, report_format, source in zip(
        rows["study_id"], rows["report_text"], formats, sources, strict=True
    ):
        try:
            _check_study_id(study_id, seen)
            sections = parse_report(text or "", report_format, limits.max_report_chars)
        except SectionRejection as rejection:
            rejected.append(RejectedInput(source, rejection.reason, rejection.detail, stage=STAGE))
            continue
        row = {name: getattr(sections, name) for name in FIELDS}
        kept.append(
            {"study_id": study_id, **row, "has_headings": sections.has_headings,
             "source_format": report_format}
        )
    return pa.Table.from_pylist(kept, schema=SECTIONS_SCHEMA), rejected_table(rejected)


def _check_study_id(study_id: str | None, seen: set[str]) -> None:
    if not (study_id or "").strip():
        raise SectionRejection(Reason.NO_STUDY_ID, "the report has no study id")
    if study_id in seen:
        raise SectionRejection(Reason.DUPLICATE_STUDY, "an earlier report has the same study id")
    seen.add(study_id)


def sentences_table(sections: pa.Table, limits: TextLimits | None = None) -> pa.Table:
    """One row per sentence of the findings then the impression of each study (run-on sentences
    cut to ``limits.max_sentence_chars``)."""
    max_chars = (limits or TextLimits()).max_sentence_chars
    columns = sections.select(["study_id", *SENTENCE_SECTIONS]).to_pydict()
    rows: list[dict[str, object]] = []
    for position, study_id in enumerate(columns["study_id"]):
        index = 0
        for section in SENTENCE_SECTIONS:
            text = columns[section][position] or ""
            for start, end in split_sentences(text, max_chars):
                rows.append(
                    {"study_id": study_id, "sentence_index": index, "section": section,
                     "text": text[start:end], "char_start": start, "char_end": end}
                )
                index += 1
    return pa.Table.from_pylist(rows, schema=SENTENCES_SCHEMA)


def triplets_table(sentences: pa.Table, parser: TripletParser) -> pa.Table:
    """One row per triplet of each sentence, parsed by ``parser``."""
    columns = sentences.select(["study_id", "sentence_index", "text"]).to_pydict()
    out: dict[str, list] = {name: [] for name in TRIPLETS_SCHEMA.names}
    parsed = parser.parse_many(columns["text"])
    for study_id, index, triplets in zip(
        columns["study_id"], columns["sentence_index"], parsed, strict=True
    ):
        for triplet in triplets:
            out["study_id"].append(study_id)
            out["sentence_index"].append(index)
            out["region"].append(triplet.region)
            out["finding"].append(triplet.finding)
            out["existence"].append(triplet.existence)
            out["evidence"].append(triplet.evidence)
            out["cue"].append(triplet.cue)
    return pa.Table.from_pydict(out, schema=TRIPLETS_SCHEMA)
