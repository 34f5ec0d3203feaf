"""What the generator learns from and is conditioned on: per image, one frozen feature per
anatomical slot (the 29 regions' RoI embeddings, then the whole image's global embedding) and
the sentence the report writes about each slot.

Slot targets come from the ``pairs`` table: a ``region`` row links a region to the sentences
that name it, an ``image`` row to sentences that name no region ("No pneumothorax."). Every
paired slot is a selection positive, normal statements included, because that is what the
reference report contains (RGRG selects regions by "has a reference sentence", not by
abnormality); the slot's first paired sentence (reading order, so the findings section before
the impression that repeats it) is the decoder target.

Features are encoded once per split with the model's own evaluation path
(:func:`cxralign.eval.encode.encode_images`), so region boxes are mapped exactly as in
grounding; a region without a box has a zero feature and is masked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import torch

from cxralign.eval.data import Box, load_split, region_boxes
from cxralign.eval.encode import encode_images
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel
from cxralign.vocabulary import REGIONS

IMAGE_SLOT: Final = "whole image"
SLOTS: Final[tuple[str, ...]] = (*REGIONS, IMAGE_SLOT)
"""Generation slots in report order: the regions in anatomical (vocabulary) order, then the
sentences about the whole image."""


@dataclass(frozen=True)
class SlotFeatures:
    """Encoded images: ``features`` (N, S, D) per image and slot, ``mask`` (N, S) True where
    the slot has a feature (a box, or the image itself), and per image its ids, its own report
    (findings and impression) and its boxes (region -> staged-pixel box)."""

    features: torch.Tensor
    mask: torch.Tensor
    image_ids: list[str]
    study_ids: list[str]
    references: list[str]
    boxes: list[dict[str, Box]]

    def subset(self, rows: Sequence[int]) -> SlotFeatures:
        """The images at ``rows``, in that order."""
        index = torch.as_tensor(list(rows), dtype=torch.long)
        return SlotFeatures(self.features[index], self.mask[index],
                            *([values[i] for i in rows] for values in (
                                self.image_ids, self.study_ids, self.references, self.boxes)))


def slot_features(model: AlignmentModel, staged: Sequence[np.ndarray],
                  boxes: Sequence[dict[str, Box]], batch_size: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features, mask)`` of staged images with their region boxes, in :data:`SLOTS` order
    (region embeddings, then the global embedding)."""
    position = {name: i for i, name in enumerate(SLOTS)}
    kept = [{r: b for r, b in found.items() if r in position} for found in boxes]
    encoded = encode_images(model, staged, [list(found.values()) for found in kept], batch_size)
    features = torch.zeros(len(kept), len(SLOTS), encoded.global_.shape[1])
    mask = torch.zeros(len(kept), len(SLOTS), dtype=torch.bool)
    for row, found in enumerate(kept):
        slots = [position[r] for r in found]
        features[row, slots] = encoded.regions[row]
        mask[row, slots] = True
    features[:, -1] = encoded.global_
    mask[:, -1] = True
    return features, mask


def encode_slots(model: AlignmentModel, catalog: Catalog, split: str, batch_size: int
                 ) -> SlotFeatures:
    """Encode every image of ``split`` (that has a report) once."""
    recipe = model.recipe
    data = load_split(catalog, model.tokenizer, split, recipe.max_report_tokens,
                      recipe.max_sentence_tokens)
    examples = data.examples.examples
    found = region_boxes(catalog.read_table("boxes"), {e.image_id for e in examples})
    boxes = [dict(found.get(e.image_id, [])) for e in examples]
    features, mask = slot_features(model, data.examples.staged, boxes, batch_size)
    return SlotFeatures(features, mask, [e.image_id for e in examples],
                        [e.study_id for e in examples],
                        [data.reports[e.study_id] for e in examples], boxes)


def slot_sentences(pairs: pa.Table, sentences: pa.Table, image_ids: list[str]
                   ) -> list[dict[int, str]]:
    """Per image (in ``image_ids`` order): slot index -> the text of its first paired sentence
    (merged rows add nothing: their member regions have rows of their own)."""
    columns = sentences.select(["study_id", "sentence_index", "text"]).to_pydict()
    text = {(s, int(i)): t for s, i, t in zip(*columns.values(), strict=True)}
    position = {name: i for i, name in enumerate(SLOTS)}
    wanted = set(image_ids)
    rows = pairs.select(["image_id", "study_id", "pair_kind", "region",
                         "sentence_indices"]).to_pydict()
    targets: dict[str, dict[int, tuple[int, str]]] = defaultdict(dict)
    for image_id, study_id, kind, region, indices in zip(*rows.values(), strict=True):
        if image_id not in wanted or not indices:
            continue
        slot = position.get(IMAGE_SLOT if kind == "image" else region)
        first = (study_id, min(int(i) for i in indices))
        if slot is None or kind == "merged" or first not in text:
            continue
        previous = targets[image_id].get(slot)
        if previous is None or first[1] < previous[0]:
            targets[image_id][slot] = (first[1], text[first])
    return [{slot: sentence for slot, (_, sentence) in targets.get(i, {}).items()}
            for i in image_ids]
