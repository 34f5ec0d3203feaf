"""Every downstream evaluation of one frozen model: retrieval, zero-shot classification,
linear probing, region grounding, report generation and lung segmentation.

:func:`evaluate_model` returns flat headline metrics (what is averaged over seeds and tabled),
each metric's chance level and trivial baseline where one is computed from the data (they
depend on the held-out data only, not on the model), and details (per-finding AUCs, probe runs,
retrieval examples) for the per-model JSON.

Finding labels: phantom ground truth where it covers a split (:mod:`cxralign.eval.truth`),
parser labels (the study tags, :mod:`cxralign.eval.labels`) always. The headline keys
(``probe_auc_100``, ``zero_shot_auc``) use ground truth when there is one, else parser labels;
with both, the parser-label scores are added with the suffix ``_parser``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from cxralign.eval.auc import findings_counted, macro
from cxralign.eval.data import SplitData, load_splits, named_regions, region_boxes
from cxralign.eval.encode import (
    ImageEmbeddings,
    encode_images,
    encode_strings,
    encode_token_rows,
    feature_maps,
)
from cxralign.eval.grounding import (
    GroundingQuery,
    grounding_chance,
    grounding_metrics,
    grounding_prior,
)
from cxralign.eval.labels import finding_labels
from cxralign.eval.probe import linear_probe, probe_metric_name
from cxralign.eval.retrieval import RetrievalKeys, cosine_similarity_matrix, retrieval_metrics
from cxralign.eval.segmentation import (
    MaskSet,
    grid_too_coarse,
    segmentation_metrics,
    segmentation_references,
)
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.truth import ground_truth_dirs, split_truth, truth_labels
from cxralign.eval.zero_shot import prompt_ensembles, zero_shot_auc
from cxralign.generate.evaluation import (
    MOST_FREQUENT,
    ScoredRows,
    evaluate_baselines,
    evaluate_generation,
)
from cxralign.generate.settings import GeneratorSettings
from cxralign.io.catalog import Catalog
from cxralign.io.secret_key import resolve_key
from cxralign.models.model import AlignmentModel
from cxralign.progress import Emit, Progress
from cxralign.vocabulary import FINDINGS

CHANCE_AUC = 0.5
"""Chance level of every AUC (zero-shot, probe): a score independent of the label."""


@dataclass
class ModelEvaluation:
    """Headline ``metrics`` (name -> value), their ``chance`` levels and data-derived
    ``trivial`` baselines (name -> value), ``details`` for the per-model JSON and ``examples``
    (retrieval examples: image id, its report, the top retrieved reports)."""

    metrics: dict[str, float] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)
    trivial: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class LabelSource:
    """Finding labels of both splits from one source; ``suffix`` goes after its metric keys
    ("" for the headline source); ``train`` is None when the source does not cover it."""

    name: str
    suffix: str
    test: np.ndarray
    train: np.ndarray | None


@dataclass(frozen=True)
class _Encoded:
    """Both splits of one model, embedded once and shared by every task."""

    test: SplitData
    train: SplitData
    test_images: ImageEmbeddings
    train_images: ImageEmbeddings
    image_boxes: list[list[tuple[str, Any]]]
    labels: tuple[LabelSource, ...]
    labels_note: str

    @property
    def image_studies(self) -> list[str]:
        return [e.study_id for e in self.test.examples.examples]


def _parser_labels(split: SplitData, uncertain: str) -> np.ndarray:
    return finding_labels(np.stack([e.tags for e in split.examples.examples]), uncertain)


def _ground_truth(catalog: Catalog, test: SplitData, train: SplitData,
                  settings: EvaluationSettings) -> tuple[np.ndarray | None, np.ndarray | None,
                                                         str | None]:
    """The phantom's ground truth of the held-out and training splits (None where it does not
    cover one), and why there is none for the held-out split: None when no ground truth was
    found at all (a real catalog), a sentence when it was found but does not cover it."""
    folders = ground_truth_dirs(catalog, {*test.examples.partitions, *train.examples.partitions},
                                settings.ground_truth_dirs)
    if not folders:
        return None, None, None
    truth = truth_labels(folders, resolve_key(catalog.root, settings.deid_key_env))
    truth_test, truth_train = (
        split_truth(truth, [e.image_id for e in split.examples.examples])
        for split in (test, train))
    why = None if truth_test is not None else (
        f"phantom ground truth found ({len(truth)} images) but it does not cover every held-out "
        f"image (is ${settings.deid_key_env} the key the catalog was ingested with?)")
    return truth_test, truth_train, why


def label_sources(catalog: Catalog, test: SplitData, train: SplitData,
                  settings: EvaluationSettings) -> tuple[tuple[LabelSource, ...], str]:
    """Ground truth first when it covers the held-out split, then parser labels; and a note
    when ground truth was found but does not cover the held-out images (wrong key?)."""
    parser = (_parser_labels(test, settings.uncertain), _parser_labels(train, settings.uncertain))
    truth_test, truth_train, why = _ground_truth(catalog, test, train, settings)
    if truth_test is None:
        note = f"{why}: parser labels used" if why else ""
        return (LabelSource("parser", "", *parser),), note
    return (LabelSource("ground truth", "", truth_test, truth_train),
            LabelSource("parser", "_parser", *parser)), ""


def ground_truth_source(catalog: Catalog, test: SplitData, train: SplitData,
                        settings: EvaluationSettings) -> LabelSource:
    """The phantom's ground truth for both splits, for analyses that mean nothing on parser
    labels (the supervised ceiling, the zero-shot diagnosis); a :class:`ValueError` saying why
    when it is missing or does not cover both, instead of :func:`label_sources`' quiet fallback
    to parser labels."""
    truth_test, truth_train, why = _ground_truth(catalog, test, train, settings)
    if truth_test is None:
        why = why or "none found beside the catalog or in settings.ground_truth_dirs"
        raise ValueError(f"no phantom ground truth for the held-out split: {why}")
    if truth_train is None:
        raise ValueError(f"phantom ground truth does not cover the {settings.train_split!r} split")
    return LabelSource("ground truth", "", truth_test, truth_train)


def evaluate_model(
    model: AlignmentModel, catalog: Catalog, settings: EvaluationSettings,
    masks: MaskSet | None = None, progress: Emit | None = None,
) -> ModelEvaluation:
    """All evaluations of ``model`` on ``catalog``; segmentation only when ``masks`` is given
    (staged at ``model.image_size``). Each task can take minutes, so ``progress`` gets a line
    with rate and ETA after every one (default: the ``cxralign`` logger)."""
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    segment = masks is not None and len(masks) > 0
    meter = Progress(6 + segment, "evaluation tasks", emit=progress, every_seconds=0)
    encoded = _encode(model, catalog, settings)
    meter.advance(detail="image encoding")
    result = ModelEvaluation()
    result.details["images"] = {"test": len(encoded.test.examples),
                                "train": len(encoded.train.examples)}
    result.details["labels"] = [source.name for source in encoded.labels]
    if encoded.labels_note:
        result.details["labels_note"] = encoded.labels_note
    tasks = [("retrieval", partial(_retrieval, model, encoded, settings, result)),
             ("zero-shot", partial(_zero_shot, model, encoded, settings, result)),
             ("linear probe", partial(_probe, encoded, settings, result)),
             ("grounding", partial(_grounding, model, encoded, settings.batch_size, result))]
    if segment:
        tasks.append(("segmentation", partial(_segmentation, model, masks, settings, result)))
    tasks.append(("generation",
                  partial(_generation, model, catalog, encoded, settings, progress, result)))
    for name, task in tasks:
        task()
        meter.advance(detail=name)
    result.details["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _segmentation(model: AlignmentModel, masks: MaskSet, settings: EvaluationSettings,
                  result: ModelEvaluation) -> None:
    maps = feature_maps(model, masks.images, settings.batch_size)
    too_coarse = grid_too_coarse(maps, settings.segmentation_min_grid)
    if too_coarse:
        result.details["segmentation_skipped"] = too_coarse
        return
    result.metrics.update(segmentation_metrics(
        maps, masks.masks, masks.groups, settings.segmentation_test_fraction,
        settings.segmentation_epochs, settings.segmentation_lr, settings.seed))
    chance, trivial = segmentation_references(
        masks.masks, masks.groups, settings.segmentation_test_fraction, settings.seed)
    result.chance.update(chance)
    result.trivial.update(trivial)


def _encode(model: AlignmentModel, catalog: Catalog, settings: EvaluationSettings) -> _Encoded:
    test, train = load_splits(catalog, model.tokenizer, model.recipe, settings)
    boxes = region_boxes(catalog.read_table("boxes"),
                         {e.image_id for e in test.examples.examples})
    image_boxes = [boxes.get(e.image_id, []) for e in test.examples.examples]
    test_images = encode_images(model, test.examples.staged,
                                [[box for _, box in found] for found in image_boxes],
                                settings.batch_size)
    train_images = encode_images(model, train.examples.staged, None, settings.batch_size)
    return _Encoded(test, train, test_images, train_images, image_boxes,
                    *label_sources(catalog, test, train, settings))


def _finding_set(tags: np.ndarray) -> tuple[int, ...]:
    """Columns of the findings a report states present (uncertain-only ones are not)."""
    return tuple(np.flatnonzero(finding_labels(tags[None], "negative")[0] == 1).tolist())


def _retrieval(model: AlignmentModel, encoded: _Encoded, settings: EvaluationSettings,
               result: ModelEvaluation) -> None:
    test = encoded.test
    reports = _report_embeddings(model, test, settings.batch_size)
    tags: dict[str, np.ndarray] = {}
    for example in test.examples.examples:
        tags.setdefault(example.study_id, example.tags)
    findings = {study: _finding_set(study_tags) for study, study_tags in tags.items()}
    keys = {
        "study": RetrievalKeys([test.reports[s] for s in encoded.image_studies],
                               [test.reports[s] for s in test.study_order]),
        "findings": RetrievalKeys([findings[s] for s in encoded.image_studies],
                                  [findings[s] for s in test.study_order]),
    }
    retrieval = retrieval_metrics(encoded.test_images.global_, reports, keys, keys["findings"],
                                  settings.retrieval_ks)
    result.metrics.update(retrieval.metrics)
    result.chance.update(retrieval.chance)
    result.trivial.update(retrieval.trivial)
    result.examples = _retrieval_examples(encoded.test, encoded.test_images.global_, reports,
                                          settings.examples)


def _zero_shot(model: AlignmentModel, encoded: _Encoded, settings: EvaluationSettings,
               result: ModelEvaluation) -> None:
    positive, negative = prompt_ensembles(
        lambda texts: encode_strings(model, texts, model.recipe.max_sentence_tokens,
                                     settings.batch_size),
        settings.positive_prompts, settings.negative_prompts, FINDINGS)
    for source in encoded.labels:
        name = f"zero_shot_auc{source.suffix}"
        per_finding = zero_shot_auc(encoded.test_images.global_, positive, negative, source.test,
                                    FINDINGS)
        result.metrics[name] = macro(per_finding)
        result.metrics[findings_counted(name)] = float(len(per_finding))
        result.chance[name] = CHANCE_AUC
        result.details[name] = per_finding


def _probe(encoded: _Encoded, settings: EvaluationSettings, result: ModelEvaluation) -> None:
    for source in encoded.labels:
        if source.train is None:
            result.details[f"probe{source.suffix}_skipped"] = (
                f"no {source.name} labels for the {settings.train_split!r} split")
            continue
        _probe_source(encoded, source, settings, result)


def _probe_source(encoded: _Encoded, source: LabelSource, settings: EvaluationSettings,
                  result: ModelEvaluation) -> None:
    probe = linear_probe(
        encoded.train_images.pooled.numpy(), source.train, encoded.test_images.pooled.numpy(),
        source.test, FINDINGS, settings.probe_fractions, settings.probe_seeds,
        settings.probe_min_positives, c_grid=settings.probe_c_grid,
        cv_folds=settings.probe_cv_folds, max_iter=settings.probe_max_iter)
    runs = [{"fraction": r.fraction, "seed": r.seed, "train_images": r.train_images,
             "macro_auc": r.macro_auc, "auc": r.auc, "not_fitted": list(r.not_fitted),
             "c": r.c}
            for r in probe.runs]
    result.details[f"probe{source.suffix}"] = {"labels": source.name, "findings": probe.findings,
                                               "runs": runs}
    if not probe.findings:
        result.details[f"probe{source.suffix}_skipped"] = (
            f"no finding has {settings.probe_min_positives} training positives and both "
            f"classes in the held-out split ({source.name} labels)")
    for fraction in settings.probe_fractions:
        name = probe_metric_name(fraction, source.suffix)
        mean, spread, classes = probe.macro_auc(fraction)
        result.metrics[name] = mean
        result.metrics[findings_counted(name)] = classes
        result.chance[name] = CHANCE_AUC
        result.details[f"{name} std over subsets"] = spread


def _generation(model: AlignmentModel, catalog: Catalog, encoded: _Encoded,
                settings: EvaluationSettings, progress: Emit | None,
                result: ModelEvaluation) -> None:
    """Report generation on this frozen encoder (``generation_*`` metrics; a baseline's carry
    its row, see :meth:`~cxralign.generate.evaluation.ScoredRows.flat_metrics`).

    The ``nearest_neighbour`` and ``most_frequent`` baselines need no training, so they are
    scored even when ``generation_epochs`` = 0 switches the region-guided generator off: the
    table keeps its baselines, from the image embeddings this evaluation already has, for one
    encoding of the training reports and a parse of the reports. Measured on a 300-study
    phantom catalog (64 px, untrained asg, one thread): 3.3 s of a 26 s evaluation (13 %),
    against 23 s of 90 s with a half-epoch generator; the baseline rows are identical with
    the generator on and off."""
    scored: ScoredRows
    if settings.generation_epochs > 0:
        generated = evaluate_generation(
            model, "", catalog, GeneratorSettings(
                split=settings.split, train_split=settings.train_split,
                epochs=settings.generation_epochs, seed=settings.seed),
            progress=progress)
        result.details["generation_examples"] = generated.examples
        result.details["generation_threshold"] = generated.generator.threshold
        scored = generated
    else:
        scored = evaluate_baselines(
            model, encoded.test_images.global_,
            [encoded.train.reports[e.study_id] for e in encoded.train.examples.examples],
            [encoded.test.reports[s] for s in encoded.image_studies], settings.batch_size)
    result.metrics.update(scored.flat_metrics())
    result.chance.update(scored.chance)
    result.trivial.update({metric: scored.rows[MOST_FREQUENT][metric] for metric in scored.chance})


def _report_embeddings(model: AlignmentModel, split: SplitData, batch_size: int) -> torch.Tensor:
    """One embedding per study of ``split``, in :attr:`SplitData.study_order`."""
    first = {}
    for example in split.examples.examples:
        first.setdefault(example.study_id, example.report_ids)
    return encode_token_rows(model, [first[s] for s in split.study_order], batch_size)


def _grounding(model: AlignmentModel, encoded: _Encoded, batch_size: int,
               result: ModelEvaluation) -> None:
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
    result.metrics.update(grounding_metrics(queries))
    result.chance.update(grounding_chance(queries))
    result.trivial.update(grounding_prior(queries))


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
