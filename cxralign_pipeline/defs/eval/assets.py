"""Evaluation stage: every pre-trained model (recipes × seeds) and the random-init baseline,
compared downstream; the Markdown summary, plots and verdict become the asset's metadata."""

from pathlib import Path

import dagster as dg
from PIL import Image
from pydantic import Field

from cxralign import layout
from cxralign.eval.report import METRICS_TABLE, write_report
from cxralign.eval.run import discover_model_dirs, model_specs, run_evaluation
from cxralign.eval.settings import EvaluationSettings
from cxralign_pipeline.lib.metadata import png_markdown
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step

EVALUATE_WHEN_TRAINED = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("eager, even with a model or batch missing")
)
"""Evaluate once an upstream (a new model, a changed batch) was updated and no run of one is
still queued or in progress; a failed seed or a failed batch does not hold back the report on
the models and batches that exist (Dagster's default automation sensor, on under ``make ui``)."""


class EvaluationConfig(EvaluationSettings, dg.Config):
    """Evaluation settings (defaults in ``cxralign.eval.settings.EvaluationSettings``) and
    where the report goes."""

    out_dir: str = Field(
        default="", description="Output folder; empty = <data>/reports/evaluation.")


@stage_asset(
    deps=["pretrained_model", "dicom_images", "report_sections", "report_sentences",
          "anatomy_boxes", "region_sentence_pairs"],
    kinds={"pytorch", "python"},
    automation_condition=EVALUATE_WHEN_TRAINED,
)
def downstream_evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """Retrieval (R@1/5/10 both ways), zero-shot and linear-probe AUC, region grounding, lung
    segmentation Dice and report generation (the region-guided generator unless
    ``generation_epochs`` = 0, beside nearest-neighbour retrieval and the most frequent report:
    clinical efficacy, BLEU, ROUGE-L) of every model in
    ``<data>/models/pretrain/<recipe>/seed-<k>/``, mean ± std per recipe (n/a with one seed),
    written to ``metrics.json``, ``summary.md``, PNG plots and the ``evaluation_metrics``
    table."""
    data_dir = Path(catalog.data_dir)
    store = catalog.catalog
    out_dir = Path(config.out_dir) if config.out_dir else layout.evaluation_dir(data_dir)
    directories = discover_model_dirs(data_dir, config.recipes)
    if not directories:
        raise dg.Failure(
            description=f"no model directories under {data_dir}/models/pretrain for recipes "
            f"{config.recipes}; materialize pretrained_model first", allow_retries=False)

    def work() -> StepOutcome:
        specs = model_specs(directories, config.random_init, config.random_init_seeds)
        outcome = run_evaluation(specs, store, config, progress=context.log.info)
        report = write_report(outcome, config, out_dir, primary=config.recipes[0], catalog=store)
        metadata: dict[str, dg.RawMetadataValue] = {
            "summary": dg.MetadataValue.md(report.markdown),
            "metrics_json": dg.MetadataValue.path(str(report.metrics_path)),
            "models": len(outcome.evaluations),
            "primary_beats_baselines": all(c.better for c in report.comparisons),
            "verdict": dg.MetadataValue.json([c.sentence() for c in report.comparisons]),
        }
        for plot in report.plots:
            with Image.open(plot) as picture:
                metadata[plot.stem] = png_markdown(picture.convert("RGB"),
                                                   plot.stem.replace("_", " "))
        return StepOutcome([out_dir, store.partition_path(METRICS_TABLE)], metadata,
                           {"models": len(outcome.evaluations)})

    return recorded_step(context, data_dir, config, work)
