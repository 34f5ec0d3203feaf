"""A tiny real training run: the loss falls, the model directory reloads and predicts."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
import torch

from cxralign.anatomy.dataset import load_image
from cxralign.anatomy.detector import Detector, load_detector
from cxralign.anatomy.draw import draw_boxes
from cxralign.anatomy.locate import BOXES_SCHEMA, boxes_table
from cxralign.anatomy.model import LUNG_DECODER_PREFIX
from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.sources import TrainingSource, coco_source
from cxralign.anatomy.train import train_detector
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


def test_lung_masks_fit_the_offsets_saved_with_the_model(tmp_path, shared_data):
    """Real radiographs with lung masks: the model directory carries the mask-to-box offsets
    (radiologists' boxes lie outside the lung mask, so x1/y1 offsets are positive and x2/y2
    negative) and the trained lung decoder's weights."""
    folder = shared_data / "covid_lung_boxes"
    source = coco_source(folder / "annotations.json", folder / "images", folder / "lung_masks")
    settings = AnatomySettings(input_size=64, batch_size=8, epochs=2, synthetic_studies=0,
                               workers=1)
    train_detector([TrainingSource(source.name, source.images[:16])], tmp_path / "m", settings)
    detector = load_detector(tmp_path / "m")
    offsets = np.asarray(detector.config.lung_mask_offsets)
    assert offsets.shape == (2, 4)
    assert (offsets[:, :2] > 0).all() and (offsets[:, 2:] < 0).all()
    state = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)
    assert any(key.startswith(LUNG_DECODER_PREFIX) for key in state)


def test_predict_refines_the_lung_rows_with_the_mask_in_image_pixels(tiny_model, phantoms,
                                                                     monkeypatch):
    plain_detector = load_detector(tiny_model[0])
    assert plain_detector.config.lung_mask_offsets is None  # phantoms have no masks
    offsets = ((0.1, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0))
    detector = Detector(plain_detector.net,
                        replace(plain_detector.config, lung_mask_offsets=offsets),
                        plain_detector.atlas)
    seen = {}

    def spy(boxes, lung, given_offsets):
        seen.update(boxes=boxes, lung=lung, offsets=given_offsets)
        return [np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7, 8])]

    monkeypatch.setattr("cxralign.anatomy.detector.refine_lungs", spy)
    staged = load_image(next(phantoms.rglob("*.dcm")), 256).staged
    (plain,) = plain_detector.predict(staged[None])
    (refined,) = detector.predict(staged[None])
    assert seen["lung"].shape == (256, 256) and seen["lung"].dtype == bool
    assert np.allclose(seen["boxes"][0], plain["right lung"][:4], atol=1e-3)
    assert np.array_equal(seen["offsets"], np.asarray(offsets))
    assert refined["right lung"] == (1.0, 2.0, 3.0, 4.0, plain["right lung"][4])
    assert refined["left lung"][:4] == (5.0, 6.0, 7.0, 8.0)
    assert all(refined[r] == plain[r] for r in REGIONS if r not in ("right lung", "left lung"))


def test_a_format_1_model_directory_still_loads_without_lung_refinement(tiny_model, tmp_path,
                                                                       phantoms):
    old = tmp_path / "format-1"
    shutil.copytree(tiny_model[0], old)
    state = torch.load(old / "weights.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.startswith(LUNG_DECODER_PREFIX)},
               old / "weights.pt")
    config = json.loads((old / "config.json").read_text())
    config.pop("lung_mask_offsets")
    (old / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    staged = load_image(next(phantoms.rglob("*.dcm")), 256).staged
    assert load_detector(old).predict(staged[None]) == load_detector(tiny_model[0]).predict(
        staged[None])
