"""Generated sentences that contradict each other: which one a report keeps.

Each slot's sentence is written on its own, so a report can say "Small left pleural effusion."
(the left costophrenic angle's slot) beside "No pleural effusion or pneumothorax." (the whole
image's slot). A positive statement (present or uncertain, as
our triplet parser reads it) and a negation of the same finding contradict when the positive
statement's region lies inside the negated one: "no effusion" covers the whole chest, so it
denies the left angle's effusion; "no effusion at the left angle" does not deny an effusion
somewhere in the left lung, so that pair is no contradiction.

Which one stays: the positive statement, always. It is about the narrower region (or the same
one), the region's slot was selected because that region needs a sentence, and a negation over
a wider region is the generic sentence most normal reports carry. The negating sentence is
dropped whole rather than rewritten: a report that omits a negation is still true to itself; a
rewritten sentence would be text no decoder wrote.

Regions come from the default anatomical atlas placed on its average lungs (a unit frame): a
region lies inside another when at least half of it is covered by the other (a zone inside its
lung, an angle inside its lower zone); ``unspecified`` is the whole image, so a negation without
a region covers every region.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import permutations
from typing import Final

import numpy as np

from cxralign.anatomy.atlas import default_atlas
from cxralign.anatomy.geometry import box_area, box_intersection
from cxralign.eval.clinical import POSITIVE
from cxralign.text.pipeline import TripletParser
from cxralign.text.triplets import Triplet
from cxralign.vocabulary import UNSPECIFIED_REGION

INSIDE: Final = 0.5
"""Share of a region another must cover for the region to lie inside it."""

_WHOLE_IMAGE: Final = np.array([0.0, 0.0, 1.0, 1.0])


@cache
def _region_boxes() -> dict[str, np.ndarray]:
    """Every region's box in the unit frame (the atlas on its average lungs)."""
    atlas = default_atlas()
    lungs = atlas.average_lungs(1.0, 1.0)
    return atlas.place(lungs["right lung"], lungs["left lung"])


def _box(region: str) -> np.ndarray:
    if region == UNSPECIFIED_REGION:
        return _WHOLE_IMAGE
    return _region_boxes().get(region, _WHOLE_IMAGE)


def lies_inside(region: str, other: str) -> bool:
    """Whether ``region`` lies inside ``other`` (module docstring)."""
    if region == other:
        return True
    area = float(box_area(_box(region)))
    return area > 0 and float(box_intersection(_box(region), _box(other))) >= INSIDE * area


def _denies(negation: Triplet, statement: Triplet) -> bool:
    """Whether ``negation`` denies the positive ``statement``."""
    return (negation.existence not in POSITIVE and statement.existence in POSITIVE
            and negation.finding == statement.finding
            and lies_inside(statement.region, negation.region))


def consistent_sentences(sentences: Sequence[str], parser: TripletParser) -> list[str]:
    """``sentences`` without those that deny a finding another one states, order kept."""
    statements = parser.parse_many(list(sentences))
    denying = {i for i, j in permutations(range(len(sentences)), 2)
               if any(_denies(n, s) for n in statements[i] for s in statements[j])}
    return [s for i, s in enumerate(sentences) if i not in denying]
