"""Every downstream evaluation of one frozen model: retrieval, zero-shot classification,
linear probing, region grounding, report generation by retrieval and lung segmentation.

:func:`evaluate_model` returns flat headline metrics (what is averaged over seeds and tabled)
and details (per-finding AUCs, probe runs, retrieval examples) for the per-model JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from cxralign.eval.data import SplitData, load_split, named_regions, region_boxes
from cxralign.eval.encode import (
    ImageEmbeddings,
    encode_images,
    encode_strings,
    encode_token_rows,
    feature_maps,
)
from cxralign.eval.generation import generation_metrics, nearest_reports
from cxralign.eval.grounding import GroundingQuery, grounding_metrics
from cxralign.eval.labels import finding_labels
from cxralign.eval.probe import linear_probe, probe_metric_name
from cxralign.eval.retrieval import cosine_similarity_matrix, retrieval_metrics
from cxralign.eval.segmentation import MaskSet, segmentation_metrics
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.zero_shot import prompts, zero_shot_metrics
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel
from cxralign.vocabulary import FINDINGS


@dataclass
class ModelEvaluation:
    """Headline ``metrics`` (name -> value), ``details`` for the per-model JSON and
    ``examples`` (retrieval examples: image id, its report, the top retrieved reports)."""

    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Encoded:
    """Both splits of one model, embedded once and shared by every task."""

    test: SplitData
    train: SplitData
    test_images: ImageEmbeddings
    train_images: ImageEmbeddings
    image_boxes: list[list[tuple[str, Any]]]

    @property
    def image_studies(self) -> list[str]:
        return [e.study_id for e in self.test.examples.examples]

    def labels(self, split: SplitData, uncertain: str) -> np.ndarray:
        return finding_labels(np.stack([e.tags for e in split.examples.examples]), uncertain)


def evaluate_model(
    model: AlignmentModel, catalog: Catalog, settings: EvaluationSettings,
    masks: MaskSet | None = None,
) -> ModelEvaluation:
    """All evaluations of ``model`` on ``catalog``; segmentation only when ``masks`` is given
    (staged at ``model.image_size``)."""
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    encoded = _encode(model, catalog, settings)
    result = ModelEvaluation()
    result.details["images"] = {"test": len(encoded.test.examples),
                                "train": len(encoded.train.examples)}
    _retrieval(model, encoded, settings, result)
    _zero_shot(model, encoded, settings, result)
    _probe(encoded, settings, result)
    result.metrics.update(_grounding(model, encoded, settings.batch_size))
    _generation(model, encoded, settings, result)
    if masks is not None and len(masks):
        maps = feature_maps(model, masks.images, settings.batch_size)
        result.metrics.update(segmentation_metrics(
            maps, masks.masks, masks.groups, settings.segmentation_test_fraction,
            settings.segmentation_epochs, settings.segmentation_lr, settings.seed))
    result.details["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _encode(model: AlignmentModel, catalog: Catalog, settings: EvaluationSettings) -> _Encoded:
    recipe = model.recipe
    test, train = (load_split(catalog, model.tokenizer, split, recipe.max_report_tokens,
                              recipe.max_sentence_tokens)
                   for split in (settings.split, settings.train_split))
    boxes = region_boxes(catalog.read_table("boxes"),
                         {e.image_id for e in test.examples.examples})
    image_boxes = [boxes.get(e.image_id, []) for e in test.examples.examples]
    test_images = encode_images(model, test.examples.staged,
                                [[box for _, box in found] for found in image_boxes],
                                settings.batch_size)
    train_images = encode_images(model, train.examples.staged, None, settings.batch_size)
    return _Encoded(test, train, test_images, train_images, image_boxes)


def _retrieval(model: AlignmentModel, encoded: _Encoded, settings: EvaluationSettings,
               result: ModelEvaluation) -> None:
    reports = _report_embeddings(model, encoded.test, settings.batch_size)
    result.metrics.update(retrieval_metrics(
        encoded.test_images.global_, encoded.image_studies, reports, encoded.test.study_order,
        settings.retrieval_ks, [encoded.test.reports[s] for s in encoded.test.study_order]))
    result.examples = _retrieval_examples(encoded.test, encoded.test_images.global_, reports,
                                          settings.examples)


def _zero_shot(model: AlignmentModel, encoded: _Encoded, settings: EvaluationSettings,
               result: ModelEvaluation) -> None:
    positive, negative = (
        encode_strings(model, prompts(FINDINGS, template), model.recipe.max_sentence_tokens,
                       settings.batch_size)
        for template in (settings.positive_prompt, settings.negative_prompt))
    summary, per_finding = zero_shot_metrics(
        encoded.test_images.global_, positive, negative,
        encoded.labels(encoded.test, settings.uncertain), FINDINGS)
    result.metrics.update(summary)
    result.details["zero_shot_auc"] = per_finding


def _probe(encoded: _Encoded, settings: EvaluationSettings, result: ModelEvaluation) -> None:
    probe = linear_probe(
        encoded.train_images.pooled.numpy(), encoded.labels(encoded.train, settings.uncertain),
        encoded.test_images.pooled.numpy(), encoded.labels(encoded.test, settings.uncertain),
        FINDINGS, settings.probe_fractions, settings.probe_seeds, settings.probe_min_positives,
        settings.probe_c, settings.probe_max_iter)
    result.details["probe"] = {"findings": probe.findings, "runs": [
        {"fraction": r.fraction, "seed": r.seed, "train_images": r.train_images,
         "macro_auc": r.macro_auc, "auc": r.auc} for r in probe.runs]}
    if not probe.findings:
        result.details["probe_skipped"] = (
            f"no finding has {settings.probe_min_positives} training positives and both "
            "classes in the held-out split")
        return
    for fraction in settings.probe_fractions:
        mean, spread = probe.macro_auc(fraction)
        result.metrics[probe_metric_name(fraction)] = mean
        result.details[f"{probe_metric_name(fraction)} std over subsets"] = spread


def _generation(model: AlignmentModel, encoded: _Encoded, settings: EvaluationSettings,
                result: ModelEvaluation) -> None:
    train = encoded.train
    nearest = nearest_reports(encoded.test_images.global_,
                              _report_embeddings(model, train, settings.batch_size))
    result.metrics.update(generation_metrics(
        [train.reports[train.study_order[i]] for i in nearest],
        [encoded.test.reports[s] for s in encoded.image_studies]))


def _report_embeddings(model: AlignmentModel, split: SplitData, batch_size: int) -> torch.Tensor:
    """One embedding per study of ``split``, in :attr:`SplitData.study_order`."""
    first = {}
    for example in split.examples.examples:
        first.setdefault(example.study_id, example.report_ids)
    return encode_token_rows(model, [first[s] for s in split.study_order], batch_size)


def _grounding(model: AlignmentModel, encoded: _Encoded, batch_size: int) -> dict[str, float]:
    """Score each named-region sentence of each held-out image against the image's boxes."""
    examples = encoded.test.examples.examples
    named = named_regions(encoded.test.examples)
    wanted = [(row, position) for row, found in enumerate(named) for position in sorted(found)]
    sentences = encode_token_rows(
        model, [examples[row].sentence_ids[position] for row, position in wanted], batch_size)
    queries = []
    for (row, position), sentence in zip(wanted, sentences, strict=True):
        names = [region for region, _ in encoded.image_boxes[row]]
        if not names or not named[row][position] & set(names):
            continue
        scores = cosine_similarity_matrix(sentence[None], encoded.test_images.regions[row])[0]
        queries.append(GroundingQuery(scores, names, named[row][position]))
    return grounding_metrics(queries)


def _retrieval_examples(
    test: SplitData, images: torch.Tensor, reports: torch.Tensor, count: int, top: int = 3
) -> list[dict[str, Any]]:
    """The first ``count`` held-out images with their own report and the ``top`` reports the
    model retrieves for them (for the retrieval-examples picture; ``pixels`` is the staged
    image, dropped before anything is written as JSON)."""
    similarity = cosine_similarity_matrix(images[:count], reports)
    order = similarity.argsort(dim=1, descending=True)[:, :top]
    examples = []
    for row in range(min(count, len(images))):
        example = test.examples.examples[row]
        retrieved = [test.study_order[int(i)] for i in order[row]]
        examples.append({
            "image_id": example.image_id, "study_id": example.study_id,
            "pixels": test.examples.staged[row],
            "report": test.reports[example.study_id],
            "retrieved": [{"study_id": s, "report": test.reports[s],
                           "correct": s == example.study_id} for s in retrieved],
        })
    return examples
