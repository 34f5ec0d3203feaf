"""The expectations each stage table must meet before the next stage may read it.

A suite is a function returning expectations, so thresholds can depend on settings. Keep each
expectation about one property that a person can act on when it fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import great_expectations as gx
from great_expectations.expectations import Expectation

from cxralign.pairs import PAIR_KINDS, TAG_COUNT
from cxralign.text.calibration import EVIDENCE_KINDS
from cxralign.train.output import BASE_LOG_COLUMNS
from cxralign.vocabulary import EXISTENCE, FINDINGS, REGIONS, UNSPECIFIED_REGION

E = gx.expectations


def images_suite() -> list[Expectation]:
    """Ingested images: unique pseudonymous ids, sane geometry, known photometric and split."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeUnique(column="image_id"),
        E.ExpectColumnValuesToNotBeNull(column="study_id"),
        E.ExpectColumnValuesToBeInSet(column="photometric", value_set=["MONOCHROME1", "MONOCHROME2"]),
        E.ExpectColumnValuesToBeBetween(column="bits_stored", min_value=8, max_value=16),
        E.ExpectColumnValuesToBeBetween(column="rows", min_value=64),
        E.ExpectColumnValuesToBeBetween(column="columns", min_value=64),
        E.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "validate", "test"]),
        E.ExpectColumnValuesToMatchRegex(column="sha256", regex=r"^[0-9a-f]{64}$"),
        # Dates leave ingestion only as the keyed, per-patient shifted study_date.
        E.ExpectColumnToExist(column="study_date"),
    ]


def rejected_inputs_suite() -> list[Expectation]:
    """Quarantine rows: every rejection names its stage and a reason."""
    return [
        E.ExpectColumnValuesToNotBeNull(column="stage"),
        E.ExpectColumnValuesToNotBeNull(column="reason"),
        E.ExpectColumnValuesToNotBeNull(column="source_path_hash"),
    ]


def reports_suite() -> list[Expectation]:
    """Raw reports: one per study, with text."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeUnique(column="study_id"),
        E.ExpectColumnValueLengthsToBeBetween(column="report_text", min_value=1),
        E.ExpectColumnToExist(column="study_date"),
    ]


def sections_suite(min_share_with_content: float = 0.9) -> list[Expectation]:
    """Sections (as ``views.sections_coverage``): most reports must yield findings or an
    impression, or every later text stage is blind."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeUnique(column="study_id"),
        E.ExpectColumnValuesToBeInSet(
            column="has_content", value_set=[True], mostly=min_share_with_content
        ),
    ]


def sentences_suite() -> list[Expectation]:
    """Sentences (as ``views.sentences_in_sections``): from findings or impression, numbered
    once per study, non-empty, and each one exactly the text its offsets cut from its section
    (triplet evidence and pair sentence indices are only meaningful if that holds)."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToNotBeNull(column="study_id"),
        E.ExpectCompoundColumnsToBeUnique(column_list=["study_id", "sentence_index"]),
        E.ExpectColumnValuesToBeBetween(column="sentence_index", min_value=0),
        E.ExpectColumnValuesToBeInSet(column="section", value_set=["findings", "impression"]),
        E.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1),
        E.ExpectColumnValuesToBeInSet(column="offsets_match_section", value_set=[True]),
    ]


def triplets_suite() -> list[Expectation]:
    """Triplets (as ``views.triplets_with_evidence``): every value from the controlled
    vocabularies, every evidence span inside its sentence."""
    return [
        E.ExpectColumnValuesToBeInSet(column="region", value_set=[*REGIONS, UNSPECIFIED_REGION]),
        E.ExpectColumnValuesToBeInSet(column="finding", value_set=list(FINDINGS)),
        E.ExpectColumnValuesToBeInSet(column="existence", value_set=list(EXISTENCE)),
        E.ExpectColumnValuesToNotBeNull(column="evidence"),
        E.ExpectColumnValuesToBeInSet(column="evidence_in_sentence", value_set=[True]),
    ]


def report_findings_suite() -> list[Expectation]:
    """Report findings (as ``views.report_findings_with_triplets``): one row per (report,
    finding), each backed by a positive triplet, known evidence kinds, probabilities in [0, 1]."""
    return [
        E.ExpectColumnValuesToBeInSet(column="finding", value_set=list(FINDINGS)),
        E.ExpectColumnValuesToBeInSet(column="evidence_kind", value_set=list(EVIDENCE_KINDS)),
        E.ExpectColumnValuesToBeBetween(column="probability", min_value=0.0, max_value=1.0),
        E.ExpectColumnValuesToNotBeNull(column="indexed"),
        E.ExpectColumnValuesToBeInSet(column="has_positive_triplet", value_set=[True]),
        E.ExpectCompoundColumnsToBeUnique(column_list=["study_id", "finding"]),
    ]


def boxes_suite() -> list[Expectation]:
    """Anatomy boxes (as ``views.boxes_geometry``): every box inside its image with positive
    area, all 29 regions on every image, right lung on image-left, known sources."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeInSet(column="region", value_set=list(REGIONS)),
        E.ExpectColumnValuesToBeInSet(column="source", value_set=["detector", "atlas", "gold"]),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=0.0, max_value=1.0),
        E.ExpectColumnValuesToBeInSet(column="inside_image", value_set=[True]),
        E.ExpectColumnValuesToBeInSet(column="image_is_ingested", value_set=[True]),
        E.ExpectColumnValuesToBeBetween(
            column="regions_in_image", min_value=len(REGIONS), max_value=len(REGIONS)
        ),
        E.ExpectColumnValuesToBeInSet(column="lungs_in_place", value_set=[True]),
        E.ExpectCompoundColumnsToBeUnique(column_list=["image_id", "region"]),
    ]


