"""Region grounding: given a sentence that names an anatomical region, does the image's box of
that region score highest, among all of the image's boxes, against the sentence?

A sentence naming several regions ("bilateral effusions") counts as grounded when any named box
ranks first; its rank is that of the best-ranked named box. Chance is exact per query (top-1
``named / boxes``, mean rank ``(boxes + 1) / (named + 1)``), and the trivial baseline ranks an
image's boxes by how often their region is named over all queries (reading neither the image nor
the sentence), so a reader can tell learnt grounding from luck and from the region prior.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from cxralign.eval.chance import chance_mean_rank, chance_top1, prior_scores


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
    """``grounding_top1``, ``grounding_mean_rank`` and the number of sentences scored
    (``grounding_queries``)."""
    if not queries:
        return {"grounding_queries": 0.0}
    ranks = np.array([grounding_rank(q) for q in queries], dtype=np.float64)
    return {
        "grounding_top1": float((ranks == 1).mean()),
        "grounding_mean_rank": float(ranks.mean()),
        "grounding_queries": float(len(queries)),
    }


def _named_count(query: GroundingQuery) -> int:
    return sum(region in query.named for region in query.regions)


def grounding_chance(queries: Sequence[GroundingQuery]) -> dict[str, float]:
    """Exact chance ``grounding_top1`` and ``grounding_mean_rank``, averaged over queries."""
    if not queries:
        return {}
    return {
        "grounding_top1": float(np.mean([chance_top1(_named_count(q), len(q.regions))
                                         for q in queries])),
        "grounding_mean_rank": float(np.mean([chance_mean_rank(_named_count(q), len(q.regions))
                                              for q in queries])),
    }


def grounding_prior(queries: Sequence[GroundingQuery]) -> dict[str, float]:
    """The trivial baseline: every image's boxes ranked by how often their region is named
    over all ``queries`` (ties by box order), whatever the image and the sentence."""
    if not queries:
        return {}
    counts = Counter(region for q in queries for region in q.named)
    prior = [replace(q, scores=prior_scores(q.regions, counts)) for q in queries]
    metrics = grounding_metrics(prior)
    return {name: metrics[name] for name in ("grounding_top1", "grounding_mean_rank")}
