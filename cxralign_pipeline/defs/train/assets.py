"""Training stage: one pre-trained image-text model per recipe × seed partition.

Each run is a separate process launched through Dagster Pipes (``python -m
cxralign_pipeline.defs.train.pipes``, or torchrun with it when ``nproc_per_node`` > 1) by the
``training_launcher`` resource: a subprocess locally, a GPU pod in production; the process
streams its progress to the run's log and reports its model directory back. A run reads every
batch of the catalog.
"""

import tempfile
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
from pydantic import Field

from cxralign import layout
from cxralign.lineage.step import Upstream
from cxralign.train.lineage import TRAINING_INPUTS
from cxralign.train.output import LOG_FILE
from cxralign.train.plots import loss_curves
from cxralign.train.runs import pretrain_command
from cxralign.train.settings import PretrainSettings, RunSettings
from cxralign_pipeline.defs.anatomy.assets import anatomy_detector, materialised_detector
from cxralign_pipeline.defs.train import pipes
from cxralign_pipeline.defs.train.launchers import TrainingLauncher
from cxralign_pipeline.lib.metadata import png_markdown
from cxralign_pipeline.lib.partitions import TRAINING_RUNS
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step


class PretrainConfig(RunSettings, dg.Config):
    """One run's settings (defaults and the demo time budget in
    ``cxralign.train.settings.RunSettings``); the partition names the recipe and seed."""

    init_from_anatomy_detector: bool = Field(
        default=True,
        description="Start the image encoder from the anatomy_detector asset's backbone (the "
        "encoder becomes that backbone); lineage then records the detector as an input. On by "
        "default: on the 2,000-study phantom benchmark this start lifted every global metric "
        "over a random start (benchmarks/RESULTS.md, session 9); false trains the recipe's own "
        "encoder from scratch.",
    )


PIPES_ENTRY_POINT = (pipes.__name__,)
"""The process each run executes: the ``pretrain`` command wrapped to talk Dagster Pipes."""


@stage_asset(
    deps=[*(dg.AssetDep(asset, partition_mapping=dg.AllPartitionMapping())
            for asset in TRAINING_INPUTS), anatomy_detector],
    partitions_def=TRAINING_RUNS,
    kinds={"pytorch"},
)
def pretrained_model(
    context: dg.AssetExecutionContext, config: PretrainConfig, catalog: CatalogResource,
    training_launcher: TrainingLauncher,
) -> dg.MaterializeResult:
    """The model directory of one recipe and seed, ``data/models/pretrain/<recipe>/seed-<k>/``
    (weights, ``training_log.parquet``, ``run.json``), trained on every batch."""
    data = Path(catalog.data_dir)
    key = context.partition_key.keys_by_dimension
    recipe, seed = key["recipe"], int(key["seed"])
    values = config.model_dump(exclude={"init_from_anatomy_detector"})
    if config.init_from_anatomy_detector:
        values["image_init_detector"] = str(materialised_detector(
            data, otherwise="set init_from_anatomy_detector: false to train the image encoder "
            "from scratch"))
    settings = PretrainSettings.model_validate({**values, "recipe": recipe, "seeds": [seed]})

    def work() -> StepOutcome:
        # Inside the data directory: a training pod sees it on the shared volume.
        with tempfile.TemporaryDirectory(dir=data, prefix=".pretrain-settings-") as scratch:
            settings_file = Path(scratch) / "settings.json"
            settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
            command = pretrain_command(data, layout.pretrain_run_dir(data, recipe, seed), recipe, seed,
                                       settings_file=settings_file,
                                       nproc_per_node=settings.nproc_per_node,
                                       entry_point=PIPES_ENTRY_POINT)
            context.log.info(f"training {recipe} seed {seed}: {' '.join(command)}")
            run = training_launcher.launch(context, command)[-1]
        return StepOutcome(outputs=[Path(run["model_dir"])], metadata=_metadata(run))

    used = ([Upstream("anatomy_detector", None, [Path(settings.image_init_detector)])]
            if settings.image_init_detector else [])
    return recorded_step(context, data, settings, work, sources=used)


def _metadata(run: dict) -> dict[str, object]:
    """The run's figures, its model directory and its loss curves."""
    log = pq.read_table(Path(run["model_dir"]) / LOG_FILE)
    speeds = sorted(log["pairs_per_second"].to_pylist())
    return {
        "model_dir": dg.MetadataValue.path(run["model_dir"]),
        "steps": run["steps"],
        "seconds": run["seconds"],
        "final_loss": run["final_loss"],
        "pairs_per_second_median": round(speeds[len(speeds) // 2], 1),
        "loss_curves": png_markdown(loss_curves({(run["recipe"], run["seed"]): log}),
                                    f"training loss, {run['recipe']} seed {run['seed']}"),
    }
