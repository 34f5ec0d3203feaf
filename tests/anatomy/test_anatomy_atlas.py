"""The atlas fallback places all 29 regions plausibly on real and degenerate images."""

from __future__ import annotations

import numpy as np
import pytest

from cxralign.anatomy.atlas import Atlas, atlas_boxes, default_atlas, fit_atlas
from cxralign.anatomy.dataset import load_image, stage_source
from cxralign.anatomy.geometry import content_extent
from cxralign.anatomy.sources import phantom_source
from cxralign.vocabulary import REGIONS


def _check_boxes(boxes: dict, image: np.ndarray) -> None:
    height, width = content_extent(image)
    assert list(boxes) == list(REGIONS)
    for region, (x1, y1, x2, y2, score) in boxes.items():
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, region
        assert 0 <= score <= 1
    right, left = boxes["right lung"], boxes["left lung"]
    assert (right[0] + right[2]) / 2 < (left[0] + left[2]) / 2  # patient right = image left


@pytest.mark.parametrize("name", ["png/00000001_000.png", "dicom/RG1_UNCR.dcm",
                                  "covid_lung_boxes/images/1-s2.0-S2531043720300921-gr1.png"])
def test_atlas_on_real_radiographs(shared_data, name):
    image = load_image(shared_data / name, 256).staged
    _check_boxes(atlas_boxes(image), image)


def test_atlas_on_blank_and_padded_images():
    blank = np.zeros((256, 256), np.uint8)
    _check_boxes(atlas_boxes(blank), blank)
    padded = np.zeros((256, 256), np.uint8)
    padded[:128, :] = 120  # a wide image: content is the top half
    boxes = atlas_boxes(padded)
    _check_boxes(boxes, padded)
    assert max(box[3] for box in boxes.values()) <= 128


def test_fit_atlas_round_trips_and_follows_the_lungs(phantoms, tmp_path):
    atlas = fit_atlas(stage_source(phantom_source(phantoms), 128))
    atlas.save(tmp_path / "atlas.json")
    assert Atlas.load(tmp_path / "atlas.json") == atlas
    placed = atlas.place(np.array([10, 20, 50, 100]), np.array([60, 20, 100, 100]))
    shifted = atlas.place(np.array([20, 20, 60, 100]), np.array([70, 20, 110, 100]))
    for region in REGIONS:
        assert np.allclose(shifted[region] - placed[region], [10, 0, 10, 0]), region
    assert set(default_atlas().regions) == set(REGIONS)
