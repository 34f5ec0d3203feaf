"""Generation stage: a report generator trained on one frozen pre-trained encoder, scored on
the held-out split beside nearest-neighbour retrieval and the most frequent report; a sample
report, the scores and an explanation picture become the asset's metadata."""

import json
from pathlib import Path

import dagster as dg
from PIL import Image
from pydantic import Field

from cxralign.eval.report import generation_markdown
from cxralign.generate.explain import explain_study
from cxralign.generate.settings import GeneratorSettings
from cxralign.generate.workflow import (
    DEFAULT_RECIPE,
    default_encoder_dir,
    generator_dir,
    train_generator,
)
from cxralign.io.atomic import atomic_path
from cxralign.lineage.step import Upstream
from cxralign.models.model import AlignmentModel
from cxralign_pipeline.lib.metadata import png_markdown
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step, writer_partition

SCORES_FILE = "scores.json"
PRETRAINED_MODEL = "pretrained_model"
EXPLAIN_FILE = "explain.png"


class GeneratorConfig(GeneratorSettings, dg.Config):
    """Generator settings (defaults in ``cxralign.generate.settings.GeneratorSettings``) and
    which pre-trained model it is conditioned on."""

    recipe: str = Field(default=DEFAULT_RECIPE, description="Recipe of the encoder.")
    encoder_seed: int = Field(default=0, ge=0, description="Seed of the encoder (seed-<k>).")
    encoder_dir: str = Field(
        default="", description="Encoder directory; empty = <data>/models/pretrain/<recipe>/"
        "seed-<encoder_seed>.")
    out_dir: str = Field(
        default="", description="Generator directory; empty = <data>/models/generate/<recipe>/"
        "seed-<k>.")


@stage_asset(
    deps=[PRETRAINED_MODEL, "dicom_images", "report_sentences", "report_triplets",
          "anatomy_boxes", "region_sentence_pairs"],
    kinds={"pytorch", "python"},
)
def report_generator(
    context: dg.AssetExecutionContext, config: GeneratorConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """Per-region selection head and sentence decoder trained on the frozen encoder's region
    features; BLEU, ROUGE-L and clinical efficacy (our parser's findings, per region too) of
    the generator, nearest-neighbour retrieval and the most frequent report on the held-out
    split, written to ``scores.json`` beside the generator, with an explanation picture.

    Lineage: of the recipe × seed ``pretrained_model`` partitions, the step reads one encoder,
    chosen by run config (``recipe``/``encoder_seed`` or ``encoder_dir``), so its record lists
    only that one: the encoder directory, hashed, linked to the partition whose record wrote it
    (none for a directory the pipeline did not write). A Dagster ``AssetDep`` with a
    ``partition_mapping`` would show this in the UI, but a mapping is static and cannot follow
    run config, so the dependency stays the plain (all partitions) one and the record says
    which was read."""
    data_dir = Path(catalog.data_dir)
    store = catalog.catalog
    encoder = Path(config.encoder_dir) if config.encoder_dir else default_encoder_dir(
        data_dir, config.recipe, config.encoder_seed)
    if not (encoder / "recipe.json").is_file():
        raise dg.Failure(description=f"no pre-trained model in {encoder}; materialize "
                         "pretrained_model first", allow_retries=False)
    out = Path(config.out_dir) if config.out_dir else generator_dir(data_dir, encoder)
    settings = GeneratorSettings.model_validate(
        {name: getattr(config, name) for name in GeneratorSettings.model_fields})

    def work() -> StepOutcome:
        result = train_generator(encoder, store, settings, out, progress=context.log.info)
        with atomic_path(out / SCORES_FILE) as tmp:
            tmp.write_text(json.dumps({"rows": result.rows, "chance": result.chance,
                                       "seconds": result.seconds}, indent=2) + "\n")
        sample = result.examples[0] if result.examples else None
        metadata: dict[str, dg.RawMetadataValue] = {
            "scores": dg.MetadataValue.md(generation_markdown(
                {row: {metric: {"mean": value, "std": None} for metric, value in scores.items()}
                 for row, scores in result.rows.items()}, result.chance)),
            "threshold": result.generator.threshold,
            "reports": int(result.seconds["reports"]),
            "generation_seconds": round(result.seconds["generate"], 2),
            "generator_dir": dg.MetadataValue.path(str(out)),
        }
        if sample:
            metadata["sample_report"] = dg.MetadataValue.md(
                f"**generated:** {sample['generated']}\n\n**reference:** {sample['reference']}")
            explain_study(sample["study_id"], result.generator, AlignmentModel.load(encoder), store,
                          out / EXPLAIN_FILE)
            with Image.open(out / EXPLAIN_FILE) as picture:
                metadata["explain"] = png_markdown(picture.convert("RGB"),
                                                   "generated sentences on their regions")
        return StepOutcome([out], metadata, {"reports": int(result.seconds["reports"])})

    encoder_read = Upstream(PRETRAINED_MODEL,
                            writer_partition(data_dir, PRETRAINED_MODEL, encoder), [encoder])
    return recorded_step(context, data_dir, config, work, sources=[encoder_read],
                         reads={PRETRAINED_MODEL: []})
