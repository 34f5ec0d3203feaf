"""Which region supports which sentence: one study's radiograph with each generated (or
reference) sentence drawn onto the box of the region it was written for, and the pre-trained
model's region–sentence similarity (cosine of the region embedding and the sentence's text
embedding, the quantity ASG's region–sentence loss aligns).

The picture reuses the pairs stage's drawing (:func:`cxralign.pairs.drawing.draw_pairs`): a
sentence is a "pair" of its region's box, so both pictures read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import torch
from torch.nn import functional as F

from cxralign.eval.data import region_boxes
from cxralign.eval.encode import encode_strings
from cxralign.generate.data import IMAGE_SLOT, SLOTS, SlotFeatures, slot_features, slot_sentences
from cxralign.generate.generator import ReportGenerator
from cxralign.io.atomic import atomic_path
from cxralign.io.catalog import Catalog
from cxralign.io.staging import StagedImages
from cxralign.models.model import AlignmentModel
from cxralign.pairs.alignment import IMAGE, REGION
from cxralign.pairs.drawing import draw_pairs


@dataclass(frozen=True)
class Explained:
    """One sentence of the picture: its slot name, text and region–sentence similarity."""

    region: str
    text: str
    similarity: float


def explain_study(study_id: str, generator: ReportGenerator, encoder: AlignmentModel,
                  catalog: Catalog, out: str | Path, reference: bool = False
                  ) -> list[Explained]:
    """Write the PNG of ``study_id``'s first image to ``out``: the generator's sentences, or
    with ``reference`` the report's own paired sentences. KeyError for an unknown study."""
    images = catalog.read_table("images")
    rows = images.filter(pc.equal(images["study_id"], study_id))
    if rows.num_rows == 0:
        raise KeyError(f"no image of study {study_id} in {catalog.root}")
    image_id = rows["image_id"][0].as_py()
    pixels = StagedImages(catalog.root, [rows["staged_path"][0].as_py()],
                          [rows["staged_index"][0].as_py()])[0]
    boxes = dict(region_boxes(catalog.read_table("boxes"), {image_id}).get(image_id, []))
    features, mask = slot_features(encoder, [pixels], [boxes], 1)
    if reference:
        texts = sorted(slot_sentences(catalog.read_table("pairs"),
                                      catalog.read_table("sentences"), [image_id])[0].items())
    else:
        encoded = SlotFeatures(features, mask, [image_id], [study_id], [""], [boxes])
        texts = [(s.slot, s.text) for s in generator.sentences(encoded)[0]]
    explained = _similarities(encoder, features[0], texts)
    picture = draw_pairs(pixels, _pair_rows(study_id, explained, boxes), [
        {"study_id": study_id, "sentence_index": k,
         "text": f"{e.text} (similarity {e.similarity:+.2f})"}
        for k, e in enumerate(explained)])
    with atomic_path(Path(out)) as tmp:
        picture.save(tmp, format="PNG")
    return explained


def _similarities(encoder: AlignmentModel, features: torch.Tensor,
                  texts: list[tuple[int, str]]) -> list[Explained]:
    if not texts:
        return []
    embedded = encode_strings(encoder, [t for _, t in texts], encoder.recipe.max_sentence_tokens,
                              len(texts))
    slots = torch.tensor([slot for slot, _ in texts])
    similarity = F.cosine_similarity(features[slots], embedded, dim=-1)
    return [Explained(SLOTS[slot], text, float(value))
            for (slot, text), value in zip(texts, similarity, strict=True)]


def _pair_rows(study_id: str, explained: list[Explained],
               boxes: dict[str, tuple[float, float, float, float]]) -> list[dict]:
    """``pairs``-shaped rows: one per sentence, on its region's box (none for the image)."""
    rows = []
    for k, e in enumerate(explained):
        box = boxes.get(e.region)
        whole = e.region == IMAGE_SLOT or box is None
        rows.append({"study_id": study_id, "pair_kind": IMAGE if whole else REGION,
                     "region": None if whole else e.region,
                     "member_regions": [] if whole else [e.region], "sentence_indices": [k],
                     **dict(zip(("x1", "y1", "x2", "y2"), box or (None,) * 4, strict=True))})
    return rows
