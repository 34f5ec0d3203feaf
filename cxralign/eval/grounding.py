"""Region grounding: given a sentence that names an anatomical region, does the image's box of
that region score highest, among all of the image's boxes, against the sentence?

A sentence naming several regions ("bilateral effusions") counts as grounded when any named box
ranks first; its rank is that of the best-ranked named box. Chance top-1 is ``named / boxes``,
reported alongside so a reader can tell learnt grounding from luck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class GroundingQuery:
    """One sentence of one image: cosine scores of each of the image's boxes and their region
    names, and the regions the sentence names."""

    scores: torch.Tensor
    regions: Sequence[str]
    named: frozenset[str]


def grounding_rank(query: GroundingQuery) -> int:
    """1-based rank of the best-scoring named box (ties counted against the named box)."""
    named = [i for i, region in enumerate(query.regions) if region in query.named]
    if not named:
        raise ValueError("the image has no box of any region the sentence names")
    best = query.scores[named].max()
    others = [i for i in range(len(query.regions)) if i not in set(named)]
    return 1 + int((query.scores[others] >= best).sum()) if others else 1


def grounding_metrics(queries: Sequence[GroundingQuery]) -> dict[str, float]:
    """``grounding_top1``, ``grounding_mean_rank``, ``grounding_chance_top1`` and the number of
    sentences scored (``grounding_queries``)."""
    if not queries:
        return {"grounding_queries": 0.0}
    ranks = np.array([grounding_rank(q) for q in queries], dtype=np.float64)
    chance = [
        sum(r in q.named for r in q.regions) / len(q.regions) for q in queries
    ]
    return {
        "grounding_top1": float((ranks == 1).mean()),
        "grounding_mean_rank": float(ranks.mean()),
        "grounding_chance_top1": float(np.mean(chance)),
        "grounding_queries": float(len(queries)),
    }
