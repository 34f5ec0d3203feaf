"""What a ranking that knows nothing scores: the exact chance level of hit-rate@k retrieval and
of top-1 / mean-rank grounding, so every reported number can be read against it.

Retrieval chance is not ``k / n``: a query whose candidates hold ``m`` relevant items (identical
report texts, or reports stating the same finding set) is hit by a uniformly random ranking with
probability ``1 - C(n - m, k) / C(n, k)`` (the hypergeometric probability that the top ``k``
miss all ``m``), averaged over queries. With templated phantom reports ``m`` is often large, so
``k / n`` would badly understate chance and flatter every model.

The trivial baselines rank by a prior instead of at random (:func:`prior_scores`): candidates
ordered by how common their key (finding set, region) is, which a model reading neither input
could still do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from scipy.stats import hypergeom


def chance_hit_rate_at_k(relevant: np.ndarray | torch.Tensor,
                         ks: Sequence[int]) -> dict[int, float]:
    """Expected hit rate@k of a uniformly random ranking of each query's (row's) candidates
    (columns); a query with no relevant candidate contributes 0, as it does to the metric."""
    matrix = np.asarray(relevant, dtype=bool)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError("relevant must be a (queries, candidates) matrix with candidates")
    candidates = matrix.shape[1]
    relevant_counts = matrix.sum(axis=1)
    return {k: float(np.mean(1.0 - hypergeom.pmf(0, candidates, relevant_counts,
                                                 min(k, candidates))))
            for k in ks}


def chance_top1(named: int, boxes: int) -> float:
    """Probability that a random ordering of ``boxes`` puts one of ``named`` first."""
    return named / boxes


def chance_mean_rank(named: int, boxes: int) -> float:
    """Expected 1-based rank of the best of ``named`` boxes among ``boxes`` randomly ordered
    ones: ``(boxes + 1) / (named + 1)`` (the first of ``named`` uniform draws without
    replacement)."""
    return (boxes + 1) / (named + 1)


def prior_scores(keys: Sequence[Hashable], counts: Mapping[Hashable, int] | None = None
                 ) -> torch.Tensor:
    """``(len(keys),)`` scores ranking items by ``counts`` of their key (default: how often it
    occurs in ``keys``), ties broken by position so the ranking is deterministic and tie-free."""
    counts = Counter(keys) if counts is None else counts
    size = len(keys)
    return torch.tensor([counts.get(key, 0) - position / (size + 1)
                         for position, key in enumerate(keys)], dtype=torch.float64)
