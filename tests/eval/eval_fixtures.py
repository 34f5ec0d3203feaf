"""Helpers the evaluation tests share (a plain module: conftest files are not importable
by name when several directories have one)."""

from __future__ import annotations

import json
from pathlib import Path

DEID_KEY = "eval-test-key"
"""The pseudonymisation key the phantom catalog is ingested with (ground truth joins by it)."""

TINY = {"image_size": 64, "image_output_stride": 0, "embed_dim": 32, "projection_hidden_dim": 64,
        "text_layers": 1}
"""Recipe overrides for a model small enough to evaluate in seconds."""


def save_untrained(directory: Path, recipe_name: str, seed: int) -> Path:
    """A model directory as ``cxralign pretrain`` lays it out (model files + run.json),
    holding the untrained tiny model of ``recipe_name``."""
    import torch

    from cxralign.models.model import AlignmentModel
    from cxralign.models.recipes import load_recipe

    torch.manual_seed(seed)
    model = AlignmentModel(load_recipe(recipe_name, **TINY))
    model.save(directory)
    (directory / "run.json").write_text(json.dumps({"recipe": recipe_name, "seed": seed}))
    return directory


def write_mask_folder(root: Path, count: int, seed: int = 0) -> Path:
    """A lung-mask folder in the public set's layout (images/, lung_masks/, metadata.csv):
    a bright box of random place on each image, its mask, two images per patient, and one
    mask without an image."""
    import csv

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "lung_masks").mkdir()
    rows = []
    for i in range(count):
        height, width = 120, 100 + 4 * i
        image = np.full((height, width), 40, np.uint8)
        mask = np.zeros((height, width), np.uint8)
        top, left = rng.integers(10, 40, size=2)
        mask[top : top + 60, left : left + 50] = 255
        image[mask > 0] = 200
        Image.fromarray(image).save(root / "images" / f"im{i}.png")
        Image.fromarray(mask).save(root / "lung_masks" / f"im{i}.png")
        rows.append({"patientid": str(i // 2), "filename": f"im{i}.png"})
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "lung_masks" / "orphan.png")
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["patientid", "filename"])
        writer.writeheader()
        writer.writerows(rows)
    return root
