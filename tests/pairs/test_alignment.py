"""ASG's sentence ↔ region cases on small hand-built tables, one case per test."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cxralign.pairs import PAIRS_SCHEMA, pairs_table, tag_index
from cxralign.text.pipeline import SENTENCES_SCHEMA, TRIPLETS_SCHEMA
from cxralign.vocabulary import REGIONS

STUDY = "study-1"
IMAGE = "image-1"
# Distinct, non-overlapping boxes so a union is easy to check: region i spans x in [i, i + 1].
BOXES = {region: (float(i), 10.0 + i, i + 1.0, 20.0 + i) for i, region in enumerate(REGIONS)}


def sentences(*texts: str, study: str = STUDY) -> pa.Table:
    return pa.Table.from_pylist(
        [{"study_id": study, "sentence_index": i, "section": "findings", "text": text,
          "char_start": 0, "char_end": len(text)} for i, text in enumerate(texts)],
        schema=SENTENCES_SCHEMA,
    )


def triplets(*rows: tuple[int, str, str, str], study: str = STUDY) -> pa.Table:
    """Rows of (sentence_index, region, finding, existence)."""
    return pa.Table.from_pylist(
        [{"study_id": study, "sentence_index": i, "region": region, "finding": finding,
          "existence": existence, "evidence": finding, "cue": None}
         for i, region, finding, existence in rows],
        schema=TRIPLETS_SCHEMA,
    )


def images(*image_ids: str, study: str = STUDY) -> pa.Table:
    return pa.table({"image_id": list(image_ids), "study_id": [study] * len(image_ids)})


def boxes(image_id: str = IMAGE, regions: dict[str, tuple[float, ...]] = BOXES,
          score: float = 1.0, source: str = "gold") -> pa.Table:
    return pa.Table.from_pylist([
        {"image_id": image_id, "region": region, "x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3],
         "score": score, "source": source} for region, b in regions.items()
    ])


def pairs(trip: pa.Table, sent: pa.Table, img: pa.Table | None = None,
          box: pa.Table | None = None) -> list[dict[str, Any]]:
    table = pairs_table(trip, sent, img if img is not None else images(IMAGE),
                        box if box is not None else boxes())
    assert table.schema == PAIRS_SCHEMA
    return table.to_pylist()


def row(rows: list[dict[str, Any]], kind: str, *members: str) -> dict[str, Any]:
    found = [r for r in rows if r["pair_kind"] == kind and tuple(r["member_regions"]) == members]
    assert len(found) == 1, f"expected one {kind} row for {members}, got {rows}"
    return found[0]


def box_of(r: dict[str, Any]) -> tuple[float, ...]:
    return (r["x1"], r["y1"], r["x2"], r["y2"])


def test_one_sentence_one_region():
    rows = pairs(triplets((0, "right lower lung zone", "opacity", "present")),
                 sentences("Right lower lobe opacity."))
    assert [r["pair_kind"] for r in rows] == ["region"]
    only = rows[0]
    assert (only["image_id"], only["study_id"], only["region"]) == (IMAGE, STUDY,
                                                                    "right lower lung zone")
    assert only["sentence_indices"] == [0]
    assert box_of(only) == BOXES["right lower lung zone"]
    assert only["box_source"] == "gold"
    assert (only["findings"], only["existence"]) == (["opacity"], ["present"])
    assert only["tags"][tag_index().index(("opacity", "present"))] == 1.0
    assert sum(only["tags"]) == 1.0


def test_one_sentence_several_regions_gives_each_region_and_the_merged_union():
    rows = pairs(
        triplets((0, "cardiac silhouette", "cardiomegaly", "absent"),
                 (0, "mediastinum", "enlarged cardiomediastinum", "absent")),
        sentences("The cardiomediastinal silhouette is normal."),
    )
    assert {r["pair_kind"] for r in rows} == {"region", "merged"}
    heart = row(rows, "region", "cardiac silhouette")
    assert heart["findings"] == ["cardiomegaly"]
    merged = row(rows, "merged", "mediastinum", "cardiac silhouette")  # vocabulary order
    assert merged["region"] is None
    assert merged["sentence_indices"] == [0]
    members = [BOXES["mediastinum"], BOXES["cardiac silhouette"]]
    assert box_of(merged) == (min(b[0] for b in members), min(b[1] for b in members),
                              max(b[2] for b in members), max(b[3] for b in members))
    assert sorted(merged["findings"]) == ["cardiomegaly", "enlarged cardiomediastinum"]


def test_several_sentences_one_region_are_grouped_in_one_row():
    rows = pairs(
        triplets((0, "left costophrenic angle", "pleural effusion", "present"),
                 (2, "left costophrenic angle", "pleural effusion", "uncertain")),
        sentences("Small left effusion.", "Heart size is normal.", "Possible left effusion."),
    )
    left = row(rows, "region", "left costophrenic angle")
    assert left["sentence_indices"] == [0, 2]
    assert list(zip(left["statement_sentences"], left["existence"], strict=True)) == [
        (0, "present"), (2, "uncertain")]
    index = tag_index()
    assert left["tags"][index.index(("pleural effusion", "present"))] == 1.0
    assert left["tags"][index.index(("pleural effusion", "uncertain"))] == 1.0


def test_unspecified_and_untagged_sentences_pair_with_the_whole_image_without_a_box():
    rows = pairs(triplets((0, "unspecified", "pneumothorax", "absent")),
                 sentences("No pneumothorax.", "No acute cardiopulmonary process."))
    image = row(rows, "image")
    assert image["region"] == "unspecified"
    assert image["sentence_indices"] == [0, 1]
    assert box_of(image) == (None, None, None, None)
    assert image["box_source"] is None
    assert (image["statement_sentences"], image["findings"]) == ([0], ["pneumothorax"])
    assert len(rows) == 1


def test_sentence_with_located_and_unspecified_findings_pairs_with_both():
    rows = pairs(triplets((0, "right lung", "opacity", "absent"),
                          (0, "unspecified", "pleural effusion", "absent")),
                 sentences("Right lung clear, no effusion."))
    assert row(rows, "region", "right lung")["findings"] == ["opacity"]
    assert row(rows, "image")["findings"] == ["pleural effusion"]


def test_bilateral_phrase_yields_both_sides_and_their_union():
    rows = pairs(
        triplets((0, "right costophrenic angle", "pleural effusion", "present"),
                 (0, "left costophrenic angle", "pleural effusion", "present")),
        sentences("Small bilateral pleural effusions."),
    )
    assert row(rows, "region", "right costophrenic angle")["sentence_indices"] == [0]
    assert row(rows, "region", "left costophrenic angle")["sentence_indices"] == [0]
    merged = row(rows, "merged", "right costophrenic angle", "left costophrenic angle")
    assert merged["x1"] == BOXES["right costophrenic angle"][0]
    assert merged["x2"] == BOXES["left costophrenic angle"][2]


def test_every_image_of_a_study_gets_its_own_boxes():
    other = {region: tuple(v + 100 for v in b) for region, b in BOXES.items()}
    rows = pairs(triplets((0, "spine", "scoliosis", "present")), sentences("Scoliosis."),
                 images("image-a", "image-b"),
                 pa.concat_tables([boxes("image-a"), boxes("image-b", other)]))
    by_image = {r["image_id"]: box_of(r) for r in rows}
    assert by_image == {"image-a": BOXES["spine"], "image-b": other["spine"]}


def test_best_scoring_box_wins_and_a_missing_box_keeps_its_row():
    atlas = boxes(score=0.2, source="atlas")
    detector = boxes(regions={"trachea": (1.0, 2.0, 3.0, 4.0)}, score=0.9, source="detector")
    rows = pairs(triplets((0, "trachea", "support device", "present"),
                          (1, "abdomen", "hiatal hernia", "present")),
                 sentences("ET tube in the trachea.", "Hiatal hernia."),
                 box=pa.concat_tables([atlas.filter(pc.field("region") != "abdomen"),
                                       detector]))
    trachea = row(rows, "region", "trachea")
    assert (box_of(trachea), trachea["box_source"]) == ((1.0, 2.0, 3.0, 4.0), "detector")
    abdomen = row(rows, "region", "abdomen")
    assert (box_of(abdomen), abdomen["box_source"]) == ((None,) * 4, None)


def test_images_of_studies_without_sentences_get_no_rows():
    rows = pairs(triplets((0, "spine", "scoliosis", "present")), sentences("Scoliosis."),
                 images("image-x", study="another-study"), boxes("image-x"))
    assert rows == []


def test_a_region_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="left knee"):
        pairs(triplets((0, "left knee", "fracture", "present")), sentences("Knee fracture."))
