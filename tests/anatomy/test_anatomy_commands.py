"""``cxralign anatomy detect/train`` on real files, registered on a parser of our own."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from cxralign.anatomy.atlas import atlas_boxes
from cxralign.anatomy.commands import register
from cxralign.anatomy.dataset import load_image
from cxralign.anatomy.detector import load_detector
from cxralign.anatomy.geometry import clip_box, content_extent
from cxralign.errors import run_handler
from cxralign.vocabulary import REGIONS

WIDE = "covid_lung_boxes/images/1-s2.0-S1341321X20301124-gr3_lrg-c.png"  # 907 x 689


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cxralign")
    register(parser.add_subparsers(dest="command", required=True))
    return run_handler(parser.parse_args(argv))


@pytest.mark.parametrize("command", ["train", "detect"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        run(["anatomy", command, "--help"])
    assert exited.value.code == 0
    assert f"usage: cxralign anatomy {command}" in capsys.readouterr().out


def _folder(tmp_path, shared_data):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(shared_data / WIDE, folder / "wide.png")
    shutil.copy(shared_data / "png" / "00000001_000.png", folder / "nih.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def test_detect_with_atlas_writes_original_pixels(tmp_path, shared_data):
    folder = _folder(tmp_path, shared_data)
    out = tmp_path / "boxes.parquet"
    assert run(["anatomy", "detect", str(folder), "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.column_names == ["image", "region", "x1", "y1", "x2", "y2", "score", "source"]
    assert table.num_rows == 2 * len(REGIONS)  # the broken file is skipped
    assert set(table.column("source").to_pylist()) == {"atlas"}
    rows = [r for r in table.to_pylist() if r["image"] == "wide.png"]
    loaded = load_image(folder / "wide.png", 256)
    expected = atlas_boxes(loaded.staged)
    assert loaded.scale == pytest.approx(256 / 907)
    for row in rows:
        staged = np.array(expected[row["region"]][:4])
        assert np.allclose([row["x1"], row["y1"], row["x2"], row["y2"]], staged / loaded.scale)
        assert 0 <= row["x1"] < row["x2"] <= 907 and 0 <= row["y1"] < row["y2"] <= 689
    assert max(r["x2"] for r in rows) > 256  # original pixels, not staged ones


def test_detect_with_model(tmp_path, shared_data, tiny_model):
    folder = _folder(tmp_path, shared_data)
    out = tmp_path / "boxes.parquet"
    model_dir = tiny_model[0]
    assert run(["anatomy", "detect", str(folder), "--model", str(model_dir),
                "--min-score", "0", "--out", str(out)]) == 0
    rows = [r for r in pq.read_table(out).to_pylist() if r["image"] == "nih.png"]
    loaded = load_image(folder / "nih.png", 256)
    (predicted,) = load_detector(model_dir).predict(loaded.staged[None])
    assert {r["source"] for r in rows} == {"detector"}
    height, width = content_extent(loaded.staged)
    for row in rows:  # the network's box, clipped to the content with a 1 px minimum, rescaled
        expected = clip_box(np.asarray(predicted[row["region"]][:4]), height, width)
        assert row["x2"] == pytest.approx(expected[2] / loaded.scale, rel=1e-5)


def test_train_command_needs_something_to_learn_from(tmp_path, capsys):
    assert run(["anatomy", "train", "--out", str(tmp_path / "m"), "--synthetic", "0"]) == 2
    assert "nothing to train on" in capsys.readouterr().err


def test_train_command_with_coco_boxes_and_lung_masks(tmp_path, shared_data, capsys):
    folder = shared_data / "covid_lung_boxes"
    coco = json.loads((folder / "annotations.json").read_text())
    kept = {image["id"] for image in coco["images"][:8]}
    subset = {**coco, "images": coco["images"][:8],
              "annotations": [a for a in coco["annotations"] if a["image_id"] in kept]}
    (tmp_path / "coco.json").write_text(json.dumps(subset))
    model = tmp_path / "model"
    assert run(["anatomy", "train", "--coco", str(tmp_path / "coco.json"), "--images",
                str(folder / "images"), "--masks", str(folder / "lung_masks"), "--synthetic",
                "0", "--epochs", "1", "--input-size", "64", "--out", str(model)]) == 0
    assert "coco:coco.json: 8" in capsys.readouterr().out
    assert len(json.loads((model / "config.json").read_text())["lung_mask_offsets"]) == 2
    assert run(["anatomy", "train", "--masks", str(folder / "lung_masks"), "--out",
                str(tmp_path / "m")]) == 2
    assert "--masks goes with --coco" in capsys.readouterr().err
