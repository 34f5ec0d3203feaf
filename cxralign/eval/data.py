"""What the evaluations read from the catalog besides the training examples: report texts,
every anatomical box of an image, and which regions each held-out sentence names.

The images, tokenised reports and sentences, boxed pair rows and tag vectors of a split come
from :func:`cxralign.train.examples.load_examples`, the same reader pre-training uses, so an
evaluation sees a study exactly as training saw its split (same report text, same sentences,
same tokeniser budgets).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from cxralign.eval.settings import EvaluationSettings
from cxralign.io.catalog import Catalog
from cxralign.models.recipes import RecipeConfig
from cxralign.pairs.alignment import MERGED
from cxralign.train.examples import ExampleSet, load_examples, report_texts
from cxralign.vocabulary import REGIONS

EVERY_VIEW: tuple[str, ...] = ()
"""Evaluation scores every view position (pre-training may keep frontal views only)."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SplitData:
    """One split's examples (tokenised with a model's tokenizer) and its report texts."""

    examples: ExampleSet
    reports: dict[str, str]

    @property
    def study_order(self) -> list[str]:
        """Unique study ids in first-appearance order (one report embedding each)."""
        return list(dict.fromkeys(e.study_id for e in self.examples.examples))


def load_split(catalog: Catalog, tokenizer, split: str, max_report_tokens: int,
               max_sentence_tokens: int) -> SplitData:
    """Examples of ``split`` tokenised for a model, with the untokenised report texts."""
    examples = load_examples(catalog, tokenizer, split=split, view_positions=EVERY_VIEW,
                             max_report_tokens=max_report_tokens,
                             max_sentence_tokens=max_sentence_tokens)
    texts = report_texts(catalog.read_table("sections"))
    return SplitData(examples, {e.study_id: texts[e.study_id] for e in examples.examples})


def load_splits(catalog: Catalog, tokenizer, recipe: RecipeConfig,
                settings: EvaluationSettings) -> tuple[SplitData, SplitData]:
    """The held-out and the training split an evaluation reads (``settings.split``,
    ``settings.train_split``), tokenised with the budgets of ``recipe``'s model."""
    test, train = (load_split(catalog, tokenizer, split, recipe.max_report_tokens,
                              recipe.max_sentence_tokens)
                   for split in (settings.split, settings.train_split))
    return test, train


def region_boxes(boxes: pa.Table, image_ids: set[str]) -> dict[str, list[tuple[str, Box]]]:
    """image_id -> (region, staged-pixel box) for each region it has a box of (the
    highest-scoring one when several), in vocabulary order."""
    wanted = boxes.filter(pc.is_in(boxes["image_id"], pa.array(sorted(image_ids), pa.string())))
    wanted = wanted.sort_by([("score", "descending")])
    best: dict[str, dict[str, Box]] = defaultdict(dict)
    columns = wanted.select(["image_id", "region", "x1", "y1", "x2", "y2"]).to_pydict()
    for image_id, region, *box in zip(*columns.values(), strict=True):
        best[image_id].setdefault(region, tuple(float(v) for v in box))
    order = {name: position for position, name in enumerate(REGIONS)}
    return {image_id: sorted(found.items(), key=lambda item: order.get(item[0], len(order)))
            for image_id, found in best.items()}


def named_regions(examples: ExampleSet) -> list[dict[int, frozenset[str]]]:
    """Per example, sentence position -> the regions its ``region`` pair rows say it names
    (merged rows add no new region: their members have their own rows)."""
    named: list[dict[int, frozenset[str]]] = []
    for example in examples.examples:
        regions: dict[int, set[str]] = defaultdict(set)
        for row in example.regions:
            if row.name != MERGED:
                for position in row.sentences:
                    regions[position].add(row.name)
        named.append({position: frozenset(found) for position, found in regions.items()})
    return named
