"""Scoring the generator beside its baselines on the held-out split.

Rows: ``generator`` (region-guided generation on this encoder), ``nearest_neighbour`` (the
training report whose text embedding is nearest the image embedding) and ``most_frequent``
(the commonest training report for every image). Each gets BLEU-1..4 and ROUGE-L
(torchmetrics) and the clinical-efficacy scores of :mod:`cxralign.eval.clinical`, under
``generation_*`` names; chance levels are those of shuffled reference labels. The baselines
need no training, so :func:`evaluate_baselines` scores them alone (``downstream_evaluation``
with the generator switched off).

BLEU is corpus level on lower-cased, whitespace-split texts; ROUGE-L is the F-measure with
ROUGE's default normaliser (lower-case, alphanumeric tokens), which needs no NLTK (only
``rougeLsum``'s sentence splitting and the stemmer do), so scoring runs offline.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import torch
from torchmetrics.text import BLEUScore
from torchmetrics.text.rouge import ROUGEScore

from cxralign.eval.clinical import (
    clinical_metrics,
    finding_sets,
    report_labels,
    shuffled_f1_chance,
)
from cxralign.eval.encode import encode_strings
from cxralign.eval.retrieval import cosine_similarity_matrix
from cxralign.generate.data import encode_slots
from cxralign.generate.generator import ReportGenerator, fit_generator
from cxralign.generate.settings import GeneratorSettings
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel
from cxralign.progress import Emit, emitter
from cxralign.text.pipeline import TripletParser, load_parser

GENERATOR: Final = "generator"
NEAREST: Final = "nearest_neighbour"
MOST_FREQUENT: Final = "most_frequent"
PREFIX: Final = "generation_"


def text_scores(predictions: Sequence[str], references: Sequence[str],
                max_n: int = 4) -> dict[str, float]:
    """``generation_bleu1`` … ``generation_bleu<max_n>`` and ``generation_rouge_l`` of
    predicted vs reference reports (empty without predictions)."""
    if len(predictions) != len(references):
        raise ValueError("one reference per prediction")
    if not predictions:
        return {}
    preds = [p.lower() for p in predictions]
    refs = [r.lower() for r in references]
    scores = {f"{PREFIX}bleu{n}": float(BLEUScore(n_gram=n)(preds, [[r] for r in refs]))
              for n in range(1, max_n + 1)}
    rouge = ROUGEScore(rouge_keys=("rougeL",))(preds, refs)
    scores[f"{PREFIX}rouge_l"] = float(rouge["rougeL_fmeasure"])
    return scores


def score_reports(predictions: Sequence[str], references: Sequence[str],
                  parser: TripletParser) -> dict[str, float]:
    """:func:`text_scores` and ``generation_ce_*`` / ``generation_region_f1`` of
    ``predictions`` against ``references``."""
    scores = text_scores(predictions, references)
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
class ScoredRows:
    """Per row (``generator``, ``nearest_neighbour``, ``most_frequent``), its scores; and the
    chance levels of the held-out references."""

    rows: dict[str, dict[str, float]]
    chance: dict[str, float]

    def flat_metrics(self) -> dict[str, float]:
        """One flat dict: the generator's scores under their own names, a baseline's as
        ``<row>:<name>`` (how a model's evaluation carries them; :func:`row_metric` splits)."""
        return {(name if row == GENERATOR else f"{row}{ROW_SEPARATOR}{name}"): value
                for row, scores in self.rows.items() for name, value in scores.items()}


@dataclass
class GenerationEvaluation(ScoredRows):
    """Scored rows with the trained generator; timings; examples (study and image id,
    generated and reference report) of the first held-out images."""

    generator: ReportGenerator = field(kw_only=True)
    seconds: dict[str, float] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)


ROW_SEPARATOR: Final = ":"


def row_metric(key: str) -> tuple[str, str]:
    """``(row, metric)`` of a :meth:`ScoredRows.flat_metrics` key."""
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
    predictions = {GENERATOR: generated}
    if baselines:
        predictions.update(baseline_reports(model, test.features[:, -1], train.references,
                                            settings.batch_size))
    scored = _scored(predictions, test.references, generator.parser)
    return GenerationEvaluation(
        scored.rows, scored.chance, generator=generator,
        seconds={"encode": encoded - started, "train": trained - encoded,
                 "generate": done - trained, "reports": len(generated)},
        examples=[{"study_id": s, "image_id": i, "generated": g, "reference": r}
                  for s, i, g, r in zip(test.study_ids[:examples], test.image_ids, generated,
                                        test.references, strict=False)])


def evaluate_baselines(model: AlignmentModel, test_images: torch.Tensor,
                       train_references: Sequence[str], test_references: Sequence[str],
                       batch_size: int) -> ScoredRows:
    """The ``nearest_neighbour`` and ``most_frequent`` rows alone, from global embeddings of
    the held-out images the caller already has (no generator is trained, no image encoded
    again); reports are parsed with the rule parser a generator scores with by default."""
    return _scored(baseline_reports(model, test_images, train_references, batch_size),
                   test_references, load_parser("rules"))


def _scored(predictions: dict[str, list[str]], references: Sequence[str],
            parser: TripletParser) -> ScoredRows:
    return ScoredRows({row: score_reports(texts, references, parser)
                       for row, texts in predictions.items()},
                      chance_levels(references, parser))


def baseline_reports(model: AlignmentModel, test_images: torch.Tensor,
                     train_references: Sequence[str], batch_size: int) -> dict[str, list[str]]:
    """Each baseline row's report for every held-out image (``test_images``: one global
    embedding each): the training report nearest the image (``nearest_neighbour``), the
    commonest one (``most_frequent``); ``train_references`` has one report per training
    image, so a report's count is its images'."""
    texts = list(dict.fromkeys(train_references))
    embedded = encode_strings(model, texts, model.recipe.max_report_tokens, batch_size)
    nearest = cosine_similarity_matrix(test_images, embedded).argmax(dim=1).tolist()
    commonest = Counter(train_references).most_common(1)[0][0]
    return {NEAREST: [texts[i] for i in nearest], MOST_FREQUENT: [commonest] * len(test_images)}
