"""Hostile and damaged report inputs (issue 13), each built in the test from a real IU report."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pyarrow as pa
import pytest

from cxralign.io.rejections import Rejection
from cxralign.io.reports import decode_text, read_openi_report
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table
from cxralign.text.sections import Reason
from cxralign.text.settings import TextLimits

# A real IU report (findings: "... No pneumothorax or pleural effusion is seen. ...").
REPORT = "1003.xml"


@pytest.fixture(scope="module")
def xml(shared_data: Path) -> str:
    return (shared_data / "iu_xray_reports" / REPORT).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def parser():
    return load_parser("rules")


def _table(texts: list[str | bytes], report_format: str = "openi_xml",
           ids: list[str] | None = None) -> pa.Table:
    return pa.table({
        "study_id": ids or [f"s{i}" for i in range(len(texts))],
        "report_text": texts,
        "report_format": [report_format] * len(texts),
    })


def _existence(parser, texts: list[str | bytes], finding: str) -> set[str]:
    sections, _ = sections_table(_table(texts))
    triplets = triplets_table(sentences_table(sections), parser).to_pylist()
    return {t["existence"] for t in triplets if t["finding"] == finding}


def _rejections(texts: list[str | bytes], report_format: str = "openi_xml",
                ids: list[str] | None = None, limits: TextLimits | None = None) -> list[str]:
    return sections_table(_table(texts, report_format, ids), limits)[1].column("reason").to_pylist()


def test_a_greek_capital_nu_does_not_turn_a_negation_into_a_finding(xml, parser):
    assert _existence(parser, [xml], "pneumothorax") == {"absent"}
    disguised = xml.replace("No pneumothorax", "\u039do pneumothorax")
    assert _existence(parser, [disguised], "pneumothorax") == {"absent"}
    cyrillic = xml.replace("No pneumothorax", "N\u043e pneumothorax")  # Cyrillic small o
    assert _existence(parser, [cyrillic], "pneumothorax") == {"absent"}


@pytest.mark.parametrize("invisible", ["\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_inside_a_word_do_not_hide_the_finding(xml, parser, invisible):
    hidden = xml.replace("pneumothorax", "pneumo" + invisible + "thorax")
    assert _existence(parser, [hidden], "pneumothorax") == {"absent"}
    assert _existence(parser, [hidden.replace("density is present", "density\u00a0is present")],
                      "pneumothorax") == {"absent"}


def test_sentence_offsets_point_into_the_stored_normalised_text(xml):
    noisy = xml.replace("pneumothorax", "pneumo\u00adthorax").replace("Heart", "\uff28eart")
    sections, _ = sections_table(_table([noisy]))
    findings = sections.column("findings")[0].as_py()
    assert "pneumothorax" in findings and findings.startswith("Heart size")
    for row in sentences_table(sections).to_pylist():
        text = sections.column(row["section"])[0].as_py()
        assert text[row["char_start"] : row["char_end"]] == row["text"]


def test_binary_content_is_rejected_not_stored_as_findings():
    garbage = random.Random(13).randbytes(18_906)
    assert _rejections([garbage], "txt") == [Reason.BINARY]
    with pytest.raises(Rejection):  # ingestion reads report files through the same test
        decode_text(garbage)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_reports_decode_like_utf8(xml, encoding):
    text = xml.replace("<?xml version=\"1.0\" encoding=\"utf-8\"?>", "")
    expected, _ = sections_table(_table([text]))
    decoded = decode_text(text.encode(encoding))
    assert decoded.text == text.lstrip("\ufeff") and decoded.flags == ()
    got, rejected = sections_table(_table([text.encode(encoding)]))
    assert rejected.num_rows == 0 and got.to_pylist() == expected.to_pylist()


def test_missing_and_duplicate_study_ids_are_rejected_with_a_reason(xml):
    reasons = _rejections([xml, xml, xml, xml], ids=["a", "", "a", "b"])
    assert reasons == [Reason.NO_STUDY_ID, Reason.DUPLICATE_STUDY]


def _billion_laughs(xml: str, levels: int = 4) -> str:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, levels + 1)
    ]
    doctype = "<!DOCTYPE eCitation [" + "".join(entities) + "]>"
    body = xml.split("?>", 1)[1].replace("Heart size", f"&l{levels}; Heart size", 1)
    return '<?xml version="1.0" encoding="utf-8"?>' + doctype + body


def test_xml_entity_expansion_is_rejected_not_expanded(xml, tmp_path):
    bomb = _billion_laughs(xml)
    assert _rejections([bomb]) == [Reason.XML_UNSAFE]
    path = tmp_path / "bomb.xml"
    path.write_text(bomb, encoding="utf-8")
    with pytest.raises(Rejection, match="entities"):
        read_openi_report(path)


def _run_on(shared_data: Path, chars: int) -> str:
    """Real findings glued into one sentence: full stops become commas."""
    sections, _ = sections_table(_table(
        [p.read_text(encoding="utf-8") for p in sorted((shared_data / "iu_xray_reports").glob("*.xml"))[:300]]
    ))
    text = " ".join(sections.column("findings").drop_null().to_pylist()).replace(".", ",")
    return (text * (1 + chars // len(text)))[:chars]


def _seconds(parser, text: str) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        sections, _ = sections_table(_table([text], "txt"), TextLimits(max_report_chars=10**7))
        triplets_table(sentences_table(sections), parser)
        best = min(best, time.perf_counter() - start)
    return best


def test_parsing_time_is_linear_in_the_length_of_a_run_on_report(shared_data, parser):
    small = _run_on(shared_data, 12_000)
    large = ", ".join([small] * 8)  # the same content 8 times: only the length differs
    assert _seconds(parser, large) <= 12 * _seconds(parser, small)


def test_run_on_sentences_are_cut_and_long_reports_rejected(shared_data):
    text = _run_on(shared_data, 5_000)
    sections, _ = sections_table(_table([text], "txt"))
    sentences = sentences_table(sections, TextLimits(max_sentence_chars=400)).to_pylist()
    assert len(sentences) >= 13 and all(len(row["text"]) <= 400 for row in sentences)
    findings = sections.column("findings")[0].as_py()
    assert all(findings[r["char_start"] : r["char_end"]] == r["text"] for r in sentences)
    assert _rejections([text], "txt", limits=TextLimits(max_report_chars=4_000)) == [Reason.TOO_LONG]
