"""Tag vectors: which (finding, existence) statements a study or a pair row makes.

ASG's tag-recognition loss is a multi-label classification over a fixed tag vocabulary, and its
soft-label contrastive loss compares studies through the same vectors. The vocabulary here is
the product ``FINDINGS × EXISTENCE`` in that order, finding-major: the tag of
``(FINDINGS[f], EXISTENCE[e])`` sits at index ``f * len(EXISTENCE) + e``.

``uncertain`` is a channel of its own, never folded into ``present`` or dropped: "possible
pneumonia" sets ``(pneumonia, uncertain)`` only, so a loss may weight or mask hedged findings
without the data having decided for it. A study that both negates and hedges a finding (findings
say "no effusion", impression says "possible effusion") sets both channels; the vector records
what the report says, not a resolved label.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Final

import numpy as np
import pyarrow as pa

from cxralign.vocabulary import EXISTENCE, FINDINGS

TAG_COUNT: Final = len(FINDINGS) * len(EXISTENCE)
TAGS_TYPE: Final = pa.list_(pa.float32())
STUDY_TAGS_SCHEMA: Final = pa.schema([("study_id", pa.string()), ("tags", TAGS_TYPE)])


def tag_index() -> list[tuple[str, str]]:
    """The tag vocabulary: position ``i`` of every tag vector is ``tag_index()[i]``."""
    return [(finding, existence) for finding in FINDINGS for existence in EXISTENCE]


@cache
def _positions() -> dict[tuple[str, str], int]:
    return {tag: position for position, tag in enumerate(tag_index())}


def tag_position(finding: str, existence: str) -> int:
    """Index of ``(finding, existence)`` in :func:`tag_index`; ValueError outside the vocabulary
    (a triplet the vocabulary cannot express must fail loudly, not become a zero)."""
    try:
        return _positions()[(finding, existence)]
    except KeyError:
        raise ValueError(f"({finding!r}, {existence!r}) is not in the tag vocabulary") from None


def tag_vector(statements: Iterable[tuple[str, str]]) -> np.ndarray:
    """Multi-hot float32 vector of length :data:`TAG_COUNT` over ``(finding, existence)`` pairs."""
    vector = np.zeros(TAG_COUNT, dtype=np.float32)
    for finding, existence in statements:
        vector[tag_position(finding, existence)] = 1.0
    return vector


def study_tags_table(triplets: pa.Table) -> pa.Table:
    """One row per study of ``triplets`` (sorted by study_id): its tag vector over all sentences
    and regions. Studies without any triplet are absent; :func:`study_tag_matrix` gives them an
    all-zero vector."""
    columns = triplets.select(["study_id", "finding", "existence"]).to_pydict()
    statements: dict[str, list[tuple[str, str]]] = {}
    for study_id, finding, existence in zip(
        columns["study_id"], columns["finding"], columns["existence"], strict=True
    ):
        statements.setdefault(study_id, []).append((finding, existence))
    study_ids = sorted(statements)
    return pa.table(
        {"study_id": pa.array(study_ids, pa.string()),
         "tags": pa.array([tag_vector(statements[s]).tolist() for s in study_ids], TAGS_TYPE)},
        schema=STUDY_TAGS_SCHEMA,
    )


def study_tag_matrix(study_tags: pa.Table, study_ids: Iterable[str]) -> np.ndarray:
    """The ``(len(study_ids), TAG_COUNT)`` float32 matrix of a batch's studies, in that order;
    a study absent from ``study_tags`` (its report stated no finding) gets zeros."""
    known = dict(zip(study_tags["study_id"].to_pylist(), study_tags["tags"].to_pylist(),
                     strict=True))
    zeros = [0.0] * TAG_COUNT
    return np.asarray([known.get(s, zeros) for s in study_ids], dtype=np.float32).reshape(
        -1, TAG_COUNT
    )
