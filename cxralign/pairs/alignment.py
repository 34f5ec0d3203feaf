"""Region ↔ sentence pairs: which anatomical box of each image each report sentence talks about.

One row per (image, pair kind, member regions), so a region's row gathers every sentence that
mentions it (ASG's "several sentences → one region" case) and the training stage pools one box
per row:

* ``region``: one of the 29 regions; ``sentence_indices`` are all sentences with a triplet
  located there, ``findings``/``existence`` those triplets. A sentence naming several regions
  appears in each region's row (one → several), and a bilateral phrase, which the text stage
  already splits into one triplet per side, yields both sides' rows.
* ``merged``: a sentence that names two or more regions also pairs with the union box of all of
  them (ASG found the merged box aligns better than the separate ones). ``region`` is null and
  ``member_regions`` lists the regions; sentences naming the same region set share the row.
* ``image``: sentences with an ``unspecified`` triplet ("no pneumothorax") or no triplet at all
  ("no acute cardiopulmonary process") pair with the whole image; ``region`` is
  ``unspecified``, the box is null. So every sentence of a study pairs with each of its images.

``statement_sentences[i]``, ``findings[i]``, ``existence[i]`` are parallel lists: sentence
``statement_sentences[i]`` says ``findings[i]`` is ``existence[i]`` in this row's region(s).
``tags`` is their multi-hot vector over :func:`~cxralign.pairs.tags.tag_index`. Boxes are in
staged pixels, copied from the ``boxes`` table (the highest-scoring row when a region has
several); ``box_source`` is that row's source (a merged box of mixed origin joins its sources
with ``+``). A region without a box keeps its row with a null box and ``box_source``, as does a
merged row with any member missing, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from cxralign.pairs.tags import TAGS_TYPE, tag_vector
from cxralign.vocabulary import REGIONS, UNSPECIFIED_REGION

REGION: Final = "region"
MERGED: Final = "merged"
IMAGE: Final = "image"
PAIR_KINDS: Final = (REGION, MERGED, IMAGE)

PAIRS_SCHEMA: Final = pa.schema(
    [
        ("image_id", pa.string()),
        ("study_id", pa.string()),
        ("pair_kind", pa.string()),
        ("region", pa.string()),
        ("member_regions", pa.list_(pa.string())),
        ("sentence_indices", pa.list_(pa.int32())),
        ("x1", pa.float64()),
        ("y1", pa.float64()),
        ("x2", pa.float64()),
        ("y2", pa.float64()),
        ("box_source", pa.string()),
        ("statement_sentences", pa.list_(pa.int32())),
        ("findings", pa.list_(pa.string())),
        ("existence", pa.list_(pa.string())),
        ("tags", TAGS_TYPE),
    ]
)

_REGION_ORDER: Final = {name: position for position, name in enumerate(REGIONS)}
Box = tuple[float, float, float, float]
Statement = tuple[int, str, str]  # (sentence_index, finding, existence)


@dataclass(frozen=True)
class _Located:
    """A box of the ``boxes`` table."""

    box: Box
    score: float
    source: str


@dataclass
class _Pair:
    """The sentences and statements one (kind, member regions) row of a study gathers."""

    kind: str
    members: tuple[str, ...]
    sentences: set[int] = field(default_factory=set)
    statements: dict[Statement, None] = field(default_factory=dict)

    def add(self, sentence: int, statements: Iterable[Statement]) -> None:
        self.sentences.add(sentence)
        self.statements.update(dict.fromkeys(statements))


def pairs_table(
    triplets: pa.Table, sentences: pa.Table, images: pa.Table, boxes: pa.Table
) -> pa.Table:
    """The ``pairs`` table (:data:`PAIRS_SCHEMA`) of every image whose study has sentences."""
    study_pairs = _study_pairs(triplets, sentences)
    located = _boxes_by_image(boxes)
    rows: list[dict[str, Any]] = []
    image_columns = images.select(["image_id", "study_id"]).to_pydict()
    for image_id, study_id in sorted(
        zip(image_columns["image_id"], image_columns["study_id"], strict=True)
    ):
        image_boxes = located.get(image_id, {})
        rows.extend(_row(image_id, study_id, pair, image_boxes)
                    for pair in study_pairs.get(study_id, ()))
    return pa.Table.from_pylist(rows, schema=PAIRS_SCHEMA)


def _study_pairs(triplets: pa.Table, sentences: pa.Table) -> dict[str, list[_Pair]]:
    """Each study's pairs in row order: regions (vocabulary order), merged sets, image."""
    by_sentence: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    columns = triplets.select(["study_id", "sentence_index", "region", "finding", "existence"])
    for study_id, index, region, finding, existence in zip(
        *columns.to_pydict().values(), strict=True
    ):
        if region != UNSPECIFIED_REGION and region not in _REGION_ORDER:
            raise ValueError(f"triplet region {region!r} is not in the region vocabulary")
        by_sentence.setdefault((study_id, index), []).append((region, finding, existence))
    keys = set(zip(sentences["study_id"].to_pylist(), sentences["sentence_index"].to_pylist(),
                   strict=True)) | set(by_sentence)
    pairs: dict[str, dict[tuple[str, tuple[str, ...]], _Pair]] = {}
    for study_id, index in sorted(keys):
        study = pairs.setdefault(study_id, {})
        said = by_sentence.get((study_id, index), [])
        for kind, members, statements in _sentence_pairs(index, said):
            study.setdefault((kind, members), _Pair(kind, members)).add(index, statements)
    return {study_id: sorted(study.values(), key=_pair_order) for study_id, study in pairs.items()}


