"""Mirroring swaps lateral labels and masks unpaired regions; boxes follow the pixels."""

from __future__ import annotations

import torch

from cxralign.anatomy.augment import AugmentRanges, augment, flip_labels
from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.vocabulary import REGIONS

RIGHT, LEFT = REGION_INDEX["right lung"], REGION_INDEX["left lung"]
AORTA = REGION_INDEX["aortic arch"]


def _gold() -> tuple[torch.Tensor, torch.Tensor]:
    boxes = torch.zeros(1, len(REGIONS), 4)
    boxes[0, RIGHT] = torch.tensor([0.1, 0.2, 0.4, 0.8])
    boxes[0, LEFT] = torch.tensor([0.55, 0.25, 0.9, 0.85])
    boxes[0, AORTA] = torch.tensor([0.5, 0.2, 0.6, 0.3])
    mask = torch.zeros(1, len(REGIONS), dtype=torch.bool)
    mask[0, [RIGHT, LEFT, AORTA]] = True
    return boxes, mask


def test_flip_labels_swaps_sides_and_masks_unpaired_regions():
    boxes, mask = _gold()
    flipped, flipped_mask = flip_labels(boxes, mask)
    assert torch.allclose(flipped[0, RIGHT], torch.tensor([0.1, 0.25, 0.45, 0.85]))
    assert torch.allclose(flipped[0, LEFT], torch.tensor([0.6, 0.2, 0.9, 0.8]))
    assert flipped_mask[0, RIGHT] and flipped_mask[0, LEFT] and not flipped_mask[0, AORTA]
    twice, _ = flip_labels(flipped, torch.ones_like(mask))
    assert torch.allclose(twice[0, [RIGHT, LEFT]], boxes[0, [RIGHT, LEFT]])


def test_augment_mirrors_pixels_with_the_labels():
    boxes, mask = _gold()
    image = torch.zeros(1, 64, 64, dtype=torch.uint8)
    image[0, 10:50, 5:26] = 255  # bright block where the right lung box is
    ranges = AugmentRanges(**{**AugmentRanges.none().__dict__, "flip_probability": 1.0})
    x, out_boxes, out_mask, maps = augment(image, boxes, mask, 64, ranges,
                                           torch.Generator().manual_seed(0))
    assert maps is None
    assert torch.allclose(x[0, 0], image[0].flip(-1).float() / 255, atol=1e-5)
    assert torch.allclose(out_boxes[0, LEFT], torch.tensor([0.6, 0.2, 0.9, 0.8]), atol=1e-5)
    assert out_mask[0, LEFT] and not out_mask[0, AORTA]


def test_augment_keeps_boxes_inside_the_visible_frame():
    boxes, mask = _gold()
    image = torch.full((1, 64, 64), 100, dtype=torch.uint8)
    ranges = AugmentRanges(flip_probability=0.0, crop_probability=1.0)
    for seed in range(5):
        _, out_boxes, out_mask, _ = augment(image, boxes, mask, 48, ranges,
                                            torch.Generator().manual_seed(seed))
        kept = out_boxes[out_mask]
        assert not (out_mask & ~mask).any()  # cropping may only hide regions
        assert (kept >= -1e-6).all() and (kept <= 1 + 1e-6).all()
        assert (kept[:, 2] > kept[:, 0]).all() and (kept[:, 3] > kept[:, 1]).all()


def test_label_maps_follow_the_geometry_but_not_the_exposure():
    """A label map that marks the right lung's box still marks (up to resampling) the
    augmented box of that lung, whatever the flip, scale, shift and crop; exposure and noise
    change the pixels only; and giving a map does not change the random draws."""
    boxes, mask = _gold()
    size = 96
    x1, y1, x2, y2 = (boxes[0, RIGHT] * size).round().int().tolist()
    image = torch.full((1, size, size), 90, dtype=torch.uint8)
    label = torch.zeros(1, 1, size, size, dtype=torch.uint8)
    label[0, 0, y1:y2, x1:x2] = 255
    for flip, lung_index in ((0.0, RIGHT), (1.0, LEFT)):  # mirrored, the box is "left lung"
        ranges = AugmentRanges(rotation_degrees=0.0, crop_probability=0.5, flip_probability=flip)
        for seed in range(4):
            plain = augment(image, boxes, mask, size, ranges, torch.Generator().manual_seed(seed))
            out = augment(image, boxes, mask, size, ranges, torch.Generator().manual_seed(seed),
                          label)
            assert torch.equal(plain.pixels, out.pixels) and torch.equal(plain.boxes, out.boxes)
            maps = out.label_maps[0, 0]
            assert (maps == 0).float().mean() > 0.5 and maps.max() <= 1  # no noise, no contrast
            if not out.mask[0, lung_index]:
                continue  # cropped away
            lung = maps > 0.5
            columns, rows = lung.any(0).nonzero(), lung.any(1).nonzero()
            found = torch.tensor([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1])
            assert torch.allclose(found / size, out.boxes[0, lung_index], atol=2.5 / size)
