"""The ``report_generator`` asset as Dagster runs it on the phantom catalog's tiny encoder."""

from __future__ import annotations

import json
import shutil

import pytest

from cxralign.layout import lineage_dir
from cxralign.lineage.records import latest_record, utc_now
from cxralign.lineage.step import Materialisation, record_materialisation
from cxralign_pipeline.defs.generate.assets import GeneratorConfig
from cxralign_pipeline.lib.steps import writer_partition


@pytest.fixture
def two_recorded_models(gen_catalog, encoder_dir, tmp_path):
    """Lineage records of two pretrained_model partitions: ``asg|0`` wrote the encoder the
    generator reads by default, ``convirt|0`` another model; removed afterwards (the catalog
    is shared by the session)."""
    other = tmp_path / "convirt-seed-0"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"another model")
    records = {partition: record_materialisation(gen_catalog.root, Materialisation(
        asset="pretrained_model", partition=partition, inputs=(), config={}, run_id=partition,
        started=utc_now(), outputs=[model]))[0]
        for partition, model in (("asg|0", encoder_dir), ("convirt|0", other))}
    yield records
    shutil.rmtree(lineage_dir(gen_catalog.root) / "pretrained_model")


def test_asset_trains_scores_and_explains(gen_catalog, encoder_dir, materialize_pipeline,
                                          two_recorded_models, tmp_path):
    out = tmp_path / "generator"
    result = materialize_pipeline(gen_catalog.root, ["report_generator"], {
        "report_generator": {"steps": 10, "threshold": 0.05, "out_dir": str(out)}})
    assert result.success
    # the lineage names the one encoder read (asg seed 0), linked to the run that wrote it
    record = latest_record(gen_catalog.root, "report_generator", None)
    models = [ref for ref in record.inputs if ref.asset == "pretrained_model"]
    assert [(ref.partition, ref.run_id, ref.data_version) for ref in models] == [
        ("asg|0", "asg|0", two_recorded_models["asg|0"].data_version)]
    assert [f.path for f in models[0].files] == ["models/pretrain/asg/seed-0"]
    metadata = result.asset_materializations_for_node("report_generator")[0].metadata
    assert metadata["explain"].value.startswith("![")
    assert "**generated:**" in metadata["sample_report"].value
    assert "generation_ce_f1_micro" in metadata["scores"].value
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["rows"]) == {"generator", "nearest_neighbour", "most_frequent"}
    assert (out / "generator.json").is_file() and (out / "explain.png").is_file()
    assert "± n/a" in metadata["scores"].value  # one generator: a mean, no spread
    assert "± 0.000" not in metadata["scores"].value


def test_a_directory_no_record_wrote_has_no_writer_partition(gen_catalog, encoder_dir,
                                                             two_recorded_models, tmp_path):
    assert writer_partition(gen_catalog.root, "pretrained_model", encoder_dir) == "asg|0"
    assert writer_partition(gen_catalog.root, "pretrained_model", tmp_path) is None


def test_config_defaults_condition_on_asg_seed_0():
    config = GeneratorConfig()
    assert (config.recipe, config.encoder_seed, config.encoder_dir) == ("asg", 0, "")
    assert config.step_count(640) == 100  # 5 epochs of 640 images in batches of 32
    assert GeneratorConfig(steps=7).step_count(640) == 7
