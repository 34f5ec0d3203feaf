"""The code location loads, and its ingestion assets materialise against a temporary catalog."""

from __future__ import annotations

import shutil

import dagster as dg
import pydantic
import pytest

from assets.ingestion import dicom_images, incoming_studies
from assets.resources import CatalogResource
from workflows.definitions import defs

INGESTION = [incoming_studies, dicom_images]


def materialize_ingestion(data_dir, studies: int = 6) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        INGESTION,
        resources={"catalog": CatalogResource(data_dir=str(data_dir))},
        run_config=dg.RunConfig(
            {
                "incoming_studies": {"config": {"studies": studies, "seed": 3, "workers": 1}},
                "dicom_images": {"config": {"workers": 1, "image_size": 128}},
            }
        ),
    )


def test_definitions_load_with_every_stage_asset():
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"incoming_studies", "dicom_images"} <= keys


def test_embedded_batch_is_generated_and_ingested(tmp_path):
    result = materialize_ingestion(tmp_path, studies=6)
    assert result.success

    generated = result.asset_materializations_for_node("incoming_studies")[0].metadata
    assert generated["generated_studies"].value == 6
    ingested = result.asset_materializations_for_node("dicom_images")[0].metadata
    assert ingested["images"].value == 6
    assert ingested["rejected"].value == 0

    catalog = CatalogResource(data_dir=str(tmp_path)).catalog
    counts = catalog.query(
        "SELECT (SELECT count(*) FROM images) AS images, (SELECT count(*) FROM reports) AS reports"
    ).to_pylist()
    assert counts == [{"images": 6, "reports": 6}]


def test_real_batch_with_bad_inputs_is_quarantined_not_fatal(tmp_path, shared_data):
    batch = tmp_path / "incoming" / "real-dicoms"
    batch.mkdir(parents=True)
    for name in ["RG1_UNCR.dcm", "RG3_UNCR.dcm", "siim_pneumothorax_sample.dcm"]:
        shutil.copy(shared_data / "dicom" / name, batch / name)
    (batch / "truncated.dcm").write_bytes((shared_data / "dicom" / "RG1_UNCR.dcm").read_bytes()[:2000])

    result = materialize_ingestion(tmp_path)
    assert result.success
    assert not list((tmp_path / "incoming").glob("synthetic-*")), "a real batch needs no phantom"
    metadata = result.asset_materializations_for_node("dicom_images")[0].metadata
    assert metadata["images"].value == 2
    assert metadata["rejected"].value == 2
    assert "non_chest_body_part" in metadata["rejected_by_reason"].value


@pytest.mark.parametrize("studies", [0, -1])
def test_invalid_config_fails_the_step_before_writing_anything(tmp_path, studies):
    with pytest.raises(pydantic.ValidationError, match="studies"):
        materialize_ingestion(tmp_path, studies=studies)
    assert not (tmp_path / "incoming").exists()
