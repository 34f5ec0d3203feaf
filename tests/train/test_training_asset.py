"""The ``pretrained_model`` asset materialised in process on the tiny recipe: the real training
subprocess runs through Dagster Pipes and reports back; one materialisation per recipe × seed."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from cxralign.lineage.records import latest_record
from cxralign.train.settings import RunSettings
from cxralign_pipeline.defs.resources import local_resources
from cxralign_pipeline.defs.train.assets import pretrained_model
from cxralign_pipeline.lib.partitions import TRAINING_RUNS


def test_every_recipe_and_seed_is_its_own_partition():
    keys = TRAINING_RUNS.get_partition_keys()
    assert "asg|0" in keys and "convirt|2" in keys
    assert len(keys) == len(set(keys)) == len(TRAINING_RUNS.get_partitions_def_for_dimension(
        "recipe").get_partition_keys()) * 3


def test_a_partition_trains_its_recipe_and_seed_through_pipes(tiny):
    settings = tiny.settings(steps=2, checkpoint_every=100)
    config = {**settings.model_dump(include=set(RunSettings.model_fields)),
              "init_from_anatomy_detector": False}  # the recipe's own encoder, from scratch
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


def test_without_a_detector_the_default_start_fails_and_says_how_to_go_on(tiny, tmp_path):
    """``init_from_anatomy_detector`` is on by default: with no anatomy_detector materialised
    the run fails before training, naming the asset and the setting that turns it off."""
    data = tmp_path / "data"  # no models/anatomy
    data.mkdir()
    settings = tiny.settings(steps=1, checkpoint_every=100)
    result = dg.materialize([pretrained_model], partition_key="asg|1",
                            resources=local_resources(str(data)), raise_on_error=False,
                            run_config={"ops": {"pretrained_model": {"config": settings.model_dump(
                                include=set(RunSettings.model_fields))}}})
    assert not result.success
    failure = result.failure_data_for_node("pretrained_model")
    message = failure.error.cause.message if failure.error.cause else failure.error.message
    assert "materialise anatomy_detector first" in message
    assert "init_from_anatomy_detector: false" in message
    assert not (data / "models").exists()


def test_the_anatomy_detector_starts_the_image_encoder_by_default(tiny):
    """``init_from_anatomy_detector`` (the default): the run's encoder is the detector's
    backbone, and the lineage record names the detector among the run's inputs."""
    from cxralign import layout
    from cxralign_fixtures.anatomy_detector import save_untrained_detector

    detector = layout.anatomy_model_dir(tiny.data)
    detector.mkdir(parents=True, exist_ok=True)
    save_untrained_detector(detector)  # the tiny recipe's own tower is test_vit
    settings = tiny.settings(steps=1, checkpoint_every=100)
    config = settings.model_dump(include=set(RunSettings.model_fields))
    result = dg.materialize([pretrained_model], partition_key="asg|2",
                            resources=local_resources(str(tiny.data)),
                            run_config={"ops": {"pretrained_model": {"config": config}}})
    assert result.success
    run = json.loads((layout.pretrain_run_dir(tiny.data, "asg", 2) / "run.json").read_text())
    assert run["config"]["image_encoder"] == "resnet10t"
    assert run["config"]["image_init_detector"] == str(detector)
    record = latest_record(tiny.data, "pretrained_model", "asg|2")
    assert "anatomy_detector" in {ref.asset for ref in record.inputs}
