"""Training stage: the pre-trained image-text models (primary recipe and baselines, each seed).

Each run is a separate process launched through Dagster Pipes (``python -m
cxralign_pipeline.defs.train.pipes``, or torchrun with ``nproc_per_node`` > 1) by the
``training_launcher`` resource: a subprocess locally, a GPU pod in production; the process
streams its progress to the run's log and reports its model directory back. Training reads every partition of the catalog.
"""

import json
import tempfile
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from cxralign.train.lineage import training_upstreams
from cxralign.train.output import LOG_FILE
from cxralign.train.plots import loss_curves
from cxralign.train.runs import model_dir, pretrain_command
from cxralign.train.settings import PretrainSettings
from cxralign_pipeline.defs.train import pipes
from cxralign_pipeline.defs.train.launchers import TrainingLauncher
from cxralign_pipeline.lib.metadata import png_markdown
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_args
from cxralign_pipeline.lib.steps import StepOutcome, versioned_step


class PretrainConfig(PretrainSettings, dg.Config):
    """Pre-training settings; defaults and the demo time budget in
    ``cxralign.train.settings.PretrainSettings``."""


PIPES_ENTRY_POINT = (pipes.__name__,)
"""The process each run executes: the ``pretrain`` command wrapped to talk Dagster Pipes."""

@dg.asset(**stage_args(__name__), deps=[dg.AssetKey("region_sentence_pairs")], kinds={"pytorch"})
def pretrained_model(
    context: dg.AssetExecutionContext, config: PretrainConfig, catalog: CatalogResource,
    training_launcher: TrainingLauncher,
) -> dg.MaterializeResult:
    """One model directory per recipe and seed under ``data/models/pretrain/<recipe>/
    seed-<k>/`` (weights, ``training_log.parquet``, ``run.json``), trained on all partitions."""
    data = Path(catalog.data_dir)
    settings = PretrainSettings.model_validate(config.model_dump())

    def work() -> StepOutcome:
        runs: list[dict] = []
        # Inside the data directory: a training pod sees it on the shared volume.
        with tempfile.TemporaryDirectory(dir=data, prefix=".pretrain-settings-") as scratch:
            settings_file = Path(scratch) / "settings.json"
            settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
            for recipe in settings.recipes():
                for seed in settings.seeds:
                    command = pretrain_command(data, model_dir(data, recipe, seed), recipe, seed,
                                               settings_file=settings_file,
                                               nproc_per_node=settings.nproc_per_node,
                                               entry_point=PIPES_ENTRY_POINT)
                    context.log.info(f"training {recipe} seed {seed}: {' '.join(command)}")
                    runs.extend(training_launcher.launch(context, command))
        return StepOutcome(outputs=[Path(run["model_dir"]) for run in runs],
                           metadata=_metadata(runs))

    return versioned_step(context, data, training_upstreams(catalog.catalog), settings, work,
                          dvc_stages=("pretrain",))


def _metadata(runs: list[dict]) -> dict[str, object]:
    """Runs table, model directories, loss-curve picture and the runs' own reports."""
    logs = {(run["recipe"], run["seed"]): pq.read_table(Path(run["model_dir"]) / LOG_FILE)
            for run in runs}
    lines = ["| recipe | seed | steps | seconds | final loss | pairs/s (median) |",
             "|---|---|---|---|---|---|"]
    for run in runs:
        speeds = sorted(logs[(run["recipe"], run["seed"])]["pairs_per_second"].to_pylist())
        lines.append(f"| {run['recipe']} | {run['seed']} | {run['steps']} | {run['seconds']} "
                     f"| {run['final_loss']:.4f} | {speeds[len(speeds) // 2]:.1f} |")
    return {
        "runs": dg.MetadataValue.md("\n".join(lines)),
        "model_dirs": dg.MetadataValue.json({f"{r['recipe']}/seed-{r['seed']}": r["model_dir"]
                                             for r in runs}),
        "total_seconds": round(sum(run["seconds"] for run in runs), 1),
        "loss_curves": png_markdown(loss_curves(logs), "training loss per recipe and seed"),
        "summary": dg.MetadataValue.json(json.loads(json.dumps(runs, default=str))),
    }
