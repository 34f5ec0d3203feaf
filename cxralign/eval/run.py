"""Evaluating several models (recipes × seeds, plus the random-init baseline) in one run and
summarising them per recipe as mean ± std over seeds.

Model directories are those ``cxralign pretrain`` writes (``recipe.json`` + weights, with
``run.json`` naming recipe and seed); the random-init baseline is the primary recipe's exact
architecture (its ``recipe.json``, so input size and widths match the trained models) built
from a seed without any pre-training and without any anatomy detector's weights. When the
primary recipe started its image encoder from a detector, a second baseline, detector-start,
is that starting point itself (the detector's backbone, untrained heads), so the table separates
what the detector gives from what pre-training adds.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cxralign.eval.evaluate import ModelEvaluation, evaluate_model
from cxralign.eval.segmentation import MaskSet, load_lung_masks
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.spread import seed_std
from cxralign.io.catalog import Catalog
from cxralign.layout import SEED_DIR_PREFIX, pretrain_recipe_dir, run_seed
from cxralign.models.model import RECIPE_FILE, AlignmentModel
from cxralign.models.recipes import RecipeConfig
from cxralign.progress import Emit, Progress, emitter
from cxralign.train.output import RUN_FILE

logger = logging.getLogger(__name__)

RANDOM_INIT = "random-init"
DETECTOR_START = "detector-start"


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate: a saved directory, or (``directory=None``) a recipe to build
    untrained with ``seed``."""

    label: str
    seed: int
    directory: Path | None = None
    recipe: RecipeConfig | None = None

    def build(self) -> AlignmentModel:
        if self.directory is not None:
            return AlignmentModel.load(self.directory)
        torch.manual_seed(self.seed)
        return AlignmentModel(self.recipe)


@dataclass
class RunOutcome:
    """Per-model evaluations in run order, and why segmentation was skipped (if it was)."""

    evaluations: list[tuple[ModelSpec, ModelEvaluation]] = field(default_factory=list)
    segmentation_note: str = ""

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(spec.label for spec, _ in self.evaluations))

    def reference(self, kind: str) -> dict[str, float]:
        """``chance`` or ``trivial`` level per metric: they depend on the held-out data only,
        so every model gives the same value; the mean guards against float noise."""
        values: dict[str, list[float]] = {}
        for _, evaluation in self.evaluations:
            for metric, value in getattr(evaluation, kind).items():
                values.setdefault(metric, []).append(value)
        return {metric: float(np.mean(v)) for metric, v in values.items()}

    def detail_notes(self, key: str) -> list[str]:
        """Distinct ``details[key]`` strings over all models (why something was skipped)."""
        return list(dict.fromkeys(e.details[key] for _, e in self.evaluations if key in e.details))


def discover_model_dirs(data_dir: Path, recipes: Sequence[str]) -> list[Path]:
    """``<data>/models/pretrain/<recipe>/seed-<k>/`` directories holding a complete model."""
    found = []
    for recipe in recipes:
        runs = pretrain_recipe_dir(data_dir, recipe).glob(f"{SEED_DIR_PREFIX}*")
        seeds = {d: run_seed(d) for d in runs}
        found.extend(sorted((d for d, seed in seeds.items()
                             if seed is not None and (d / RECIPE_FILE).is_file()),
                            key=lambda d: seeds[d]))
    return found


def spec_for_directory(directory: Path) -> ModelSpec:
    """Label (the recipe name) and seed of a model directory, from ``run.json`` when there
    is one, else from ``recipe.json`` and a ``seed-<k>`` directory name."""
    directory = Path(directory)
    run_file = directory / RUN_FILE
    run = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
    recipe = RecipeConfig.model_validate_json(
        (directory / RECIPE_FILE).read_text(encoding="utf-8"))
    seed = run.get("seed", run_seed(directory) or 0)
    return ModelSpec(label=str(run.get("recipe") or recipe.name), seed=int(seed),
                     directory=directory, recipe=recipe)


