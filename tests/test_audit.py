"""Lineage records written by a real Dagster run, and ``cxralign audit`` reading them back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cxralign.cli import main
from cxralign.lineage.audit import audit_chain
from cxralign.lineage.dvc import dvc_md5
from cxralign.lineage.records import code_version, iter_records

pytestmark = pytest.mark.slow

BATCH = "synthetic-seed2-n4"
CHAIN = [
    "incoming_studies", "dicom_images", "report_sections", "report_sentences", "report_triplets",
    "anatomy_detector", "anatomy_boxes", "region_sentence_pairs",
]
TINY_DETECTOR = {"epochs": 1, "synthetic_studies": 4, "input_size": 64, "batch_size": 4, "workers": 1}


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """The whole per-batch chain, in process, on a 4-study phantom batch."""
    import dagster as dg

    from cxralign_pipeline.definitions import defs as location
    from cxralign_pipeline.defs.resources import local_resources
    from cxralign_pipeline.lib.partitions import BATCHES

    data_dir = tmp_path_factory.mktemp("audit")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(BATCHES.name, [BATCH])
    result = dg.materialize(
        [*location.assets, *location.asset_checks], selection=CHAIN, partition_key=BATCH, instance=instance,
        resources=local_resources(str(data_dir)),
        run_config={"ops": {
            "incoming_studies": {"config": {"studies": 4, "seed": 2, "workers": 1}},
            "dicom_images": {"config": {"workers": 1, "staged_size": 64}},
            "anatomy_detector": {"config": TINY_DETECTOR},
        }},
    )
    assert result.success
    return data_dir, result


def test_one_atomic_record_per_materialisation(materialized):
    data_dir, result = materialized
    records = list(iter_records(data_dir))
    assert sorted(r.asset for r in records) == sorted(CHAIN)
    assert not list((data_dir / "lineage").rglob(".*.tmp")), "no temporary files left behind"
    by_asset = {r.asset: r for r in records}

    ingest = by_asset["dicom_images"]
    assert ingest.partition == BATCH and by_asset["anatomy_detector"].partition is None
    assert ingest.run_id == result.run_id
    assert ingest.config["staged_size"] == 64
    assert ingest.input_rows == {"studies": 4, "images": 4} and ingest.rejected == {"inputs": 0}
    assert ingest.code == code_version()
    outputs = ingest.output_md5s()
    assert outputs[f"staged/images/{BATCH}.parquet"] == dvc_md5(data_dir / "staged" / "images" / f"{BATCH}.parquet")
    assert outputs[f"staged/arrays/{BATCH}"].endswith(".dir")

    pairs = by_asset["region_sentence_pairs"]
    assert {ref.asset for ref in pairs.inputs} == {"report_triplets", "report_sentences", "dicom_images", "anatomy_boxes"}
    boxes_ref = next(ref for ref in pairs.inputs if ref.asset == "anatomy_boxes")
    assert boxes_ref.data_version == by_asset["anatomy_boxes"].data_version
    assert pairs.input_rows["images"] == 4
    assert pairs.started_at <= pairs.finished_at

    materialization = {e.asset_key.to_user_string(): e.materialization
                       for e in result.get_asset_materialization_events()}
    assert materialization["region_sentence_pairs"].tags["dagster/data_version"] == pairs.data_version


def test_audit_walks_a_table_back_to_the_incoming_batch(materialized):
    data_dir, _ = materialized
    steps = audit_chain(data_dir, "pairs")
    order = [step.record.asset for step in steps]
    assert set(order) == set(CHAIN) and order[-1] == "region_sentence_pairs"
    for position, step in enumerate(steps):
        assert all(parent < position for parent in step.upstream)
    assert order.index("incoming_studies") < order.index("dicom_images") < order.index("report_sections")
    assert order.index("anatomy_detector") < order.index("anatomy_boxes")


def test_audit_command_prints_each_step_with_hashes_code_config_and_runs(materialized, capsys):
    data_dir, result = materialized
    assert main(["audit", "pairs", "--data", str(data_dir)]) == 0
    text = capsys.readouterr().out
    assert "region_sentence_pairs  partition=" + BATCH in text
    assert result.run_id in text
    assert dvc_md5(data_dir / "staged" / "pairs" / f"{BATCH}.parquet") in text
    commit = code_version().commit
    assert (commit[:12] if commit else "unknown") in text
    assert '"staged_size": 64' in text

    assert main(["audit", str(data_dir / "models" / "anatomy"), "--data", str(data_dir), "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Provenance of")
    assert "## 1. `anatomy_detector`" in markdown and "region_sentence_pairs" not in markdown

    assert main(["audit", "no_such_table", "--data", str(data_dir)]) == 1
    assert "no lineage record" in capsys.readouterr().err


def test_code_version_outside_a_checkout_is_unknown_not_an_error(tmp_path):
    version = code_version(tmp_path)
    assert version.commit is None and version.dirty is None


def test_the_lineage_library_does_not_import_dagster():
    probe = (
        "import sys, json; import cxralign.lineage.records, cxralign.lineage.audit, "
        "cxralign.lineage.commands; print(json.dumps('dagster' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False
