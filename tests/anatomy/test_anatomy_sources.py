"""Gold box readers on real files."""

from __future__ import annotations

import json
import logging

import numpy as np
from PIL import Image

from cxralign.anatomy.dataset import stage_source
from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.anatomy.sources import TrainingSource, coco_source, imagenome_source

COCO = "covid_lung_boxes"


def test_coco_source_maps_categories_and_skips_the_uncategorised_box(shared_data, caplog):
    folder = shared_data / COCO
    with caplog.at_level(logging.WARNING):
        source = coco_source(folder / "annotations.json", folder / "images")
    assert "no known category" in caplog.text
    assert len(source.images) == 163
    assert source.regions() == {"right lung", "left lung"}
    one_lung = [image for image in source.images if len(image.boxes) == 1]
    assert len(one_lung) == 1 and set(one_lung[0].boxes) == {"left lung"}
    raw = json.loads((folder / "annotations.json").read_text())
    first = next(a for a in raw["annotations"] if a.get("category_id") == 1)
    entry = next(i for i in raw["images"] if i["id"] == first["image_id"])
    gold = next(image for image in source.images if image.path.name == entry["file_name"])
    x, y, w, h = first["bbox"]
    assert gold.boxes["right lung"] == (x, y, x + w, y + h)
    assert gold.group == entry["metadata"]["patientid"]
    assert all(image.path.is_file() for image in source.images)


def test_coco_boxes_scale_with_staging(shared_data):
    folder = shared_data / COCO
    source = coco_source(folder / "annotations.json", folder / "images")
    subset = TrainingSource(source.name, source.images[:3])
    arrays = stage_source(subset, 128)
    for gold, boxes in zip(subset.images, arrays.boxes, strict=True):
        with Image.open(gold.path) as image:
            scale = 128 / max(image.size)
        assert np.allclose(boxes[REGION_INDEX["left lung"]] * 128,
                           np.array(gold.boxes["left lung"]) * scale, atol=1e-3)


def test_imagenome_scene_graphs(tmp_path, shared_data):
    images = tmp_path / "files" / "p10" / "p10000001" / "s50000001"
    images.mkdir(parents=True)
    png = (shared_data / "png" / "00000001_000.png").read_bytes()
    (images / "abc123.png").write_bytes(png)
    graphs = tmp_path / "scene_graphs"
    graphs.mkdir()
    graph = {"image_id": "abc123", "patient_id": 10000001, "objects": [
        {"bbox_name": "right lung", "original_x1": 100, "original_y1": 150,
         "original_x2": 480, "original_y2": 800},
        {"bbox_name": "trachea", "original_x1": 480, "original_y1": 50,
         "original_x2": 540, "original_y2": 300},
        {"bbox_name": "not a region", "original_x1": 1, "original_y1": 1,
         "original_x2": 2, "original_y2": 2}]}
    (graphs / "abc123_SceneGraph.json").write_text(json.dumps(graph))
    (graphs / "missing_SceneGraph.json").write_text(json.dumps({**graph, "image_id": "zzz"}))
    source = imagenome_source(graphs, tmp_path / "files")
    assert len(source.images) == 1
    gold = source.images[0]
    assert gold.boxes == {"right lung": (100.0, 150.0, 480.0, 800.0),
                          "trachea": (480.0, 50.0, 540.0, 300.0)}
    assert gold.group == "10000001"


def test_coco_lung_masks_are_staged_in_the_frame_of_their_image(shared_data, caplog):
    """Every image of the lung-box set has a mask file; staged, a mask lies within the
    radiologist's lung boxes, a mask of another shape than its image (a different crop) is
    skipped with a warning, and an image without a usable mask trains on its boxes alone."""
    folder = shared_data / COCO
    source = coco_source(folder / "annotations.json", folder / "images", folder / "lung_masks")
    assert all(image.lung_mask is not None for image in source.images)
    other_shape = [image for image in source.images
                   if Image.open(image.path).size != Image.open(image.lung_mask).size]
    assert [image.path.name for image in other_shape] == ["ciaa199.pdf-001-b.png"]
    plain = [image for image in source.images if image not in other_shape][:4]
    with caplog.at_level(logging.WARNING):
        arrays = stage_source(TrainingSource(source.name, tuple(other_shape + plain)), 128)
    assert "a different shape from its 466x395 image" in caplog.text
    assert arrays.has_lung_mask.tolist() == [False] + [True] * len(plain)
    assert not arrays.lung_masks[0].any()
    for boxes, valid, lung in zip(arrays.boxes[1:], arrays.mask[1:], arrays.lung_masks[1:],
                                  strict=True):
        in_boxes = np.zeros((128, 128), dtype=bool)
        for index in np.flatnonzero(valid):
            x1, y1, x2, y2 = np.round(boxes[index] * 128).astype(int)
            in_boxes[y1:y2, x1:x2] = True
        inside = lung > 127
        assert inside[in_boxes].mean() > 0.5 and inside[~in_boxes].mean() < 0.03

    no_masks = coco_source(folder / "annotations.json", folder / "images", folder / "images" / "x")
    one = stage_source(TrainingSource(no_masks.name, no_masks.images[:1]), 64)
    assert not one.has_lung_mask.any() and not one.lung_masks.any()
