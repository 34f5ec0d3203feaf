"""The code location loads, and its ingestion assets materialise against a temporary catalog."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from dagster._core.errors import DagsterMaxRetriesExceededError

from cxralign.synthetic.settings import SynthesisSettings
from cxralign_pipeline.definitions import defs
from cxralign_pipeline.defs.io.assets import dicom_images, embedded_batch_name, incoming_studies
from cxralign_pipeline.defs.jobs import BATCH_SELECTION
from cxralign_pipeline.defs.train import schedules
from cxralign_pipeline.lib.partitions import BATCHES
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import OWNERS, stage_code_version
from cxralign_pipeline.lib.steps import TRANSIENT_RETRY

INGESTION = [incoming_studies, dicom_images]
BATCH_ASSETS = {"dicom_images", "report_sections", "report_sentences", "report_triplets",
                "anatomy_boxes", "region_sentence_pairs"}


def materialize_ingestion(data_dir, studies: int = 6, partition: str | None = None) -> dg.ExecuteInProcessResult:
    """Generate or find the batch, register it, ingest it (one ``batches`` partition)."""
    batch = partition or embedded_batch_name(SynthesisSettings(studies=max(studies, 1), seed=3))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(BATCHES.name, [batch])
    return dg.materialize(
        INGESTION,
        partition_key=batch,
        instance=instance,
        resources={"catalog": CatalogResource(data_dir=str(data_dir))},
        run_config=dg.RunConfig(
            {
                "incoming_studies": {"config": {"studies": studies, "seed": 3, "workers": 1}},
                "dicom_images": {"config": {"workers": 1, "staged_size": 128}},
            }
        ),
    )


def test_definitions_load_with_every_stage_asset():
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"incoming_studies", "dicom_images"} <= keys
    assert {"process_batch", "retrain"} <= {job.name for job in defs.jobs}
    assert [s.name for s in defs.sensors] == ["incoming_batch_sensor"]
    assert [s.name for s in defs.schedules] == ["retrain_schedule"]


def test_batch_assets_are_partitioned_and_retried_with_backoff():
    graph = defs.resolve_asset_graph()
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def == BATCHES}
    assert partitioned == BATCH_ASSETS
    assert {k.to_user_string() for k in BATCH_SELECTION.resolve(graph)} == BATCH_ASSETS
    for name in [*BATCH_ASSETS, "incoming_studies"]:
        policy = defs.resolve_assets_def(name).op.retry_policy
        assert policy == TRANSIENT_RETRY and policy.backoff == dg.Backoff.EXPONENTIAL
    assert graph.get(incoming_studies.key).partitions_def is None


def test_every_asset_is_grouped_versioned_and_owned_by_its_stage_folder():
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        stage = node.group_name
        module = defs.resolve_assets_def(key).op.compute_fn.decorated_fn.__module__
        assert module == f"cxralign_pipeline.defs.{stage}.assets", key
        assert node.code_version == stage_code_version(stage) and len(node.code_version) == 12
        assert node.owners == OWNERS and node.tags["cxralign/stage"] == stage
        assert node.kinds, key
        assert node.description and "``" not in node.description, key
        assert ":class:" not in node.description and ":func:" not in node.description, key
    assert len({stage_code_version(stage) for stage in ("io", "text", "train")}) == 3


def test_retrain_cron_is_weekly_unless_configured(monkeypatch):
    monkeypatch.delenv(schedules.RETRAIN_CRON_ENV, raising=False)
    assert schedules.retrain_cron() == "0 3 * * 1"
    monkeypatch.setenv(schedules.RETRAIN_CRON_ENV, "30 2 * * *")
    assert schedules.retrain_cron() == "30 2 * * *"


def test_embedded_batch_is_generated_and_ingested(tmp_path):
    result = materialize_ingestion(tmp_path, studies=6)
    assert result.success

    generated = result.asset_materializations_for_node("incoming_studies")[0].metadata
    assert generated["generated_studies"].value == 6
    ingested = result.asset_materializations_for_node("dicom_images")[0].metadata
    assert ingested["images"].value == 6
    assert ingested["dagster/row_count"].value == 6
    columns = {column.name: column.type for column in ingested["dagster/column_schema"].value.columns}
    assert columns["image_id"] == "string" and "staged_index" in columns
    assert len(ingested["preview"].value.records) == 5
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

    result = materialize_ingestion(tmp_path, partition="real-dicoms")
    assert result.success
    assert not list((tmp_path / "incoming").glob("synthetic-*")), "a real batch needs no phantom"
    metadata = result.asset_materializations_for_node("dicom_images")[0].metadata
    assert metadata["images"].value == 2
    assert metadata["rejected"].value == 2
    assert "non_chest_body_part" in metadata["rejected_by_reason"].value


@pytest.mark.parametrize("studies", [0, -1])
def test_invalid_config_fails_the_step_before_writing_anything(tmp_path, studies):
    # The step's retry policy retries it (config is validated inside the step), then gives up
    # with the pydantic error as the reason.
    with pytest.raises(DagsterMaxRetriesExceededError, match="ValidationError") as failure:
        materialize_ingestion(tmp_path, studies=studies)
    assert "studies" in str(failure.value)
    assert not (tmp_path / "incoming").exists()


def test_evaluation_follows_a_new_model_without_waiting_for_every_seed():
    """The automation condition: nothing to evaluate before a model exists; one trained
    partition (other seeds and a registered batch still missing) is enough."""
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0
        instance.add_dynamic_partitions(BATCHES.name, ["b1", "b2"])
        for asset in ("dicom_images", "report_sections", "report_sentences", "anatomy_boxes",
                      "region_sentence_pairs"):
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition="b1"))
        instance.report_runless_asset_event(dg.AssetMaterialization("pretrained_model", partition="asg|0"))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_requested_partitions(dg.AssetKey("downstream_evaluation")) == {None}
