"""The pairs of the real pipeline on phantom studies, against the generator's ground truth."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from cxralign.io.deid import pseudonymize
from cxralign.pairs import agreement_report, draw_pairs, phantom_agreement
from cxralign.vocabulary import REGIONS

TARGET = 0.95


def test_gold_boxes_are_the_phantom_regions_in_staged_pixels(phantom):
    assert phantom.boxes.num_rows == len(REGIONS) * phantom.images.num_rows
    assert set(phantom.boxes["source"].to_pylist()) == {"gold"}
    truth = pq.read_table(phantom.ground_truth / "regions.parquet").to_pylist()[0]
    image_id = pseudonymize("image", truth["image_key"], phantom.key)
    scale = pc.filter(phantom.images["staged_scale"],
                      pc.equal(phantom.images["image_id"], image_id))[0].as_py()
    staged = next(row for row in phantom.boxes.to_pylist()
                  if row["image_id"] == image_id and row["region"] == truth["region"])
    assert staged["x1"] == truth["x1"] * scale and staged["y2"] == truth["y2"] * scale
    assert pc.max(phantom.boxes["x2"]).as_py() <= phantom.staged_size + 1e-6


def test_every_sentence_pairs_with_every_image_of_its_study(phantom):
    said = {(row["study_id"], row["sentence_index"]) for row in phantom.sentences.to_pylist()}
    image_of = dict(zip(phantom.images["study_id"].to_pylist(),
                        phantom.images["image_id"].to_pylist(), strict=True))
    paired = {(row["study_id"], index) for row in phantom.pairs.to_pylist()
              for index in row["sentence_indices"] if row["image_id"] == image_of[row["study_id"]]}
    assert said == paired
    kinds = set(phantom.pairs["pair_kind"].to_pylist())
    assert kinds == {"region", "merged", "image"}


def test_pairs_agree_with_the_phantom_ground_truth(phantom):
    report = agreement_report(phantom.ground_truth, phantom.pairs, phantom.sentences, phantom.key)
    failing = sorted({(d.outcome, d.sentence, d.finding, d.existence, d.region, d.paired)
                      for d in report.disagreements})
    assert report.rate >= TARGET, (
        f"phantom agreement {report.rate:.3f} ({report.agreed}/{report.total}) < {TARGET}; "
        f"outcomes {dict(report.outcomes)}; by scope {report.by_scope}; failing statements "
        "(outcome, sentence, finding, existence, expected region, what the pairs say):\n"
        + "\n".join(map(str, failing))
    )


def test_agreement_drops_when_pairs_lose_statements(phantom):
    located_only = phantom.pairs.filter(pc.field("pair_kind") != "image")
    full = phantom_agreement(phantom.ground_truth, phantom.pairs, phantom.sentences, phantom.key)
    report = agreement_report(phantom.ground_truth, located_only, phantom.sentences, phantom.key)
    unspecified_agreed, unspecified_total = report.by_scope["unspecified"]
    assert unspecified_total > 0 and unspecified_agreed == 0
    assert report.rate < full


def test_draw_pairs_shows_boxes_in_sentence_colours(phantom):
    rows = phantom.pairs.filter(pc.field("pair_kind") == "region").to_pylist()
    image_id = rows[0]["image_id"]
    picture = draw_pairs(phantom.staged(image_id),
                         [row for row in phantom.pairs.to_pylist() if row["image_id"] == image_id],
                         phantom.sentences)
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    assert picture.width > picture.height >= 512
    pixels = np.asarray(picture)[:, :512].astype(int)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 60  # the radiograph itself is grey
    assert coloured.any()