def pairs_suite() -> list[Expectation]:
    """Region–sentence pairs (as ``views.pairs_references``): known kinds, every cited
    sentence and box exists, tag vectors of the vocabulary's length."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeInSet(column="pair_kind", value_set=list(PAIR_KINDS)),
        E.ExpectColumnValuesToBeInSet(column="sentences_exist", value_set=[True]),
        E.ExpectColumnValuesToBeInSet(column="boxes_exist", value_set=[True]),
        E.ExpectColumnValuesToBeBetween(column="tag_count", min_value=TAG_COUNT, max_value=TAG_COUNT),
    ]


def training_log_suite(loss_columns: Sequence[str] = ("loss",)) -> list[Expectation]:
    """One run's training log (as ``views.training_log_with_increments``): finite losses (the
    total and every ``loss_<term>`` named in ``loss_columns``), steps that strictly increase, a
    non-negative learning rate and positive throughput.

    NaN reads as null and infinity falls outside the float range, so each loss column gets
    both expectations and a failure names the term that diverged."""
    largest = sys.float_info.max
    finite = [
        expectation
        for column in loss_columns
        for expectation in (
            E.ExpectColumnValuesToNotBeNull(column=column),
            E.ExpectColumnValuesToBeBetween(column=column, min_value=-largest, max_value=largest),
        )
    ]
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        *[E.ExpectColumnToExist(column=column) for column in BASE_LOG_COLUMNS],
        *finite,
        E.ExpectColumnValuesToNotBeNull(column="step"),
        E.ExpectColumnValuesToBeBetween(column="step_increment", min_value=1),
        E.ExpectColumnValuesToBeBetween(column="epoch", min_value=0),
        E.ExpectColumnValuesToNotBeNull(column="lr"),
        E.ExpectColumnValuesToBeBetween(column="lr", min_value=0.0),
        E.ExpectColumnValuesToNotBeNull(column="pairs_per_second"),
        E.ExpectColumnValuesToBeBetween(column="pairs_per_second", min_value=0.0, strict_min=True),
    ]


def evaluation_metrics_suite() -> list[Expectation]:
    """Evaluation metrics (as ``views.evaluation_completeness``): one row per recipe and
    metric, rates (AUC, recall@k, Dice, BLEU, ...) in [0, 1], a non-negative spread over at
    least one seed, and no recipe missing a metric another recipe has (else the comparison
    table silently compares different things)."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectCompoundColumnsToBeUnique(column_list=["recipe", "metric"]),
        E.ExpectColumnValuesToNotBeNull(column="mean"),
        E.ExpectColumnValuesToBeBetween(column="rate_mean", min_value=0.0, max_value=1.0),
        E.ExpectColumnValuesToBeBetween(column="std", min_value=0.0),
        E.ExpectColumnValuesToBeBetween(column="n_seeds", min_value=1),
        E.ExpectColumnPairValuesToBeEqual(column_A="n_seeds", column_B="seeds_listed"),
        E.ExpectColumnValuesToBeInSet(column="missing_metrics", value_set=[""]),
    ]


SUITES: dict[str, Callable[[], list[Expectation]]] = {
    "images": images_suite,
    "rejected_inputs": rejected_inputs_suite,
    "reports": reports_suite,
    "sections": sections_suite,
    "sentences": sentences_suite,
    "triplets": triplets_suite,
    "report_findings": report_findings_suite,
    "boxes": boxes_suite,
    "pairs": pairs_suite,
    "training_log": training_log_suite,
    "evaluation_metrics": evaluation_metrics_suite,
}
"""Each stage table's suite, by table name (``training_log`` checks only ``loss`` unless given
the log's ``loss_<term>`` columns: ``tables.suite_for`` does that)."""
