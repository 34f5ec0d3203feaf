"""``cxralign evaluate`` end to end on the phantom catalog: tiny model directories of two
recipes (two seeds of one), the random-init baseline and a small lung-mask folder."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest
from eval_fixtures import write_mask_folder

from cxralign.cli import main
from cxralign.eval.report import METRICS_TABLE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated(eval_catalog, eval_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    masks = write_mask_folder(tmp_path_factory.mktemp("masks"), 12)
    args = ["evaluate", "--data", str(eval_catalog.root), "--out", str(out),
            "--random-init-seeds", "7", "--probe-seeds", "0", "1", "--probe-min-positives", "1",
            "--retrieval-ks", "1", "5", "1000", "--segmentation-dir", str(masks),
            "--segmentation-epochs", "3"]
    for directory in eval_models:
        args += ["--model", str(directory)]
    assert main(args) == 0
    return out


def test_metrics_json_has_every_recipe_metric_and_seed(evaluated):
    metrics = json.loads((evaluated / "metrics.json").read_text())
    assert list(metrics) == ["asg", "convirt", "random-init"]
    assert metrics["asg"]["i2t_R@1"]["seeds"] == [0, 1]
    assert metrics["random-init"]["grounding_top1"]["seeds"] == [7]
    expected = {"i2t_R@1", "i2t_R@5", "i2t_R@1000", "t2i_R@1", "t2i_R@1000", "grounding_top1",
                "grounding_mean_rank", "grounding_chance_top1", "zero_shot_macro_auc",
                "probe_auc@1%", "probe_auc@10%", "probe_auc@100%", "segmentation_dice",
                "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L"}
    for recipe, values in metrics.items():
        assert expected <= set(values), recipe
        for metric, entry in values.items():
            assert set(entry) == {"mean", "std", "seeds", "values"}
            assert len(entry["values"]) == len(entry["seeds"]) and entry["std"] >= 0
        # every report is within the top 1000: a known answer whatever the model
        assert values["i2t_R@1000"]["mean"] == 1.0 and values["t2i_R@1000"]["mean"] == 1.0
        assert values["i2t_R@1"]["mean"] <= values["i2t_R@5"]["mean"] <= 1.0
        assert 1.0 <= values["grounding_mean_rank"]["mean"] <= 29.0
        assert 0.0 <= values["segmentation_dice"]["mean"] <= 1.0
    # an asg std over two seeds is a real spread; one seed has none
    assert metrics["convirt"]["grounding_top1"]["std"] == 0.0


def test_summary_plots_details_and_catalog_table(evaluated, eval_catalog):
    summary = (evaluated / "summary.md").read_text()
    assert "| recipe | seeds | i2t_R@1 |" in summary
    assert "| asg | 2 |" in summary and "| random-init | 1 |" in summary
    assert "asg" in summary.split("## Primary recipe")[1] and "segmentation: 12 images" in summary
    for name in ("metrics.png", "retrieval_examples.png"):
        assert (evaluated / name).read_bytes()[:8] == PNG_MAGIC
    details = json.loads((evaluated / "details.json").read_text())
    assert [(d["recipe"], d["seed"]) for d in details] == [
        ("asg", 0), ("asg", 1), ("convirt", 0), ("random-init", 7)]
    assert details[0]["retrieval_examples"][0]["retrieved"]
    assert {r["fraction"] for r in details[0]["details"]["probe"]["runs"]} == {0.01, 0.1, 1.0}

    table = eval_catalog.read_table(METRICS_TABLE)
    assert set(table.column_names) == {"recipe", "metric", "mean", "std", "n_seeds", "seeds"}
    asg = table.filter(pc.and_(pc.equal(table["recipe"], "asg"),
                               pc.equal(table["metric"], "grounding_top1"))).to_pylist()
    assert asg[0]["n_seeds"] == 2 and asg[0]["seeds"] == [0, 1]


def test_no_models_is_an_error(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no model directories" in capsys.readouterr().err


def test_an_empty_held_out_split_is_a_clear_error(eval_catalog, eval_models, tmp_path, capsys):
    args = ["evaluate", "--data", str(eval_catalog.root), "--out", str(tmp_path),
            "--model", str(eval_models[0]), "--no-random-init", "--split", "validate",
            "--no-catalog"]
    assert main(args) == 2
    assert "no 'validate' images" in capsys.readouterr().err
