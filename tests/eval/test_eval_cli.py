"""``cxralign evaluate`` end to end on the phantom catalog: tiny model directories of two
recipes (two seeds of one), the random-init baseline, the phantom's ground truth (joined with
the ingestion key) and a small lung-mask folder (which a 64-pixel model's 2×2 feature map is
too coarse to segment: skipped with a note)."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pyarrow.compute as pc
import pytest
from eval_fixtures import DEID_KEY, write_mask_folder

from cxralign.cli import main
from cxralign.eval.report import METRICS_TABLE
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.quality.views import is_rate

STABLE_KEYS = ("retrieval_i2t_r1_study", "retrieval_i2t_r1_findings", "retrieval_t2i_r1_findings",
               "retrieval_i2t_r10_study", "probe_auc_100", "probe_auc_10", "zero_shot_auc",
               "grounding_top1")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluation_run(eval_catalog, eval_models, tmp_path_factory):
    """The report folder and what the command printed on stderr."""
    out = tmp_path_factory.mktemp("evaluation")
    masks = write_mask_folder(tmp_path_factory.mktemp("masks"), 12)
    args = ["evaluate", "--data", str(eval_catalog.root), "--out", str(out),
            "--random-init-seeds", "7", "--probe-seeds", "0", "1", "--probe-min-positives", "1",
            "--retrieval-ks", "1", "10", "1000", "--segmentation-dir", str(masks),
            "--segmentation-epochs", "3"]
    for directory in eval_models:
        args += ["--model", str(directory)]
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(stderr):
        patch.setenv(KEY_ENV_VAR, DEID_KEY)
        assert main(args) == 0
    return out, stderr.getvalue()


@pytest.fixture(scope="module")
def evaluated(evaluation_run):
    return evaluation_run[0]


def test_progress_per_task_and_per_model_with_rate_and_eta(evaluation_run, eval_models):
    lines = evaluation_run[1].splitlines()
    models = len(eval_models) + 1  # and the random-init baseline
    tasks = ["image encoding", "retrieval", "zero-shot", "linear probe", "grounding",
             "segmentation", "generation"]
    task_lines = [line for line in lines if line.startswith("evaluation tasks: ")]
    assert [line.split("; ")[-1] for line in task_lines] == tasks * models
    assert all(re.search(r"^evaluation tasks: [1-6]/7 \([\d.]+/s, ETA \d\d:\d\d\); ", line)
               for line in task_lines if not line.endswith("; generation")), task_lines
    model_lines = [line for line in lines if line.startswith("evaluation (models): ")]
    assert [line.split(": ")[1].split("/")[0] for line in model_lines] == [
        str(n) for n in range(1, models + 1)]
    assert ", took " in model_lines[-1] and all(", ETA " in line for line in model_lines[:-1])


def test_metrics_json_has_every_recipe_metric_and_seed(evaluated):
    metrics = json.loads((evaluated / "metrics.json").read_text())
    assert list(metrics) == ["asg", "convirt", "random-init", "chance", "trivial", "generation"]
    assert metrics["asg"]["retrieval_i2t_r1_study"]["seeds"] == [0, 1]
    assert metrics["random-init"]["grounding_top1"]["seeds"] == [7]
    expected = {*STABLE_KEYS, "retrieval_t2i_r1000_study", "retrieval_i2t_r1000_findings",
                "grounding_mean_rank", "probe_auc_1", "probe_auc_100_parser",
                "zero_shot_auc_parser"}
    chance, trivial = metrics["chance"], metrics["trivial"]
    assert expected | {"generation_ce_f1_micro", "generation_region_f1"} <= set(chance) == set(
        trivial)
    assert not [key for key in chance if key.startswith(("BLEU", "ROUGE"))]  # one generation task
    for recipe in ("asg", "convirt", "random-init"):
        values = metrics[recipe]
        assert expected <= set(values), recipe
        for entry in values.values():
            assert set(entry) == {"mean", "std", "seeds", "values"}
            assert len(entry["values"]) == len(entry["seeds"])
            computed = [v for v in entry["values"] if v is not None]  # NaN seeds are null
            assert entry["std"] is None if len(computed) < 2 else entry["std"] >= 0
        # every report is within the top 1000: a known answer whatever the model
        for key in ("retrieval_i2t_r1000_study", "retrieval_t2i_r1000_findings"):
            assert values[key]["mean"] == chance[key] == trivial[key]["value"] == 1.0
        assert values["retrieval_i2t_r1_study"]["mean"] <= values["retrieval_i2t_r10_study"]["mean"]
        assert 1.0 <= values["grounding_mean_rank"]["mean"] <= 29.0
        assert "segmentation_dice" not in values  # the 2×2 feature map is too coarse
        # the quality suite range-checks every metric whose name reads as a rate
        assert all(0.0 <= entry["mean"] <= 1.0 for metric, entry in values.items()
                   if is_rate(metric) and entry["mean"] is not None)
        assert values["probe_n_findings_100"]["mean"] >= 1
    # a finding set is shared by more reports than a text: its chance is higher
    assert chance["retrieval_i2t_r1_findings"] > chance["retrieval_i2t_r1_study"] > 0
    assert chance["probe_auc_100"] == chance["zero_shot_auc"] == 0.5
    assert 0 < chance["grounding_top1"] < 1
    assert trivial["probe_auc_100"]["value"] == metrics["random-init"]["probe_auc_100"]["mean"]
    # an asg std over two seeds is a real spread; one seed has none
    assert metrics["convirt"]["grounding_top1"]["std"] is None
    generation = metrics["generation"]
    assert {"generator", "nearest_neighbour", "most_frequent"} <= set(generation)
    assert set(generation["nearest_neighbour"]) >= {"generation_bleu1", "generation_bleu4",
                                                    "generation_rouge_l"}
    assert generation["generator:convirt"]["generation_bleu4"]["std"] is None
    rates = [(row, metric, entry["mean"]) for row, values in generation.items()
             for metric, entry in values.items() if is_rate(metric)]
    assert {metric for _, metric, _ in rates} >= {"generation_bleu4", "generation_rouge_l"}
    assert all(0.0 <= mean <= 1.0 for _, _, mean in rates), rates


def test_summary_plots_details_and_catalog_table(evaluated, eval_catalog):
    summary = (evaluated / "summary.md").read_text()
    assert "| metric | chance | trivial baseline | asg | convirt | random-init |" in summary
    assert "| model seeds | | | 0, 1 | 0 | 7 |" in summary
    chance = json.loads((evaluated / "metrics.json").read_text())["chance"]
    for metric in STABLE_KEYS:
        row = next(line for line in summary.splitlines() if line.startswith(f"| {metric} |"))
        assert row.split(" | ")[1] == f"{chance[metric]:.3f}"  # chance beside the metric
    assert "ground truth, parser" in summary and "how common their finding set is" in summary
    assert "asg" in summary.split("## Primary recipe")[1] and "segmentation: 12 images" in summary
    assert "feature map is 2×2" in summary
    for name in ("metrics.png", "retrieval_examples.png"):
        assert (evaluated / name).read_bytes()[:8] == PNG_MAGIC
    details = json.loads((evaluated / "details.json").read_text())
    assert [(d["recipe"], d["seed"]) for d in details] == [
        ("asg", 0), ("asg", 1), ("convirt", 0), ("random-init", 7)]
    assert details[0]["retrieval_examples"][0]["retrieved"]
    probe = details[0]["details"]["probe"]
    assert probe["labels"] == "ground truth"
    assert {r["fraction"] for r in probe["runs"]} == {0.01, 0.1, 1.0}
    assert details[0]["details"]["probe_parser"]["labels"] == "parser"

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
