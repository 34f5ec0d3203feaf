"""The ``downstream_evaluation`` asset as Dagster runs it, on the phantom catalog's tiny models."""

from __future__ import annotations

import json
from pathlib import Path

from cxralign_pipeline.defs.eval.assets import EvaluationConfig


def test_asset_writes_report_and_metadata(eval_catalog, eval_models, materialize_pipeline,
                                          tmp_path):
    out = tmp_path / "report"
    config = {"recipes": ["asg", "convirt"], "random_init": False, "probe_seeds": [0],
              "probe_fractions": [1.0], "segmentation_dir": str(tmp_path / "absent"),
              "out_dir": str(out)}
    result = materialize_pipeline(eval_catalog.root, ["downstream_evaluation"],
                                  {"downstream_evaluation": config})
    assert result.success
    metadata = result.asset_materializations_for_node("downstream_evaluation")[0].metadata
    assert metadata["models"].value == 3
    assert "| model seeds | | | 0, 1 | 0 | none |" in metadata["summary"].value
    assert "segmentation skipped" in metadata["summary"].value
    assert metadata["metrics"].value.startswith("![")
    assert Path(metadata["metrics_json"].value) == out / "metrics.json"
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["asg", "convirt", "random-init", "chance", "trivial", "generation"]
    assert {"generator", "nearest_neighbour", "most_frequent", "generator:convirt"} <= set(
        metrics["generation"])
    for key in ("generation_ce_f1_micro", "generation_ce_f1_macro", "generation_bleu4",
                "generation_region_f1"):
        assert set(metrics["generation"]["generator"][key]) == {"mean", "std", "seeds", "values"}
        assert metrics["generation"]["generator"][key]["seeds"] == [0, 1]
    assert metrics["random-init"] == {}  # switched off here, still listed
    assert metrics["chance"]["retrieval_i2t_r1_study"] > 0
    assert isinstance(metadata["verdict"].value, list)
    assert eval_catalog.has_table("evaluation_metrics")


def test_asset_config_is_the_library_settings():
    config = EvaluationConfig(uncertain="positive", probe_fractions=[0.5])
    assert config.uncertain == "positive" and config.probe_fractions == [0.5]
    assert EvaluationConfig().recipes == ["asg", "convirt"]
