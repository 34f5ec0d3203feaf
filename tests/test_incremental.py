"""New data arrives in batches: the sensor, per-batch runs, skipping unchanged work, the
re-training schedule and failure isolation, on a real (SQLite, temporary) Dagster instance."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from cxralign.lineage.records import latest_record
from cxralign.synthetic import synthesize
from cxralign.synthetic.settings import SynthesisSettings
from cxralign_pipeline.definitions import defs as location
from cxralign_pipeline.defs.io.assets import embedded_batch_name
from cxralign_pipeline.defs.io.sensors import incoming_batch_sensor
from cxralign_pipeline.defs.jobs import BATCH_SELECTION
from cxralign_pipeline.defs.resources import local_resources
from cxralign_pipeline.defs.train.schedules import MODEL_KEY, retrain_schedule
from cxralign_pipeline.lib.partitions import BATCHES, TRAINING_RUNS
from cxralign_pipeline.lib.resources import CatalogResource, against_data_dir

pytestmark = pytest.mark.slow

FIRST = SynthesisSettings(studies=4, seed=1, workers=1)
SECOND = "arrived-later"
TINY_DETECTOR = {"epochs": 1, "synthetic_studies": 4, "input_size": 64, "batch_size": 4, "workers": 1}
BATCH_CONFIG = {"ops": {"dicom_images": {"config": {"workers": 1, "staged_size": 64}}}}


def staged_files(data_dir: Path, batch: str) -> dict[Path, int]:
    """Every file a batch's runs wrote under ``staged/``, with its mtime in ns."""
    staged = data_dir / "staged"
    return {
        path: path.stat().st_mtime_ns
        for path in staged.rglob("*")
        if path.is_file() and (path.stem.split(".")[0] == batch or batch in path.relative_to(staged).parts)
    }


def sense(instance: dg.DagsterInstance, data_dir: Path) -> dg.SensorResult | dg.SkipReason:
    """One sensor tick, applying its partition requests as the daemon would."""
    context = dg.build_sensor_context(
        instance=instance, resources={"catalog": CatalogResource(data_dir=str(data_dir))}
    )
    result = incoming_batch_sensor(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_batch(defs: dg.Definitions, instance: dg.DagsterInstance, batch: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("process_batch").execute_in_process(
        partition_key=batch, instance=instance, run_config=BATCH_CONFIG, raise_on_error=False
    )


def tick(instance: dg.DagsterInstance) -> list[dg.RunRequest] | dg.SkipReason:
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC))
    return retrain_schedule(context)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Embedded batch + detector, the first batch through its sensor-requested run, then a
    second batch after the first batch's incoming folder was removed."""
    data_dir = tmp_path_factory.mktemp("incremental")
    defs = against_data_dir(location, str(data_dir))
    with dg.instance_for_test() as instance:
        setup = dg.materialize(
            [*location.assets, *location.asset_checks], selection=["incoming_studies", "anatomy_detector"],
            instance=instance, resources=local_resources(str(data_dir)),
            run_config={"ops": {
                "incoming_studies": {"config": FIRST.model_dump()},
                "anatomy_detector": {"config": TINY_DETECTOR},
            }},
        )
        assert setup.success
        first = embedded_batch_name(FIRST)
        assert instance.get_dynamic_partitions(BATCHES.name) == [first]

        requested = sense(instance, data_dir)
        assert [r.partition_key for r in requested.run_requests] == [first]
        assert run_batch(defs, instance, first).success
        first_files = staged_files(data_dir, first)

        shutil.rmtree(data_dir / "incoming" / first)
        synthesize(data_dir / "incoming" / SECOND, studies=3, seed=9, workers=1)
        second_request = sense(instance, data_dir)
        second_run = run_batch(defs, instance, SECOND)
        yield {
            "data_dir": data_dir, "defs": defs, "instance": instance, "first": first,
            "first_files": first_files, "second_request": second_request, "second_run": second_run,
        }


def test_sensor_registers_the_new_folder_and_requests_only_its_run(pipeline):
    request = pipeline["second_request"]
    assert isinstance(request, dg.SensorResult)
    assert [r.partition_keys for r in request.dynamic_partitions_requests] == [[SECOND]]
    assert [r.partition_key for r in request.run_requests] == [SECOND]
    assert pipeline["instance"].get_dynamic_partitions(BATCHES.name) == [pipeline["first"], SECOND]
    assert isinstance(sense(pipeline["instance"], pipeline["data_dir"]), dg.SkipReason)


def test_second_run_touches_only_the_second_batch(pipeline):
    result = pipeline["second_run"]
    assert result.success
    materialized = {
        (e.asset_key.to_user_string(), e.partition) for e in result.get_asset_materialization_events()
    }
    batch_assets = BATCH_SELECTION.resolve(location.resolve_asset_graph())
    assert materialized == {(key.to_user_string(), SECOND) for key in batch_assets}
    first_files = pipeline["first_files"]
    assert len(first_files) >= 8, "images, reports, rejects, arrays, text, boxes, pairs, tags"
    assert staged_files(pipeline["data_dir"], pipeline["first"]) == first_files, "first batch untouched"
    assert staged_files(pipeline["data_dir"], SECOND)


