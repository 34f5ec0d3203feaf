"""The ``report_generator`` asset as Dagster runs it on the phantom catalog's tiny encoder."""

from __future__ import annotations

import json

from cxralign_pipeline.defs.generate.assets import GeneratorConfig


def test_asset_trains_scores_and_explains(gen_catalog, encoder_dir, materialize_pipeline,
                                          tmp_path):
    out = tmp_path / "generator"
    result = materialize_pipeline(gen_catalog.root, ["report_generator"], {
        "report_generator": {"steps": 10, "threshold": 0.05, "out_dir": str(out)}})
    assert result.success
    metadata = result.asset_materializations_for_node("report_generator")[0].metadata
    assert metadata["explain"].value.startswith("![")
    assert "**generated:**" in metadata["sample_report"].value
    assert "generation_ce_f1_micro" in metadata["scores"].value
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["rows"]) == {"generator", "nearest_neighbour", "most_frequent"}
    assert (out / "generator.json").is_file() and (out / "explain.png").is_file()


def test_config_defaults_condition_on_asg_seed_0():
    config = GeneratorConfig()
    assert (config.recipe, config.encoder_seed, config.encoder_dir) == ("asg", 0, "")
    assert config.step_count(640) == 100  # 5 epochs of 640 images in batches of 32
    assert GeneratorConfig(steps=7).step_count(640) == 7