def _sentence_pairs(
    index: int, triplets: list[tuple[str, str, str]]
) -> Iterable[tuple[str, tuple[str, ...], list[Statement]]]:
    """The (kind, members, statements) a sentence contributes to; see the module docstring."""
    regions = tuple(sorted({r for r, _, _ in triplets if r != UNSPECIFIED_REGION},
                           key=_REGION_ORDER.__getitem__))

    def said(members: tuple[str, ...]) -> list[Statement]:
        return [(index, finding, existence) for region, finding, existence in triplets
                if region in members]

    for region in regions:
        yield REGION, (region,), said((region,))
    if len(regions) > 1:
        yield MERGED, regions, said(regions)
    if not triplets or any(region == UNSPECIFIED_REGION for region, _, _ in triplets):
        yield IMAGE, (), said((UNSPECIFIED_REGION,))


def _pair_order(pair: _Pair) -> tuple[int, list[int]]:
    return PAIR_KINDS.index(pair.kind), [_REGION_ORDER[m] for m in pair.members]


def _boxes_by_image(boxes: pa.Table) -> dict[str, dict[str, _Located]]:
    """The best-scoring box of each (image, region)."""
    found: dict[str, dict[str, _Located]] = {}
    columns = boxes.select(["image_id", "region", "x1", "y1", "x2", "y2", "score", "source"])
    for image_id, region, x1, y1, x2, y2, score, source in zip(
        *columns.to_pydict().values(), strict=True
    ):
        candidate = _Located((float(x1), float(y1), float(x2), float(y2)), float(score), source)
        current = found.setdefault(image_id, {}).get(region)
        if current is None or candidate.score > current.score:
            found[image_id][region] = candidate
    return found


def _row(
    image_id: str, study_id: str, pair: _Pair, boxes: dict[str, _Located]
) -> dict[str, Any]:
    box, source = _pair_box(pair, boxes)
    statements = list(pair.statements)
    return {
        "image_id": image_id,
        "study_id": study_id,
        "pair_kind": pair.kind,
        "region": _row_region(pair),
        "member_regions": list(pair.members),
        "sentence_indices": sorted(pair.sentences),
        **dict(zip(("x1", "y1", "x2", "y2"), box or (None,) * 4, strict=True)),
        "box_source": source,
        "statement_sentences": [s for s, _, _ in statements],
        "findings": [f for _, f, _ in statements],
        "existence": [e for _, _, e in statements],
        "tags": tag_vector((f, e) for _, f, e in statements).tolist(),
    }


def _row_region(pair: _Pair) -> str | None:
    if pair.kind == REGION:
        return pair.members[0]
    return UNSPECIFIED_REGION if pair.kind == IMAGE else None


def _pair_box(pair: _Pair, boxes: dict[str, _Located]) -> tuple[Box | None, str | None]:
    """The row's box (a region's own, or the union of a merged set) and its source(s)."""
    if pair.kind == IMAGE or any(m not in boxes for m in pair.members):
        return None, None
    members = [boxes[m] for m in pair.members]
    union = (min(b.box[0] for b in members), min(b.box[1] for b in members),
             max(b.box[2] for b in members), max(b.box[3] for b in members))
    return union, "+".join(sorted({b.source for b in members}))
