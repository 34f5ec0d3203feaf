"""The ``pretrained_model`` asset materialised in process on the tiny recipe: the real training
subprocesses run through Dagster Pipes and report back."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from cxralign_pipeline.defs.resources import local_resources
from cxralign_pipeline.defs.train.assets import pretrained_model


def test_pretrained_model_asset_trains_every_recipe_and_seed_through_pipes(tiny):
    config = tiny.settings(steps=2, recipe="asg", baseline_recipes=["convirt"], seeds=[3],
                           checkpoint_every=100).model_dump()
    result = dg.materialize([pretrained_model],
                            resources=local_resources(str(tiny.data)),
                            run_config={"ops": {"pretrained_model": {"config": config}}})
    assert result.success
    materialization = result.asset_materializations_for_node("pretrained_model")[0]
    metadata = materialization.metadata
    directories = metadata["model_dirs"].value
    assert sorted(directories) == ["asg/seed-3", "convirt/seed-3"]
    for name, directory in directories.items():
        assert Path(directory) == tiny.data / "models" / "pretrain" / name
        run = json.loads((Path(directory) / "run.json").read_text())
        assert run["steps"] == 2 and f"{run['recipe']}/seed-{run['seed']}" == name
    assert "data:image/png;base64," in metadata["loss_curves"].value
    assert metadata["runs"].value.count("\n") == 3
