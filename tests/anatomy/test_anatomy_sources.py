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
