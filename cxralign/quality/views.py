"""Tables shaped for a suite: the columns an expectation needs that no stage table stores.

great-expectations checks one table at a time, so properties that span tables (does a report
have usable sections? is the evidence span inside its sentence?) are computed here first.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc


def sections_coverage(reports: pa.Table, sections: pa.Table) -> pa.Table:
    """One row per ingested report: its study id and whether findings or impression has text.

    Reports the section stage rejected count as without content, so a batch of empty reports
    fails the suite instead of passing with zero rows.
    """
    has_text = lambda column: pc.fill_null(pc.greater(pc.utf8_length(sections[column]), 0), False)  # noqa: E731
    content = pc.or_(has_text("findings"), has_text("impression"))
    with_content = set(pc.filter(sections["study_id"], content).to_pylist())
    study_ids = reports["study_id"].to_pylist()
    return pa.table({
        "study_id": study_ids,
        "has_content": [study in with_content for study in study_ids],
    })


def triplets_with_evidence(triplets: pa.Table, sentences: pa.Table) -> pa.Table:
    """Triplets plus ``evidence_in_sentence``: the evidence is a substring of its sentence."""
    text_of = {
        (study, index): text
        for study, index, text in zip(
            sentences["study_id"].to_pylist(), sentences["sentence_index"].to_pylist(),
            sentences["text"].to_pylist(), strict=True,
        )
    }
    inside = [
        evidence is not None and evidence in text_of.get((study, index), "")
        for study, index, evidence in zip(
            triplets["study_id"].to_pylist(), triplets["sentence_index"].to_pylist(),
            triplets["evidence"].to_pylist(), strict=True,
        )
    ]
    return triplets.append_column("evidence_in_sentence", pa.array(inside, pa.bool_()))


def report_findings_with_triplets(findings: pa.Table, triplets: pa.Table) -> pa.Table:
    """Report findings plus ``has_positive_triplet``: the finding has a present or uncertain
    triplet in that report (a report finding never invents what the triplets do not say)."""
    positive = {
        (study, finding)
        for study, finding, existence in zip(
            triplets["study_id"].to_pylist(), triplets["finding"].to_pylist(),
            triplets["existence"].to_pylist(), strict=True,
        )
        if existence in ("present", "uncertain")
    }
    backed = [
        (study, finding) in positive
        for study, finding in zip(findings["study_id"].to_pylist(),
                                  findings["finding"].to_pylist(), strict=True)
    ]
    return findings.append_column("has_positive_triplet", pa.array(backed, pa.bool_()))


def boxes_geometry(boxes: pa.Table, images: pa.Table) -> pa.Table:
    """Boxes plus what their suite checks: inside the staged image with positive area, and
    (per image) how many of the 29 regions it has and whether the lungs sit on the right sides.

    Staged images are square; their side is the ingestion ``staged_size``, recovered from each
    image's ``staged_scale`` and original size (staged = original × scale, longest side = S).
    """
    side_of = {
        image_id: round(max(rows, columns) * scale)
        for image_id, rows, columns, scale in zip(
            images["image_id"].to_pylist(), images["rows"].to_pylist(),
            images["columns"].to_pylist(), images["staged_scale"].to_pylist(), strict=True,
        )
    }
    rows = boxes.to_pylist()
    regions_per_image: dict[str, set[str]] = {}
    lung_centre: dict[tuple[str, str], float] = {}
    for row in rows:
        regions_per_image.setdefault(row["image_id"], set()).add(row["region"])
        if row["region"] in ("right lung", "left lung"):
            lung_centre[(row["image_id"], row["region"])] = (row["x1"] + row["x2"]) / 2
    tolerance = 0.5  # boxes are float pixels; allow rounding at the border

    def inside(row: dict) -> bool:
        side = side_of.get(row["image_id"])
        return (
            side is not None
            and -tolerance <= row["x1"] < row["x2"] <= side + tolerance
            and -tolerance <= row["y1"] < row["y2"] <= side + tolerance
        )

    def lungs_in_place(image_id: str) -> bool:
        # Patient-right is image-left on a frontal radiograph.
        right = lung_centre.get((image_id, "right lung"))
        left = lung_centre.get((image_id, "left lung"))
        return right is not None and left is not None and right < left

    return boxes.append_column(
        "inside_image", pa.array([inside(row) for row in rows], pa.bool_())
    ).append_column(
        "regions_in_image", pa.array([len(regions_per_image[row["image_id"]]) for row in rows], pa.int32())
    ).append_column(
        "lungs_in_place", pa.array([lungs_in_place(row["image_id"]) for row in rows], pa.bool_())
    ).append_column(
        "image_is_ingested", pa.array([row["image_id"] in side_of for row in rows], pa.bool_())
    )


def pairs_references(pairs: pa.Table, sentences: pa.Table, boxes: pa.Table) -> pa.Table:
    """Pairs plus whether every sentence they cite exists, whether a region row's region has a
    box on that image, and the length of its tag vector."""
    known_sentences = set(zip(
        sentences["study_id"].to_pylist(), sentences["sentence_index"].to_pylist(), strict=True
    ))
    known_boxes = set(zip(boxes["image_id"].to_pylist(), boxes["region"].to_pylist(), strict=True))
    rows = pairs.select(["study_id", "image_id", "pair_kind", "member_regions", "sentence_indices"]).to_pylist()
    sentences_exist = [
        all((row["study_id"], index) in known_sentences for index in row["sentence_indices"])
        for row in rows
    ]
    boxes_exist = [
        all((row["image_id"], region) in known_boxes for region in row["member_regions"])
        for row in rows
    ]
    return pairs.append_column(
        "sentences_exist", pa.array(sentences_exist, pa.bool_())
    ).append_column(
        "boxes_exist", pa.array(boxes_exist, pa.bool_())
    ).append_column(
        "tag_count", pc.list_value_length(pairs["tags"])
    )


def sentences_in_sections(sentences: pa.Table, sections: pa.Table) -> pa.Table:
    """Sentences plus ``offsets_match_section``: the sentence is exactly the slice
    ``char_start:char_end`` of its study's section text (so offsets can be trusted to
    highlight evidence in the report)."""
    section_text: dict[tuple[str, str], str] = {}
    for row in sections.select(["study_id", "findings", "impression"]).to_pylist():
        for section in ("findings", "impression"):
            section_text[(row["study_id"], section)] = row[section] or ""
    match = [
        start is not None and end is not None and start < end
        and section_text.get((study, section), "")[start:end] == text
        for study, section, text, start, end in zip(
            *(sentences[name].to_pylist()
              for name in ("study_id", "section", "text", "char_start", "char_end")),
            strict=True,
        )
    ]
    return sentences.append_column("offsets_match_section", pa.array(match, pa.bool_()))


def training_log_with_increments(log: pa.Table) -> pa.Table:
    """One run's training log plus ``step_increment``: each step minus the previous row's step
    (null on the first row), so strictly increasing steps mean every increment is at least 1."""
    steps = log["step"].to_pylist()
    increments = [None] + [
        None if before is None or after is None else after - before
        for before, after in zip(steps, steps[1:], strict=False)
    ]
    return log.append_column("step_increment", pa.array(increments[: len(steps)], pa.int64()))


RATE_METRIC = re.compile(
    r"(?i)(^|[^a-z])(auc|auroc|auprc|acc|accuracy|f1|precision|recall|r@\d+|top\d+|dice|iou|"
    r"bleu(-?\d)?|rouge(-?[a-z0-9]+)?|meteor|sensitivity|specificity)([^a-z]|$)"
)
"""Metric names that are rates (bounded by 0 and 1): AUCs (``probe_auc@10%``), recall@k
(``i2t_R@5``), top-k hit rates (``grounding_top1``), Dice, BLEU-n, ROUGE-L, accuracy, F1, ...
Anything else (ranks, counts, losses, seconds) is not range-checked."""


def is_rate(metric: str) -> bool:
    """Whether ``metric`` names a rate in [0, 1] (see :data:`RATE_METRIC`)."""
    return RATE_METRIC.search(metric) is not None


def evaluation_completeness(metrics: pa.Table) -> pa.Table:
    """Evaluation metrics plus what their suite checks: ``rate_mean`` (the mean where the metric
    is a rate, else null), ``seeds_listed`` (length of ``seeds``) and ``missing_metrics``
    (``"<recipe>: a, b"`` naming the metrics other recipes have and this one lacks; empty when
    complete)."""
    recipes = metrics["recipe"].to_pylist()
    names = metrics["metric"].to_pylist()
    every_metric = set(names)
    metrics_of: dict[str, set[str]] = {}
    for recipe, name in zip(recipes, names, strict=True):
        metrics_of.setdefault(recipe, set()).add(name)
    missing = {
        recipe: f"{recipe}: {', '.join(sorted(every_metric - have))}" if every_metric - have else ""
        for recipe, have in metrics_of.items()
    }
    rate_mean = [
        mean if is_rate(name) else None
        for name, mean in zip(names, metrics["mean"].to_pylist(), strict=True)
    ]
    return metrics.append_column(
        "rate_mean", pa.array(rate_mean, pa.float64())
    ).append_column(
        "seeds_listed", pc.list_value_length(metrics["seeds"]).cast(pa.int64())
    ).append_column(
        "missing_metrics", pa.array([missing[recipe] for recipe in recipes], pa.string())
    )
