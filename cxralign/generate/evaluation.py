"""Scoring the generator beside its baselines on the held-out split.

Rows: ``generator`` (region-guided generation on this encoder), ``nearest_neighbour`` (the
training report whose text embedding is nearest the image embedding: what
``downstream_evaluation`` did before) and ``most_frequent`` (the commonest training report for
every image). Each gets BLEU-1..4 and ROUGE-L (torchmetrics) and the clinical-efficacy scores of
:mod:`cxralign.eval.clinical`, under ``generation_*`` names; chance levels are those of
shuffled reference labels.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cxralign.eval.clinical import (
    clinical_metrics,
    finding_sets,
    report_labels,
    shuffled_f1_chance,
)
from cxralign.eval.encode import encode_strings
from cxralign.eval.generation import generation_metrics, nearest_reports
from cxralign.generate.data import SlotFeatures, encode_slots
from cxralign.generate.generator import ReportGenerator, fit_generator
from cxralign.generate.settings import GeneratorSettings
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel
from cxralign.progress import Emit, emitter
from cxralign.text.pipeline import TripletParser

GENERATOR: Final = "generator"
NEAREST: Final = "nearest_neighbour"
MOST_FREQUENT: Final = "most_frequent"
PREFIX: Final = "generation_"


def score_reports(predictions: Sequence[str], references: Sequence[str],
                  parser: TripletParser) -> dict[str, float]:
    """``generation_bleu1..4``, ``generation_rouge_l`` and ``generation_ce_*`` /
    ``generation_region_f1`` of ``predictions`` against ``references``."""
    text = generation_metrics(predictions, references)
    scores = {f"{PREFIX}bleu{n}": text[f"BLEU-{n}"] for n in range(1, 5)}
    scores[f"{PREFIX}rouge_l"] = text["ROUGE-L"]
    clinical = clinical_metrics(report_labels(predictions, parser),
                                report_labels(references, parser))
    scores.update({f"{PREFIX}{name}": value for name, value in clinical.items()})
    return scores


def chance_levels(references: Sequence[str], parser: TripletParser) -> dict[str, float]:
    """Micro-F1 chance of the finding-level and region-level CE scores."""
    labels = report_labels(references, parser)
    return {f"{PREFIX}ce_f1_micro": shuffled_f1_chance(finding_sets(labels)),
            f"{PREFIX}region_f1": shuffled_f1_chance(labels)}


@dataclass
class GenerationEvaluation:
    """Per row, its scores; chance levels; the trained generator; timings; examples (study
    and image id, generated and reference report) of the first held-out images."""

    rows: dict[str, dict[str, float]]
    chance: dict[str, float]
    generator: ReportGenerator
    seconds: dict[str, float] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)

    def flat_metrics(self) -> dict[str, float]:
        """One flat dict: the generator's scores under their own names, a baseline's as
        ``<row>:<name>`` (how a model's evaluation carries them; :func:`row_metric` splits)."""
        return {(name if row == GENERATOR else f"{row}{ROW_SEPARATOR}{name}"): value
                for row, scores in self.rows.items() for name, value in scores.items()}


ROW_SEPARATOR: Final = ":"


def row_metric(key: str) -> tuple[str, str]:
    """``(row, metric)`` of a :meth:`GenerationEvaluation.flat_metrics` key."""
    row, _, metric = key.rpartition(ROW_SEPARATOR)
    return row or GENERATOR, metric


def evaluate_generation(
    model: AlignmentModel, encoder_dir: str, catalog: Catalog, settings: GeneratorSettings,
    out_dir: str | Path | None = None, progress: Emit | None = None, examples: int = 3,
    baselines: bool = True,
) -> GenerationEvaluation:
    """Train a generator on ``model`` (saved to ``out_dir``, or a temporary folder) and score
    it, and unless ``baselines`` is False the baselines, on the held-out split."""
    say = emitter(progress)
    started = time.perf_counter()
    train = encode_slots(model, catalog, settings.train_split, settings.batch_size)
    test = encode_slots(model, catalog, settings.split, settings.batch_size)
    encoded = time.perf_counter()
    say(f"encoded {len(train.image_ids)} training and {len(test.image_ids)} held-out images")
    with tempfile.TemporaryDirectory() as scratch:
        generator = fit_generator(train, catalog, settings, out_dir or scratch, encoder_dir,
                                  progress)
    trained = time.perf_counter()
    generated = generator.reports(test)
    done = time.perf_counter()
    parser = generator.parser
    predictions = {GENERATOR: generated}
    if baselines:
        predictions[NEAREST] = nearest_neighbour_reports(model, train, test, settings.batch_size)
        predictions[MOST_FREQUENT] = ([Counter(train.references).most_common(1)[0][0]]
                                      * len(test.references))
    rows = {row: score_reports(texts, test.references, parser)
            for row, texts in predictions.items()}
    return GenerationEvaluation(
        rows, chance_levels(test.references, parser), generator,
        {"encode": encoded - started, "train": trained - encoded, "generate": done - trained,
         "reports": len(generated)},
        [{"study_id": s, "image_id": i, "generated": g, "reference": r} for s, i, g, r in
         zip(test.study_ids[:examples], test.image_ids, generated, test.references,
             strict=False)])


def nearest_neighbour_reports(model: AlignmentModel, train: SlotFeatures, test: SlotFeatures,
                              batch_size: int) -> list[str]:
    """For each held-out image, the training report nearest its global image embedding."""
    texts = list(dict.fromkeys(train.references))
    embedded = encode_strings(model, texts, model.recipe.max_report_tokens, batch_size)
    return [texts[i] for i in nearest_reports(test.features[:, -1], embedded)]
