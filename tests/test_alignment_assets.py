"""Anatomy and alignment as Dagster runs them, on a small phantom batch, with their checks."""

from __future__ import annotations

import json

import pyarrow.compute as pc

from cxralign_pipeline.lib.resources import CatalogResource

CHAIN = [
    "incoming_studies", "dicom_images", "report_sections", "report_sentences", "report_triplets",
    "anatomy_detector", "anatomy_boxes", "region_sentence_pairs",
]
TINY_DETECTOR = {"epochs": 1, "synthetic_studies": 6, "input_size": 64, "batch_size": 4, "workers": 1}


def test_boxes_and_pairs_cover_every_image_and_pass_their_checks(tmp_path, materialize_pipeline):
    result = materialize_pipeline(tmp_path, CHAIN, {
        "incoming_studies": {"studies": 6, "seed": 2, "workers": 1},
        "dicom_images": {"workers": 1, "staged_size": 64},
        "anatomy_detector": TINY_DETECTOR,
    }, partition="synthetic-seed2-n6")
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == []

    catalog = CatalogResource(data_dir=str(tmp_path)).catalog
    boxes = catalog.read_table("boxes")
    assert boxes.num_rows == 6 * 29
    assert set(boxes["source"].to_pylist()) <= {"detector", "atlas"}

    pairs = catalog.read_table("pairs")
    assert set(pairs["image_id"].to_pylist()) == set(catalog.read_table("images")["image_id"].to_pylist())
    assert pc.sum(pc.equal(pairs["pair_kind"], "region")).as_py() > 0

    metadata = result.asset_materializations_for_node("region_sentence_pairs")[0].metadata
    assert metadata["example"].value.startswith("![")


def test_detector_asset_trains_on_real_boxes_and_lung_masks(tmp_path, materialize_pipeline,
                                                            shared_data):
    folder = shared_data / "covid_lung_boxes"
    result = materialize_pipeline(tmp_path, ["anatomy_detector"], {"anatomy_detector": {
        **TINY_DETECTOR, "synthetic_studies": 0, "coco_annotations": str(folder / "annotations.json"),
        "coco_images": str(folder / "images"), "coco_masks": str(folder / "lung_masks"),
    }})
    assert result.success
    model_dir = tmp_path / "models" / "anatomy"
    config = json.loads((model_dir / "config.json").read_text())
    assert len(config["lung_mask_offsets"]) == 2  # the lung decoder learned from the masks
