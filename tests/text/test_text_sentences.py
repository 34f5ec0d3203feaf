"""Sentence splitting and the sentences table."""

from __future__ import annotations

import pyarrow as pa

from cxralign.text.pipeline import sentences_table
from cxralign.text.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_abbreviations_and_decimals_do_not_end_a_sentence():
    text = "Findings discussed with Dr. Smith at 3 p.m. by phone. Nodule measures approx. 3.5 cm, e.g. stable."
    assert sentences(text) == [
        "Findings discussed with Dr. Smith at 3 p.m. by phone.",
        "Nodule measures approx. 3.5 cm, e.g. stable.",
    ]


def test_numbered_lists_split_and_drop_their_markers():
    text = "1. Stable mild cardiomegaly. 2. No evidence of active cardiopulmonary disease."
    assert sentences(text) == ["Stable mild cardiomegaly.", "No evidence of active cardiopulmonary disease."]
    assert sentences("No acute disease 2. Stable heart size") == ["No acute disease", "Stable heart size"]


def test_deid_tokens_glued_sentences_and_stray_periods():
    text = "There are no XXXX of a pleural effusion. Lungs are clear bilaterally.There is no ___. ."
    assert sentences(text) == [
        "There are no XXXX of a pleural effusion.",
        "Lungs are clear bilaterally.",
        "There is no ___.",
    ]


def test_offsets_point_into_the_section_text():
    text = "  Heart size normal.\n\nLungs clear"
    for start, end in split_sentences(text):
        assert text[start:end] == text[start:end].strip() and text[start:end]
    assert sentences(text) == ["Heart size normal.", "Lungs clear"]


def test_sentence_index_runs_over_findings_then_impression():
    sections = pa.table(
        {
            "study_id": ["a"],
            "findings": ["Heart normal. Lungs clear."],
            "impression": ["No acute disease."],
        }
    )
    rows = sentences_table(sections).to_pylist()
    assert [(r["sentence_index"], r["section"], r["text"]) for r in rows] == [
        (0, "findings", "Heart normal."),
        (1, "findings", "Lungs clear."),
        (2, "impression", "No acute disease."),
    ]
    assert rows[1]["char_start"] == 14 and rows[1]["char_end"] == 26
