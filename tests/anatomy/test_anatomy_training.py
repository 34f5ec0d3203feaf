"""A tiny real training run: the loss falls, the model directory reloads and predicts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest
import torch

from cxralign.anatomy.dataset import load_image
from cxralign.anatomy.detector import load_detector
from cxralign.anatomy.draw import draw_boxes
from cxralign.anatomy.locate import BOXES_SCHEMA, boxes_table
from cxralign.anatomy.settings import AnatomySettings
from cxralign.vocabulary import REGIONS


def test_training_lowers_the_loss_and_saves_a_plain_model_dir(tiny_model):
    model_dir, report = tiny_model
    assert report.steps == 30
    assert report.last_loss < report.first_loss
    assert sorted(p.name for p in model_dir.iterdir()) == ["atlas.json", "config.json", "weights.pt"]
    config = json.loads((model_dir / "config.json").read_text())
    assert config["regions"] == list(REGIONS) and config["input_size"] == 64
    state = torch.load(model_dir / "weights.pt", weights_only=True)  # tensors only, no classes
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert not any(key.startswith("interior.") for key in state)  # training-only head not saved


def test_reloaded_detector_predicts_29_boxes(tiny_model, phantoms):
    detector = load_detector(tiny_model[0])
    dicom = next(phantoms.rglob("*.dcm"))
    staged = load_image(dicom, 256).staged
    (prediction,) = detector.predict(staged[None])
    assert list(prediction) == list(REGIONS)
    for x1, y1, x2, y2, score in prediction.values():
        assert 0 <= x1 <= x2 <= 256 and 0 <= y1 <= y2 <= 256 and 0 <= score <= 1
    assert detector.predict([staged[:200, :]])[0].keys() == prediction.keys()  # non-square input
    picture = draw_boxes(staged, prediction)
    assert picture.size == (256, 256) and picture.mode == "RGB"
    pixels = np.asarray(picture)
    assert (pixels[..., 0] != pixels[..., 1]).any()  # coloured outlines on a grey image


def test_boxes_table_sources(tiny_model, shared_data):
    detector = load_detector(tiny_model[0])
    staged = [load_image(shared_data / "png" / name, 256).staged
              for name in ("00000001_000.png", "00027426_000.png")]
    images = pa.table({"image_id": ["a", "b"]})
    for min_score, detector_arg, expected in ((0.0, detector, {"detector"}),
                                              (1.01, detector, {"atlas"}),
                                              (0.5, None, {"atlas"})):
        settings = AnatomySettings(min_score=min_score)
        table = boxes_table(images, staged, detector_arg, settings)
        assert table.schema == BOXES_SCHEMA
        assert table.num_rows == 2 * len(REGIONS)
        assert set(table.column("source").to_pylist()) == expected
        assert table.column("image_id").to_pylist() == ["a"] * 29 + ["b"] * 29
        x1, x2 = (np.array(table.column(c).to_pylist()) for c in ("x1", "x2"))
        assert (x2 > x1).all()


def test_loading_rejects_weights_of_another_network(tiny_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model[0], copy)
    state = torch.load(copy / "weights.pt", weights_only=True)
    state["stray.weight"] = torch.zeros(1)
    torch.save(state, copy / "weights.pt")
    with pytest.raises(ValueError, match="stray.weight"):
        load_detector(copy)
