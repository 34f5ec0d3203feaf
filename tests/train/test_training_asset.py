"""The ``pretrained_model`` asset materialised in process on the tiny recipe: the real training
subprocess runs through Dagster Pipes and reports back; one materialisation per recipe × seed."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from cxralign.lineage.records import latest_record
from cxralign_pipeline.defs.resources import local_resources
from cxralign_pipeline.defs.train.assets import pretrained_model
from cxralign_pipeline.lib.partitions import TRAINING_RUNS


def test_every_recipe_and_seed_is_its_own_partition():
    keys = TRAINING_RUNS.get_partition_keys()
    assert "asg|0" in keys and "convirt|2" in keys
    assert len(keys) == len(set(keys)) == len(TRAINING_RUNS.get_partitions_def_for_dimension(
        "recipe").get_partition_keys()) * 3


def test_a_partition_trains_its_recipe_and_seed_through_pipes(tiny):
    config = tiny.settings(steps=2, checkpoint_every=100).model_dump()
    result = dg.materialize([pretrained_model], partition_key="convirt|1",
                            resources=local_resources(str(tiny.data)),
                            run_config={"ops": {"pretrained_model": {"config": config}}})
    assert result.success
    materialization = result.asset_materializations_for_node("pretrained_model")[0]
    assert materialization.partition == "convirt|1"
    metadata = materialization.metadata
    directory = Path(metadata["model_dir"].value)
    assert directory == tiny.data / "models" / "pretrain" / "convirt" / "seed-1"
    run = json.loads((directory / "run.json").read_text())
    assert run["steps"] == 2 and run["recipe"] == "convirt" and run["seed"] == 1
    assert metadata["steps"].value == 2
    assert "data:image/png;base64," in metadata["loss_curves"].value
    record = latest_record(tiny.data, "pretrained_model", "convirt|1")
    assert record is not None and record.data_version == materialization.tags["dagster/data_version"]
