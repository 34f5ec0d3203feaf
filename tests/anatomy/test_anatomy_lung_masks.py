"""Lung boxes from a lung mask: splitting at the mediastinum, the gold offsets, refinement."""

from __future__ import annotations

import numpy as np

from cxralign.anatomy.dataset import GoldArrays
from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.anatomy.lung_masks import fit_mask_offsets, refine_lungs, split_lungs
from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.train import detector_config, learns_lung_masks
from cxralign.vocabulary import REGIONS

RIGHT, LEFT = REGION_INDEX["right lung"], REGION_INDEX["left lung"]


def _two_lungs(size: int = 100) -> np.ndarray:
    lung = np.zeros((size, size), dtype=bool)
    lung[20:80, 10:40] = True  # right lung: image left
    lung[25:85, 55:90] = True  # left lung
    return lung


def test_split_lungs_cuts_at_the_middle_of_the_boxes_and_ignores_stray_pixels():
    lung = _two_lungs()
    lung[5, 5] = True  # a stray pixel must not stretch the right lung's box
    rough_right, rough_left = np.array([8.0, 18, 42, 82]), np.array([50.0, 20, 95, 90])
    right, left = split_lungs(lung, rough_right, rough_left)
    assert right.tolist() == [10, 20, 40, 80] and left.tolist() == [55, 25, 90, 85]
    only_right = _two_lungs()
    only_right[:, 50:] = False
    assert split_lungs(only_right, rough_right, rough_left)[1] is None


def _gold(lung: np.ndarray, right: list[float], left: list[float]) -> GoldArrays:
    side = lung.shape[0]
    boxes = np.zeros((1, len(REGIONS), 4), np.float32)
    boxes[0, RIGHT], boxes[0, LEFT] = np.array(right) / side, np.array(left) / side
    mask = np.zeros((1, len(REGIONS)), bool)
    mask[0, [RIGHT, LEFT]] = True
    return GoldArrays(
        images=np.zeros((1, side, side), np.uint8), boxes=boxes, mask=mask, groups=("p",),
        names=("a.png",), lung_masks=(lung * 255).astype(np.uint8)[None],
        has_lung_mask=np.array([True]),
    )


def test_offsets_are_the_gold_box_margin_around_the_mask_as_a_fraction_of_the_mask_box():
    # Gold boxes 3 px (= 10 % of the 30 px width, 5 % of the 60 px height) outside the mask.
    gold = _gold(_two_lungs(), right=[7, 17, 43, 83], left=[52, 22, 93, 88])
    offsets = fit_mask_offsets(gold)
    assert np.allclose(offsets[0], [3 / 30, 3 / 60, -3 / 30, -3 / 60])
    assert np.allclose(offsets[1], [3 / 35, 3 / 60, -3 / 35, -3 / 60])
    unmasked = GoldArrays(**{**gold.__dict__, "has_lung_mask": np.array([False])})
    assert np.array_equal(fit_mask_offsets(unmasked), np.zeros((2, 4)))


def test_refinement_averages_with_an_agreeing_mask_and_ignores_a_disagreeing_one():
    lung = _two_lungs()
    offsets = np.zeros((2, 4))
    detected_right = np.array([12.0, 22, 44, 78])
    detected_left = np.array([55.0, 25, 90, 85])
    right, left = refine_lungs([detected_right, detected_left], lung, offsets)
    assert np.allclose(right, (detected_right + np.array([10, 20, 40, 80])) / 2)
    assert np.allclose(left, detected_left)  # mask and detector agree exactly
    shifted = np.array([0.0, 20, 42, 50])  # IoU 0.42 with the mask's right lung: keep it
    far_right, _ = refine_lungs([shifted, detected_left], lung, offsets)
    assert np.array_equal(far_right, shifted)
    no_mask = refine_lungs([detected_right, detected_left], np.zeros_like(lung), offsets)
    assert np.array_equal(no_mask[0], detected_right) and np.array_equal(no_mask[1], detected_left)
    margin = np.array([[0.1, 0.0, -0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
    widened, _ = refine_lungs([np.array([7.0, 20, 43, 80]), detected_left], lung, margin)
    assert np.allclose(widened, [7, 20, 43, 80])  # mask box 10-40 widened by 3 px each side


def test_the_decoder_is_trained_and_used_only_with_masks_and_a_mask_loss():
    gold = _gold(_two_lungs(), right=[7, 17, 43, 83], left=[52, 22, 93, 88])
    unmasked = GoldArrays(**{**gold.__dict__, "has_lung_mask": np.array([False])})
    on, off = AnatomySettings(), AnatomySettings(lung_mask_weight=0)
    assert learns_lung_masks([unmasked, gold], on)
    assert not learns_lung_masks([unmasked], on) and not learns_lung_masks([gold], off)
    assert detector_config([unmasked, gold], on).lung_mask_offsets is not None
    assert detector_config([gold], off).lung_mask_offsets is None
