"""Deliberately bad batches stop at the first blocking great-expectations gate: the stages after
it do not run, the check result names the failing expectation, and the validation is kept as a
Data Docs page linked from the check.

(A batch whose reports all lack findings and impression is ``tests/test_text_assets.py``'s
``test_a_batch_of_empty_reports_stops_before_sentences``; the same gate machinery is exercised
here on ingestion's gates.)
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from cxralign.synthetic import synthesize

pytestmark = pytest.mark.slow

CHAIN = ["incoming_studies", "dicom_images", "report_sections", "report_sentences"]
CONFIG = {
    "incoming_studies": {"studies": 2, "seed": 0, "workers": 1},
    "dicom_images": {"workers": 1, "staged_size": 64},
}


def non_chest_batch(batch: Path) -> None:
    """Only inputs ingestion must refuse: a CT and an MR slice (real DICOM files, wrong
    modality) and a file named ``.dcm`` that is not DICOM at all; the reports are fine."""
    batch.mkdir(parents=True)
    images = {
        "ct": Path(get_testdata_file("CT_small.dcm")),
        "mr": Path(get_testdata_file("MR_small.dcm")),
    }
    for name, source in images.items():
        shutil.copyfile(source, batch / f"{name}.dcm")
    (batch / "junk.dcm").write_bytes(b"this is not a DICOM file\n" * 40)
    with (batch / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study_id", "image_path", "report_text"])
        for study, image in enumerate(["ct.dcm", "mr.dcm", "junk.dcm"]):
            writer.writerow([f"study{study}", image,
                             "FINDINGS: The lungs are clear.\nIMPRESSION: Normal chest."])


def blank_reports_batch(batch: Path) -> None:
    """Real phantom radiographs whose report files hold nothing but whitespace."""
    synthesize(batch, studies=2, seed=3, workers=1)
    reports = sorted(batch.rglob("s*.txt"))
    assert reports, "the phantom batch has MIMIC-style report files"
    for report in reports:
        report.write_text("   \n")


def visible_text(page: Path) -> str:
    """What a person reads on an HTML page: no scripts, styles or tags, single spaces."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


@dataclass(frozen=True)
class BadBatch:
    name: str
    write: Callable[[Path], None]
    gate: str  # the blocking check that must fail
    expectation: str  # named in its result
    rendered: str  # how the Data Docs page words that expectation
    reason: str  # a rejected_inputs reason ingestion must record


BAD_BATCHES = [
    BadBatch("non-chest", non_chest_batch, "images_expectations",
             "expect_table_row_count_to_be_between", "Must have greater than or equal to 1 rows",
             "non_radiograph_modality"),
    BadBatch("blank-reports", blank_reports_batch, "reports_expectations",
             "expect_table_row_count_to_be_between", "Must have greater than or equal to 1 rows",
             "report_empty"),
]


@pytest.mark.parametrize("bad", BAD_BATCHES, ids=lambda bad: bad.name)
def test_a_bad_batch_stops_at_its_gate_with_the_expectation_named(tmp_path, materialize_pipeline, bad):
    bad.write(tmp_path / "incoming" / bad.name)

    result = materialize_pipeline(tmp_path, CHAIN, CONFIG, partition=bad.name)

    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations[bad.gate]
    assert not failed.passed and failed.blocking
    assert failed.partition == bad.name, "the check validated the batch this run ingested"
    assert bad.expectation in failed.description
    assert any(bad.expectation in line for line in failed.metadata["failed"].value)

    ran = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "dicom_images" in ran, "ingestion itself succeeds: bad inputs are quarantined"
    assert not ran & {"report_sections", "report_sentences"}, "the blocking gate stops the chain"

    rejected = evaluations["rejected_inputs_expectations"]
    assert rejected.passed and not rejected.blocking, "quarantine rows are well-formed"
    from cxralign_pipeline.lib.resources import CatalogResource

    reasons = set(CatalogResource(data_dir=str(tmp_path)).catalog
                  .read_table("rejected_inputs", [bad.name])["reason"].to_pylist())
    assert bad.reason in reasons

    # The validation is a Data Docs page of this batch showing the failure, listed on the index.
    page = Path(failed.metadata["data_docs"].value)
    text = visible_text(page)
    assert bad.name in page.parts and "Failed" in text and bad.rendered in text
    index = Path(failed.metadata["data_docs_index"].value)
    assert page.relative_to(index.parent).as_posix() in index.read_text()
