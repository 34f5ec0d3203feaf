"""Tag vocabulary, tag vectors and the study_tags table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cxralign.pairs import (
    STUDY_TAGS_SCHEMA,
    study_tag_matrix,
    study_tags_table,
    tag_index,
    tag_vector,
)
from cxralign.text.pipeline import TRIPLETS_SCHEMA
from cxralign.vocabulary import EXISTENCE, FINDINGS


def triplets(*rows: tuple[str, str, str, str]) -> pa.Table:
    """Rows of (study_id, region, finding, existence)."""
    return pa.Table.from_pylist(
        [{"study_id": s, "sentence_index": 0, "region": r, "finding": f, "existence": e,
          "evidence": f, "cue": None} for s, r, f, e in rows],
        schema=TRIPLETS_SCHEMA,
    )


def test_index_is_findings_times_existence_finding_major():
    index = tag_index()
    assert len(index) == len(FINDINGS) * len(EXISTENCE) == 78
    assert index[:3] == [("atelectasis", "present"), ("atelectasis", "absent"),
                         ("atelectasis", "uncertain")]
    assert index[3 * FINDINGS.index("edema") + 2] == ("edema", "uncertain")
    assert len(set(index)) == len(index)


def test_uncertain_is_its_own_channel():
    vector = tag_vector([("pneumonia", "uncertain")])
    index = tag_index()
    assert vector[index.index(("pneumonia", "uncertain"))] == 1.0
    assert vector[index.index(("pneumonia", "present"))] == 0.0
    assert vector.sum() == 1.0 and vector.dtype == np.float32


def test_unknown_tag_is_refused():
    with pytest.raises(ValueError, match="probable"):
        tag_vector([("pneumonia", "probable")])


def test_study_tags_collect_every_statement_of_a_study():
    table = study_tags_table(triplets(
        ("b", "left lung", "opacity", "present"), ("a", "unspecified", "pneumothorax", "absent"),
        ("b", "right lung", "opacity", "present"), ("b", "unspecified", "edema", "uncertain"),
    ))
    assert table.schema == STUDY_TAGS_SCHEMA
    assert table["study_id"].to_pylist() == ["a", "b"]
    index = tag_index()
    tags = {row["study_id"]: row["tags"] for row in table.to_pylist()}
    assert all(len(vector) == len(index) for vector in tags.values())
    assert {index[i] for i, v in enumerate(tags["b"]) if v} == {("opacity", "present"),
                                                               ("edema", "uncertain")}
    assert {index[i] for i, v in enumerate(tags["a"]) if v} == {("pneumothorax", "absent")}


def test_study_tag_matrix_orders_by_request_and_zero_fills_unknown_studies():
    table = study_tags_table(triplets(("a", "spine", "scoliosis", "present")))
    matrix = study_tag_matrix(table, ["missing", "a"])
    assert matrix.shape == (2, len(tag_index()))
    assert matrix[0].sum() == 0.0
    assert matrix[1, tag_index().index(("scoliosis", "present"))] == 1.0
