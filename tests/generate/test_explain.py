"""The explain PNG: written, and each sentence drawn on the box of the region it is about,
checked against the phantom's ground truth (which finding it drew where)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from eval_fixtures import DEID_KEY
from PIL import Image

from cxralign.eval.data import region_boxes
from cxralign.generate.explain import explain_study
from cxralign.generate.generator import ReportGenerator
from cxralign.io.deid import pseudonymize
from cxralign.models.model import AlignmentModel
from cxralign.pairs.drawing import CANVAS, PALETTE


def _lesion(catalog):
    """(study_id, image_id, region) of a present, boxed phantom finding of the catalog."""
    truth = pq.read_table(catalog.root.parent / "incoming" / "ground_truth" / "findings.parquet")
    images = catalog.read_table("images")
    studies = dict(zip(images["image_id"].to_pylist(), images["study_id"].to_pylist(),
                       strict=True))
    for row in truth.filter(pc.equal(truth["existence"], "present")).to_pylist():
        image_id = pseudonymize("image", row["image_key"], DEID_KEY.encode())
        if image_id in studies and row["region"] and row["finding"] == "pleural effusion":
            return studies[image_id], image_id, row["region"]
    raise AssertionError("the phantom catalog has no effusion")


def test_reference_sentence_is_drawn_on_its_lesion_region(gen_catalog, generator_dir, tmp_path):
    study_id, image_id, region = _lesion(gen_catalog)
    generator = ReportGenerator.load(generator_dir)
    out = tmp_path / "explain.png"
    explained = explain_study(study_id, generator, AlignmentModel.load(generator.encoder_dir),
                              gen_catalog, out, reference=True)
    regions = [e.region for e in explained]
    assert region in regions
    assert all(-1 <= e.similarity <= 1 for e in explained)
    k = regions.index(region)
    assert "effusion" in explained[k].text.lower()
    box = dict(region_boxes(gen_catalog.read_table("boxes"), {image_id})[image_id])[region]
    with Image.open(out) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    scale = max(1, -(-CANVAS // 64))
    x1, y1, x2, y2 = (round(v * scale) for v in box)
    outline = pixels[y1:y2 + 1, x1:x1 + 2].reshape(-1, 3)
    assert (outline == PALETTE[k % len(PALETTE)]).all(axis=1).mean() > 0.5


def test_generated_sentences_are_explained(gen_catalog, generator_dir, tmp_path):
    generator = ReportGenerator.load(generator_dir)
    study_id = gen_catalog.read_table("images")["study_id"][0].as_py()
    out = tmp_path / "generated.png"
    explained = explain_study(study_id, generator, AlignmentModel.load(generator.encoder_dir),
                              gen_catalog, out)
    assert explained and out.is_file()
    with Image.open(out) as picture:
        assert picture.width > CANVAS
