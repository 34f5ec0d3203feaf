"""Segmentation: Dice known answers, the mask loader's geometry, the patient split, and a
decoder that can (and one that cannot) learn lungs from its features."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from eval_fixtures import write_mask_folder

from cxralign.eval.segmentation import (
    dice,
    grid_too_coarse,
    load_lung_masks,
    patient_split,
    segmentation_metrics,
    segmentation_references,
)

SIZE = 32


def test_dice_of_identical_masks_is_one_and_of_disjoint_masks_zero():
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[:, 2:6, 1:4] = True
    assert dice(masks, masks) == pytest.approx(1.0)
    assert dice(masks, ~masks) == pytest.approx(0.0)
    half = masks.clone()
    half[:, 2:4] = False  # half the foreground: 2·6 / (6 + 12)
    assert dice(half, masks) == pytest.approx(2 * 6 / 18)


def test_masks_are_staged_under_their_images(tmp_path):
    write_mask_folder(tmp_path, 6)
    masks = load_lung_masks(tmp_path, SIZE)
    assert len(masks) == 6 and masks.skipped == {"no image": 1}
    assert masks.groups == ("0", "0", "1", "1", "2", "2")
    # the mask covers exactly the bright pixels of its staged image
    bright = masks.images > 120
    overlap = (bright & masks.masks).sum() / (bright | masks.masks).sum()
    assert overlap > 0.9


def test_patient_split_keeps_patients_together():
    groups = tuple(str(i // 3) for i in range(30))
    train, test = patient_split(groups, 0.3, seed=0)
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in test})
    assert len(train) + len(test) == 30 and len(test) > 0


def test_decoder_learns_from_informative_features_and_not_from_noise():
    rng = np.random.default_rng(0)
    count = 40
    masks = np.zeros((count, SIZE, SIZE), bool)
    for i in range(count):
        top, left = rng.integers(0, 16, size=2)
        masks[i, top : top + 14, left : left + 14] = True
    groups = tuple(str(i) for i in range(count))
    # informative features: the mask itself, average-pooled to an 8 x 8 map with 4 channels
    pooled = torch.nn.functional.avg_pool2d(torch.as_tensor(masks).float().unsqueeze(1), 4)
    informative = torch.cat([pooled, 1 - pooled, pooled**2, torch.ones_like(pooled)], dim=1)
    noise = torch.randn(count, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    kwargs = {"test_fraction": 0.25, "epochs": 40, "lr": 1e-2, "seed": 0}
    learnt = segmentation_metrics(informative, masks, groups, **kwargs)
    blind = segmentation_metrics(noise, masks, groups, **kwargs)
    assert learnt["segmentation_dice"] > 0.85
    assert blind["segmentation_dice"] < learnt["segmentation_dice"] - 0.2
    assert learnt["segmentation_test_images"] == 10


def test_real_lung_masks_load(shared_data, tmp_path):
    source = shared_data / "covid_lung_boxes"
    names = sorted(p.name for p in (source / "lung_masks").iterdir())[:6]
    for sub in ("images", "lung_masks"):
        (tmp_path / sub).mkdir()
        for name in names:
            shutil.copy(source / sub / name, tmp_path / sub / name)
    shutil.copy(source / "metadata.csv", tmp_path / "metadata.csv")
    masks = load_lung_masks(tmp_path, 64)
    assert len(masks) == 6 and masks.images.dtype == np.uint8
    # lungs cover a sizeable, not total, share of a staged chest radiograph
    assert 0.1 < masks.masks.mean() < 0.6
    assert not set(masks.groups) & set(names)  # patients from metadata.csv, not file names


def test_dice_needs_a_feature_map_of_at_least_the_minimum_grid():
    assert "2×2" in grid_too_coarse(torch.zeros(1, 8, 2, 2), 7)
    assert grid_too_coarse(torch.zeros(1, 8, 7, 9), 7) == ""


def test_segmentation_chance_and_majority_mask_baseline():
    masks = np.zeros((20, SIZE, SIZE), bool)
    masks[:, 8:24, 4:14] = True  # every image: the same "lung", 160 of 1024 pixels
    groups = tuple(str(i) for i in range(20))
    chance, trivial = segmentation_references(masks, groups, test_fraction=0.25, seed=0)
    share = 160 / SIZE**2
    assert chance["segmentation_dice"] == pytest.approx(share)  # 2pq/(p+q) with p = q
    assert trivial["segmentation_dice"] == pytest.approx(1.0)  # the majority mask is exact