def test_every_materialisation_records_its_dvc_hash_and_data_version(pipeline):
    for event in pipeline["second_run"].get_asset_materialization_events():
        metadata = event.materialization.metadata
        hashes = metadata["dvc_md5"].value
        assert hashes and all(len(md5.removesuffix(".dir")) == 32 for md5 in hashes.values())
        assert event.materialization.tags["dagster/data_version"]
        record = json.loads(Path(metadata["lineage_record"].value).read_text())
        assert event.materialization.tags["dagster/data_version"] == record["data_version"]


def test_an_unchanged_batch_keeps_its_data_versions_so_nothing_downstream_is_stale(pipeline):
    """No step pretends to have run: a re-run computes again, writes the same bytes and so
    the same data versions, which is what tells Dagster (and the schedule) nothing changed."""
    instance = pipeline["instance"]
    versions = {e.asset_key: e.materialization.tags["dagster/data_version"]
                for e in pipeline["second_run"].get_asset_materialization_events()}

    again = run_batch(pipeline["defs"], instance, SECOND)
    assert again.success
    events = again.get_asset_materialization_events()
    assert {e.asset_key for e in events} == set(versions)
    for event in events:
        assert event.materialization.tags["dagster/data_version"] == versions[event.asset_key]
        inputs = {key: value for key, value in event.materialization.tags.items()
                  if key.startswith("dagster/input_data_version/")}
        assert inputs, f"{event.asset_key}: Dagster recorded no input data versions"

    # A lost output is rebuilt, byte for byte.
    sentences = pipeline["data_dir"] / "staged" / "sentences" / f"{SECOND}.parquet"
    sentences.unlink()
    assert run_batch(pipeline["defs"], instance, SECOND).success
    assert sentences.is_file()


def test_lineage_inputs_come_from_the_declared_deps(pipeline):
    """Each record's inputs are exactly its asset's upstream deps, linked to their records."""
    location_graph = location.resolve_asset_graph()
    data_dir = pipeline["data_dir"]
    for name in ("report_sections", "report_triplets", "anatomy_boxes", "region_sentence_pairs"):
        record = latest_record(data_dir, name, SECOND)
        deps = {key.to_user_string() for key in location_graph.get(dg.AssetKey(name)).parent_keys}
        assert {ref.asset for ref in record.inputs} == deps, name
        for ref in record.inputs:
            upstream = latest_record(data_dir, ref.asset, ref.partition)
            assert ref.data_version == upstream.data_version, (name, ref.asset)


def test_schedule_retrains_only_when_batches_were_processed_since_the_last_model(pipeline):
    instance = pipeline["instance"]
    requests = tick(instance)
    assert [r.partition_key for r in requests] == TRAINING_RUNS.get_partition_keys()
    assert set(requests[0].tags["cxralign/new_batches"].split(",")) == {pipeline["first"], SECOND}

    instance.report_runless_asset_event(dg.AssetMaterialization(MODEL_KEY))
    skip = tick(instance)
    assert isinstance(skip, dg.SkipReason)
    assert "0 batch(es) processed since the last pretrained_model" in skip.skip_message

    # Re-running an unchanged batch (same data versions) is no reason to re-train either.
    assert run_batch(pipeline["defs"], instance, SECOND).success
    assert isinstance(tick(instance), dg.SkipReason)


def test_a_failed_batch_does_not_block_another(pipeline):
    data_dir, instance = pipeline["data_dir"], pipeline["instance"]
    bad = data_dir / "incoming" / "broken-manifest"
    bad.mkdir()
    (bad / "manifest.csv").write_text("foo,bar\n1,2\n")
    synthesize(data_dir / "incoming" / "zz-good", studies=2, seed=4, workers=1)

    request = sense(instance, data_dir)
    assert sorted(r.partition_key for r in request.run_requests) == ["broken-manifest", "zz-good"]
    results = {r.partition_key: run_batch(pipeline["defs"], instance, r.partition_key)
               for r in request.run_requests}
    assert not results["broken-manifest"].success
    failure = results["broken-manifest"].get_step_failure_events()[0]
    assert "lacks required column(s)" in str(failure.event_specific_data.error)
    assert not [e for e in results["broken-manifest"].all_events if e.event_type_value == "STEP_UP_FOR_RETRY"], \
        "a data error is not retried"
    assert results["zz-good"].success
    paired = instance.get_materialized_partitions(dg.AssetKey("region_sentence_pairs"))
    assert "zz-good" in paired and "broken-manifest" not in paired
    pending = tick(instance)
    assert isinstance(pending, list)
    assert "not yet processed: broken-manifest" in pending[0].tags["cxralign/reason"]
