"""The training examples of a split, read once from the catalog and tokenised up front.

One example is one image with its study's report (findings + impression, the sections a report
states its observations in), that report's sentences (the first ``max_sentences`` of the
``sentences`` table, which holds the findings and impression sentences in order), the region
rows of the ``pairs`` table that carry a box (``region`` and ``merged`` kinds; image-level rows
pair with the whole image, which the global objective already covers) and the study's tag
vector. Every partition (incoming batch) of every table is read.

Token ids are computed here once for the whole split rather than per batch: the tokenizer is
the slowest CPU step of a text batch, and ids are small. Pixels are not loaded: they stay in the
memory-mapped staged shards until a batch needs them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxralign.io.catalog import Catalog
from cxralign.io.staging import StagedImages
from cxralign.models.recipes import RecipeConfig
from cxralign.pairs.alignment import MERGED, REGION
from cxralign.pairs.tags import study_tag_matrix
from cxralign.train.settings import PretrainSettings

REPORT_SECTIONS = ("findings", "impression")


class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer used here."""

    pad_token_id: int | None

    def __call__(self, texts: list[str], **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class RegionRow:
    """One boxed pair row: its name (a region, or ``merged``), its box in staged pixels and the
    positions (in the example's sentence list) of the sentences it gathers."""

    name: str
    box: tuple[float, float, float, float]
    sentences: tuple[int, ...]


@dataclass(frozen=True)
class Example:
    """One image and everything its batch row needs (see the module docstring)."""

    image_id: str
    study_id: str
    report_ids: tuple[int, ...]
    sentence_ids: tuple[tuple[int, ...], ...]
    regions: tuple[RegionRow, ...]
    tags: np.ndarray
    sentence_keys: tuple[Hashable, ...] = ()
    """What each sentence states, comparable across studies (:func:`statement_key`)."""


@dataclass(frozen=True)
class ExampleSet:
    """A split's examples, the staged pixels in the same order, and where they came from."""

    examples: list[Example]
    staged: StagedImages
    staged_size: int
    partitions: list[str]
    pad_token_id: int

    def __len__(self) -> int:
        return len(self.examples)


_TRAINING = PretrainSettings()
_RECIPE = RecipeConfig()


def load_examples(
    catalog: Catalog, tokenizer: Tokenizer, *, view_positions: Sequence[str],
    split: str = _TRAINING.split, max_sentences: int = _TRAINING.max_sentences,
    max_report_tokens: int = _RECIPE.max_report_tokens,
    max_sentence_tokens: int = _RECIPE.max_sentence_tokens,
) -> ExampleSet:
    """Every image of ``split`` (and of ``view_positions`` or no recorded view; empty = every
    view) whose study has report text, over all partitions, tokenised with ``tokenizer``. The
    defaults are the settings' and the recipe's, not values of this function's own."""
    images = _images(catalog.read_table("images"), split, view_positions)
    reports = report_texts(catalog.read_table("sections"))
    images = images.filter(pa.array([s in reports for s in images["study_id"].to_pylist()],
                                    pa.bool_())) if images.num_rows else images
    if images.num_rows == 0:
        raise ValueError(f"no {split!r} images with a report in {catalog.root}")
    study_ids = images["study_id"].to_pylist()
    sentences = _study_sentences(catalog.read_table("sentences"), set(study_ids), max_sentences)
    regions = _image_regions(catalog.read_table("pairs"), sentences)
    statements = _sentence_statements(catalog.read_table("triplets"), set(study_ids))
    tags = study_tag_matrix(catalog.read_table("study_tags"), study_ids)

    unique_studies = sorted(set(study_ids))
    report_ids = dict(zip(unique_studies, _encode(
        tokenizer, [reports[s] for s in unique_studies], max_report_tokens), strict=True))
    flat = [(s, text) for s in unique_studies for _, text in sentences.get(s, [])]
    encoded = _encode(tokenizer, [text for _, text in flat], max_sentence_tokens)
    sentence_ids: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for (study, _), ids in zip(flat, encoded, strict=True):
        sentence_ids[study].append(ids)

    keys = {study: tuple(statement_key(text, statements.get((study, index), frozenset()))
                         for index, text in items) for study, items in sentences.items()}
    examples = [
        Example(image_id, study_id, report_ids[study_id], tuple(sentence_ids.get(study_id, [])),
                tuple(regions.get(image_id, [])), tags[row], keys.get(study_id, ()))
        for row, (image_id, study_id) in enumerate(
            zip(images["image_id"].to_pylist(), study_ids, strict=True))
    ]
    staged = StagedImages(catalog.root, images["staged_path"].to_pylist(),
                          images["staged_index"].to_pylist())
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return ExampleSet(examples, staged, _staged_size(staged), catalog.partitions("images"), pad)


def _images(images: pa.Table, split: str, view_positions: Sequence[str]) -> pa.Table:
    keep = pc.equal(images["split"], split)
    if view_positions and "view_position" in images.column_names:
        views = images["view_position"]
        keep = pc.and_(keep, pc.or_(pc.is_in(views, pa.array(list(view_positions))),
                                    pc.is_null(views)))
    chosen = images.filter(keep)
    return chosen.sort_by([("image_id", "ascending")])


def report_texts(sections: pa.Table) -> dict[str, str]:
    """study_id -> findings and impression joined (studies with neither are left out)."""
    columns = sections.select(["study_id", *REPORT_SECTIONS]).to_pydict()
    texts = {}
    for study_id, *parts in zip(*columns.values(), strict=True):
        text = " ".join(part.strip() for part in parts if part and part.strip())
        if text:
            texts[study_id] = text
    return texts


def _study_sentences(sentences: pa.Table, studies: set[str], limit: int
                     ) -> dict[str, list[tuple[int, str]]]:
    """study_id -> its first ``limit`` (sentence_index, text), in report order."""
    rows = sentences.select(["study_id", "sentence_index", "text"]).to_pydict()
    by_study: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for study_id, index, text in zip(*rows.values(), strict=True):
        if study_id in studies:
            by_study[study_id].append((int(index), text))
    return {study: sorted(items)[:limit] for study, items in by_study.items()}


def statement_key(text: str, triplets: frozenset[tuple[str, str, str]]) -> Hashable:
    """What a sentence states, as a key equal for sentences that say the same thing: its set of
    ⟨region, finding, existence⟩ triplets, or, for a sentence without any, its text lower-cased
    with punctuation and spacing removed (so "Heart size is normal." in two studies match)."""
    if triplets:
        return triplets
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _sentence_statements(triplets: pa.Table, studies: set[str]
                         ) -> dict[tuple[str, int], frozenset[tuple[str, str, str]]]:
    """(study_id, sentence_index) -> the triplets parsed from that sentence."""
    rows = triplets.select(["study_id", "sentence_index", "region", "finding",
                            "existence"]).to_pydict()
    found: dict[tuple[str, int], set[tuple[str, str, str]]] = defaultdict(set)
    for study_id, index, region, finding, existence in zip(*rows.values(), strict=True):
        if study_id in studies:
            found[(study_id, int(index))].add((region, finding, existence))
    return {key: frozenset(value) for key, value in found.items()}


def _image_regions(pairs: pa.Table, sentences: dict[str, list[tuple[int, str]]]
                   ) -> dict[str, list[RegionRow]]:
    """image_id -> its boxed region and merged rows whose sentences are kept."""
    boxed = pairs.filter(pc.and_(pc.is_in(pairs["pair_kind"], pa.array([REGION, MERGED])),
                                 pc.is_valid(pairs["x1"])))
    columns = boxed.select(["image_id", "study_id", "pair_kind", "region", "sentence_indices",
                            "x1", "y1", "x2", "y2"]).to_pydict()
    positions = {study: {index: position for position, (index, _) in enumerate(items)}
                 for study, items in sentences.items()}
    regions: dict[str, list[RegionRow]] = defaultdict(list)
    for image_id, study_id, kind, region, indices, x1, y1, x2, y2 in zip(
            *columns.values(), strict=True):
        known = positions.get(study_id, {})
        kept = tuple(sorted({known[i] for i in indices if i in known}))
        if kept:
            name = region if kind == REGION else MERGED
            regions[image_id].append(RegionRow(name, (x1, y1, x2, y2), kept))
    return regions


def _encode(tokenizer: Tokenizer, texts: list[str], max_tokens: int) -> list[tuple[int, ...]]:
    if not texts:
        return []
    ids = tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    return [tuple(int(i) for i in row) for row in ids]


def _staged_size(staged: StagedImages) -> int:
    """The side of the staged squares; one size per run (mixed ingests must be re-staged)."""
    sizes = {np.load(staged.catalog_root / path, mmap_mode="r").shape[1:]
             for path in dict.fromkeys(staged.staged_paths)}
    if len(sizes) != 1 or len(next(iter(sizes))) != 2 or len(set(next(iter(sizes)))) != 1:
        raise ValueError(f"staged arrays have mixed or non-square sizes {sorted(sizes)}")
    return int(next(iter(sizes))[0])