def model_specs(
    directories: Sequence[Path], random_init: bool, random_init_seeds: Sequence[int],
    random_init_recipe: RecipeConfig | None = None,
) -> list[ModelSpec]:
    """Specs of ``directories`` plus, when asked, the random-init baseline of
    ``random_init_recipe`` (default: the first directory's recipe) and, when that recipe starts
    from an anatomy detector still on disk, the detector-start baseline (same seeds)."""
    specs = [spec_for_directory(d) for d in directories]
    if random_init:
        recipe = random_init_recipe or (specs[0].recipe if specs else None)
        if recipe is None:
            raise ValueError("the random-init baseline needs a model directory or a recipe")
        untrained = recipe.model_copy(update={"image_init_detector": ""})
        specs.extend(ModelSpec(RANDOM_INIT, seed, None, untrained) for seed in random_init_seeds)
        detector = recipe.image_init_detector
        if detector and Path(detector).is_dir():
            specs.extend(ModelSpec(DETECTOR_START, seed, None, recipe)
                         for seed in random_init_seeds)
        elif detector:
            logger.warning("no detector-start baseline: the anatomy detector %s the models "
                           "started from is gone", detector)
    return specs


def run_evaluation(
    specs: Sequence[ModelSpec], catalog: Catalog, settings: EvaluationSettings,
    progress: Emit | None = None,
) -> RunOutcome:
    """Evaluate every spec; lung masks are loaded once per model input size. ``progress`` gets
    a line per model and per task with rate and ETA (default: the ``cxralign`` logger)."""
    say = emitter(progress)
    meter = Progress(len(specs), "evaluation (models)", emit=say, every_seconds=0)
    outcome = RunOutcome()
    masks: dict[int, MaskSet | None] = {}
    for spec in specs:
        model = spec.build()
        if model.image_size not in masks:
            masks[model.image_size], outcome.segmentation_note = _masks(settings, model.image_size)
        say(f"evaluating {spec.label} seed {spec.seed}"
            + (f" ({spec.directory})" if spec.directory else " (untrained)"))
        evaluation = evaluate_model(model, catalog, settings, masks[model.image_size], say)
        say(f"  {spec.label} seed {spec.seed}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in evaluation.metrics.items() if k in HEADLINE))
        outcome.evaluations.append((spec, evaluation))
        meter.advance()
    return outcome


HEADLINE = ("retrieval_i2t_r1_study", "retrieval_i2t_r1_findings", "grounding_top1",
            "zero_shot_auc", "probe_auc_100", "segmentation_dice", "generation_ce_f1_micro")


def _masks(settings: EvaluationSettings, size: int) -> tuple[MaskSet | None, str]:
    folder = Path(settings.segmentation_dir)
    if not (folder / "lung_masks").is_dir() or not (folder / "images").is_dir():
        note = (f"segmentation skipped: no images/ and lung_masks/ under {folder.resolve()} "
                "(set segmentation_dir)")
        logger.warning(note)
        return None, note
    masks = load_lung_masks(folder, size)
    if not len(masks):
        return None, f"segmentation skipped: no usable image/mask pairs in {folder}"
    skipped = ", ".join(f"{n} {reason}" for reason, n in masks.skipped.items())
    return masks, (f"segmentation: {len(masks)} images of {len(set(masks.groups))} patients "
                   f"from {folder}" + (f" (skipped: {skipped})" if skipped else ""))


def aggregate(outcome: RunOutcome) -> dict[str, dict[str, dict]]:
    """``{label: {metric: {mean, std, seeds, values}}}``; ``std`` is the sample standard
    deviation over seeds (``None`` for one seed, see :mod:`cxralign.eval.spread`); NaN values
    (a metric a seed could not compute) are left out of mean and std but keep their place in
    ``values`` as null."""
    grouped: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for spec, evaluation in outcome.evaluations:
        for metric, value in evaluation.metrics.items():
            grouped.setdefault(spec.label, {}).setdefault(metric, []).append((spec.seed, value))
    summary: dict[str, dict[str, dict]] = {}
    for label, metrics in grouped.items():
        summary[label] = {}
        for metric, pairs in metrics.items():
            finite = [v for _, v in pairs if not math.isnan(v)]
            summary[label][metric] = {
                "mean": float(np.mean(finite)) if finite else None,
                "std": seed_std(finite),
                "seeds": [seed for seed, _ in pairs],
                "values": [None if math.isnan(v) else float(v) for _, v in pairs],
            }
    return summary
