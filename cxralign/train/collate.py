"""Building a :class:`~cxralign.models.batch.PretrainingBatch` from examples: pixels warped and
normalised, token ids padded, sentences and region rows flattened over the batch.

A batch is a pure function of its :class:`~cxralign.train.sampler.BatchKey` and the run's seed
(its augmentation generator is seeded from ``(seed, epoch, batch number, rank)``), so it is the
same in whichever data-loader worker builds it and after a resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cxralign.models.batch import PretrainingBatch
from cxralign.train.augment import (
    Augmentation,
    jitter_intensity,
    sample_views,
    warp_boxes,
    warp_images,
)
from cxralign.train.examples import Example, ExampleSet
from cxralign.train.sampler import BatchKey

# ImageNet's mean and standard deviation averaged over RGB: timm sums pretrained RGB stems into
# the one grey channel, so grey inputs should be scaled the way its RGB inputs were.
IMAGE_MEAN = 0.449
IMAGE_STD = 0.226


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """[0, 1] grey images -> the model's input scale (also for evaluation-time inputs)."""
    return (pixels - IMAGE_MEAN) / IMAGE_STD


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows -> (ids (N, T), mask (N, T)) padded on the right to the longest row."""
    width = max((len(row) for row in rows), default=0) or 1
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for position, row in enumerate(rows):
        ids[position, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[position, : len(row)] = 1
    return ids, mask


def batch_seed(seed: int, key: BatchKey, rank: int) -> int:
    """A 63-bit seed for one batch's augmentation, independent across batches and ranks."""
    state = np.random.SeedSequence([seed, key.epoch, key.index, rank]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


@dataclass
class BatchBuilder:
    """``builder[key]`` -> the PretrainingBatch of ``key.rows`` (a map-style dataset whose
    indices are batch keys, so a ``DataLoader(batch_size=None)`` runs it in workers)."""

    data: ExampleSet
    image_size: int
    augmentation: Augmentation
    seed: int = 0
    rank: int = 0
    min_box_visible: float = 0.3

    def __getitem__(self, key: BatchKey) -> PretrainingBatch:
        generator = torch.Generator().manual_seed(batch_seed(self.seed, key, self.rank))
        return self.build([self.data.examples[row] for row in key.rows],
                          [self.data.staged[row] for row in key.rows], generator)

    def build(self, examples: list[Example], pixels: list[np.ndarray],
              generator: torch.Generator) -> PretrainingBatch:
        """The batch of ``examples`` with their staged ``pixels`` (S x S uint8 each)."""
        views = sample_views(len(examples), self.data.staged_size, self.image_size,
                             self.augmentation, generator)
        images = warp_images(torch.from_numpy(np.stack(pixels)), views)
        images = normalise(jitter_intensity(images, self.augmentation, generator))

        report_ids, report_mask = pad_ids([e.report_ids for e in examples], self.data.pad_token_id)
        offsets = np.cumsum([0] + [len(e.sentence_ids) for e in examples])
        sentence_ids, sentence_mask = pad_ids(
            [ids for e in examples for ids in e.sentence_ids], self.data.pad_token_id)
        sentence_study = torch.repeat_interleave(
            torch.arange(len(examples)), torch.as_tensor(np.diff(offsets), dtype=torch.long))

        rows = [(b, region) for b, e in enumerate(examples) for region in e.regions]
        staged_boxes = torch.tensor([region.box for _, region in rows], dtype=torch.float64)
        box_image = torch.tensor([b for b, _ in rows], dtype=torch.long)
        boxes, visible = warp_boxes(staged_boxes.reshape(-1, 4), box_image, views)
        kept = [i for i in range(len(rows)) if visible[i] >= max(self.min_box_visible, 1e-6)]
        region_sentences = torch.zeros((len(kept), int(offsets[-1])), dtype=torch.float32)
        statements: dict[frozenset, int] = {}
        region_groups = torch.zeros(len(kept), dtype=torch.long)
        for out_row, row in enumerate(kept):
            b, region = rows[row]
            region_sentences[out_row, [int(offsets[b]) + s for s in region.sentences]] = 1.0
            stated = frozenset(examples[b].sentence_keys[s] if examples[b].sentence_keys
                               else (b, s) for s in region.sentences)
            region_groups[out_row] = statements.setdefault(stated, len(statements))

        return PretrainingBatch(
            images=images,
            study_ids=[e.study_id for e in examples],
            report_ids=report_ids, report_mask=report_mask,
            sentence_ids=sentence_ids, sentence_mask=sentence_mask, sentence_study=sentence_study,
            region_boxes=boxes[kept].reshape(-1, 4), region_image=box_image[kept],
            region_sentences=region_sentences,
            region_names=[rows[row][1].name for row in kept],
            region_groups=region_groups,
            tags=torch.from_numpy(np.stack([e.tags for e in examples]).astype(np.float32)),
        )


def unwrap(batch: PretrainingBatch) -> PretrainingBatch:
    """The data loader's ``collate_fn``: batches arrive whole from :class:`BatchBuilder`."""
    return batch
