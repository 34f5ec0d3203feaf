"""Lung boxes read off a lung mask, and how radiologists' lung boxes sit around the mask.

Why: the detector's lung edges come from ~130 radiologist boxes; a lung mask, predicted by the
network's segmentation head, places the same edges from dense supervision. The two err
differently, so the pipeline averages them (``benchmarks/RESULTS.md``, anatomy). Radiologists
draw their boxes a little outside the lung itself (about 3-4 % of the box per edge on the
COVID lung-box set), so a mask's extents are shifted by the median offset that the training
images show between their gold masks and gold boxes.

Everything here works in one image's pixel frame; boxes are ``(x1, y1, x2, y2)`` arrays.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from scipy import ndimage

from cxralign.anatomy.dataset import GoldArrays
from cxralign.anatomy.geometry import REGION_INDEX, box_iou

LUNG_ORDER: Final = ("right lung", "left lung")
"""Patient-right lung first: it is on the image's left in a PA/AP radiograph."""
MIN_AGREEMENT: Final = 0.5
"""A mask box is used only when it overlaps the detector's box at least this much (IoU);
otherwise the mask missed or merged the lung (dense consolidation, a cropped figure)."""


def split_lungs(
    lung: np.ndarray, right_box: np.ndarray, left_box: np.ndarray
) -> list[np.ndarray | None]:
    """Boxes of the right and left lung in a boolean mask ``lung`` (both lungs), or None for a
    side without lung pixels. The mask is cut at the column halfway between the two given
    lung boxes' centres (the mediastinum), and on each side only the largest connected
    component counts (stray pixels must not stretch the box)."""
    middle = int(round((right_box[0] + right_box[2] + left_box[0] + left_box[2]) / 4))
    middle = min(max(middle, 0), lung.shape[1])
    boxes: list[np.ndarray | None] = []
    for columns in (slice(0, middle), slice(middle, lung.shape[1])):
        side = np.zeros_like(lung)
        side[:, columns] = lung[:, columns]
        boxes.append(_largest_component_box(side))
    return boxes


def _largest_component_box(mask: np.ndarray) -> np.ndarray | None:
    labels, count = ndimage.label(mask)
    if not count:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    rows, columns = np.nonzero(labels == int(np.argmax(sizes)) + 1)
    box = (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1)
    return np.array(box, dtype=np.float64)


def fit_mask_offsets(gold: GoldArrays) -> np.ndarray:
    """Median offset ``(2, 4)`` from each lung's mask box to its gold box, per edge, as a
    fraction of the mask box's width/height (``gold = mask_box - offset * size``); zeros for
    a lung no image has both a mask and a box for. Gold masks are split with the gold boxes,
    as predicted masks are split with the detector's."""
    side = gold.images.shape[-1]
    offsets: list[list[np.ndarray]] = [[], []]
    right, left = REGION_INDEX[LUNG_ORDER[0]], REGION_INDEX[LUNG_ORDER[1]]
    for index in np.flatnonzero(gold.has_lung_mask & gold.mask[:, right] & gold.mask[:, left]):
        boxes = gold.boxes[index] * side
        mask_boxes = split_lungs(gold.lung_masks[index] > 127, boxes[right], boxes[left])
        for lung, (region, mask_box) in enumerate(zip((right, left), mask_boxes, strict=True)):
            if mask_box is not None:
                offsets[lung].append((mask_box - boxes[region]) / _sizes(mask_box))
    return np.stack([np.median(np.stack(o), axis=0) if o else np.zeros(4) for o in offsets])


def _sizes(box: np.ndarray) -> np.ndarray:
    width, height = box[2] - box[0], box[3] - box[1]
    return np.array([width, height, width, height])


def refine_lungs(
    detector_boxes: list[np.ndarray], lung: np.ndarray, offsets: np.ndarray
) -> list[np.ndarray]:
    """The (right, left) lung boxes of one image: the mean of the detector's box and the
    offset-corrected mask box where the mask found that lung in agreement with the detector,
    else the detector's box unchanged."""
    refined = []
    mask_boxes = split_lungs(lung, *detector_boxes)
    for detected, mask_box, offset in zip(detector_boxes, mask_boxes, offsets, strict=True):
        if mask_box is None:
            refined.append(detected)
            continue
        corrected = mask_box - offset * _sizes(mask_box)
        agrees = box_iou(corrected, detected) >= MIN_AGREEMENT
        refined.append((detected + corrected) / 2 if agrees else detected)
    return refined
