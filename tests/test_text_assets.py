"""The text stage as Dagster runs it: real ingestion, real parsing, GX checks that block."""

from __future__ import annotations

import csv

import pytest

from cxralign.synthetic.settings import SynthesisSettings
from cxralign_pipeline.defs.io.assets import embedded_batch_name
from cxralign_pipeline.lib.resources import CatalogResource

TEXT_CHAIN = ["incoming_studies", "dicom_images", "report_sections", "report_sentences", "report_triplets"]


@pytest.fixture
def materialize_text_chain(materialize_pipeline):
    def run(data_dir, studies: int = 8, partition: str | None = None, text: dict | None = None):
        batch = partition or embedded_batch_name(SynthesisSettings(studies=studies, seed=5))
        return materialize_pipeline(data_dir, TEXT_CHAIN, {
            "incoming_studies": {"studies": studies, "seed": 5, "workers": 1},
            "dicom_images": {"workers": 1, "staged_size": 64},
            "report_triplets": text or {},
        }, partition=batch)

    return run


def test_phantom_reports_become_triplets_that_pass_their_checks(tmp_path, materialize_text_chain):
    result = materialize_text_chain(tmp_path)
    assert result.success

    triplets = result.asset_materializations_for_node("report_triplets")[0].metadata
    assert triplets["backend"].value == "rules"
    assert triplets["triplets"].value > 8
    assert 0 < triplets["report_findings_indexed"].value <= triplets["report_findings"].value
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert {
        "images_expectations", "reports_expectations", "rejected_inputs_expectations",
        "sections_expectations", "triplets_expectations", "report_findings_expectations",
    } <= set(checks)
    assert all(checks.values()), checks

    catalog = CatalogResource(data_dir=str(tmp_path)).catalog
    joined = catalog.query(
        "SELECT count(*) AS n FROM triplets t JOIN images i USING (study_id)"
    ).to_pylist()
    assert joined[0]["n"] >= triplets["triplets"].value, "triplets link to ingested images"


def test_the_calibrator_setting_chooses_the_model_that_decides_report_findings(
    tmp_path, materialize_text_chain, calibrator_indexing_nothing
):
    result = materialize_text_chain(tmp_path / "data",
                                    text={"calibrator": str(calibrator_indexing_nothing)})
    assert result.success
    metadata = result.asset_materializations_for_node("report_triplets")[0].metadata
    assert metadata["report_findings"].value > 0 and metadata["report_findings_indexed"].value == 0


def test_a_batch_of_empty_reports_stops_before_sentences(tmp_path, shared_data, materialize_text_chain):
    batch = tmp_path / "incoming" / "empty-reports"
    batch.mkdir(parents=True)
    with (batch / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study_id", "image_path", "report_text"])
        for study, image in enumerate(["00000001_000.png", "00027426_000.png"]):
            (batch / image).write_bytes((shared_data / "png" / image).read_bytes())
            writer.writerow([f"study{study}", image, "INDICATION: cough.\nCOMPARISON: none."])

    result = materialize_text_chain(tmp_path, partition="empty-reports")
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["sections_expectations"]
    assert "expect_column_values_to_be_in_set on has_content" in failed[0].description
    ran = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "report_sections" in ran
    assert not ran & {"report_sentences", "report_triplets"}, "the blocking check stops the chain"
