"""The one tensor bundle every pre-training objective reads.

A batch carries three granularities at once because the papers align at three levels: the
whole report against the whole image (ConVIRT, MGCA ITA, ASG IRA), single words against image
patches (MGCA token alignment, AdaMatch), and anatomical regions against the sentences that
describe them (ASG). Sentences and regions are flattened over the batch (``S`` and ``R`` rows)
with an index back to their batch row, so studies with many or no sentences cost nothing extra.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


@dataclass(frozen=True)
class PretrainingBatch:
    """``B`` studies (one image each), their ``S`` sentences and ``R`` region rows.

    ``region_boxes`` are in model-input pixels (the staged boxes scaled by
    ``image_size / staged_size``); ``region_sentences[r, s] = 1`` when pair row ``r`` gathers
    sentence ``s`` (region and merged rows only; image-level rows are not regions).
    """

    images: torch.Tensor  # (B, 1, H, W) float32, normalised
    study_ids: list[str]  # (B,)
    report_ids: torch.Tensor  # (B, T) long: findings + impression
    report_mask: torch.Tensor  # (B, T) long
    sentence_ids: torch.Tensor  # (S, Ts) long
    sentence_mask: torch.Tensor  # (S, Ts) long
    sentence_study: torch.Tensor  # (S,) long: batch row of each sentence
    region_boxes: torch.Tensor  # (R, 4) float: x1, y1, x2, y2 in model-input pixels
    region_image: torch.Tensor  # (R,) long: batch row of each region
    region_sentences: torch.Tensor  # (R, S) float 0/1
    region_names: list[str]  # (R,): region name or "merged"
    tags: torch.Tensor  # (B, 78) float32: the study's tag vector (cxralign.pairs.tags)
    # (R,) long: rows with the same id state the same thing (same normalised sentence text or
    # the same <region, finding, existence> set), so they are each other's positives. None:
    # rows are grouped by their own sentences only.
    region_groups: torch.Tensor | None = None

    def __post_init__(self) -> None:
        batch, sentences, regions = len(self.images), len(self.sentence_ids), len(self.region_boxes)
        expected = {
            "study_ids": (len(self.study_ids), batch),
            "report_ids": (len(self.report_ids), batch),
            "tags": (len(self.tags), batch),
            "sentence_study": (len(self.sentence_study), sentences),
            "region_image": (len(self.region_image), regions),
            "region_names": (len(self.region_names), regions),
            "region_sentences": (tuple(self.region_sentences.shape), (regions, sentences)),
        }
        if self.region_groups is not None:
            expected["region_groups"] = (len(self.region_groups), regions)
        wrong = {name: got for name, (got, want) in expected.items() if got != want}
        if wrong:
            raise ValueError(
                f"inconsistent PretrainingBatch (B={batch}, S={sentences}, R={regions}): {wrong}"
            )

    @property
    def size(self) -> int:
        """Number of studies ``B``."""
        return len(self.images)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PretrainingBatch:
        """A copy with every tensor on ``device`` (lists are shared)."""
        moved = {
            field.name: value.to(device, non_blocking=non_blocking)
            for field in fields(self)
            if isinstance(value := getattr(self, field.name), torch.Tensor)
        }
        return replace(self, **moved)
