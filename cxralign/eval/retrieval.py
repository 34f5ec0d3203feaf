"""Cross-modal retrieval: Recall@k of image → report and report → image on held-out studies,
under two definitions of a correct answer, each with its chance level and a trivial baseline.

* ``study``: the retrieved report is the image's own study's report, or one with identical text
  (templated reports repeat, "Normal chest radiograph.", and no embedding can tell identical
  texts apart). A report query is answered by any image of such a study.
* ``findings``: the retrieved report states the same set of present findings as the image's own
  report (parser labels, present only; the empty set, a report stating no finding, is a set like
  any other). Its chance level is far higher than the study one.

A study may hold several images and has one report, so this is torchmetrics' hit rate
(``RetrievalHitRate``). Chance (:mod:`cxralign.eval.chance`) is exact for each query's number of
relevant candidates. The trivial baseline ignores the query altogether: every query gets the
candidates ordered by how common their finding set is among the candidates (ties by position),
the best a model that reads neither the image nor the report could do.

Metric keys: ``retrieval_{i2t|t2i}_r{k}_{study|findings}``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torchmetrics.retrieval import RetrievalHitRate

from cxralign.eval.chance import chance_hit_rate_at_k, prior_scores

KINDS = ("study", "findings")


def metric_name(direction: str, k: int, kind: str) -> str:
    """``retrieval_i2t_r1_study`` style key."""
    return f"retrieval_{direction}_r{k}_{kind}"


def cosine_similarity_matrix(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``(Q, C)`` cosine similarities of two embedding sets (rows L2-normalised first)."""
    return F.normalize(queries.float(), dim=-1) @ F.normalize(candidates.float(), dim=-1).T


def hit_rate_at_k(
    similarity: torch.Tensor, relevant: torch.Tensor, ks: Sequence[int]
) -> dict[int, float]:
    """Share of queries (rows) with a relevant candidate (column) among their top ``k``."""
    if similarity.shape != relevant.shape or similarity.ndim != 2:
        raise ValueError("similarity and relevant must be (queries, candidates) of equal shape")
    queries, candidates = similarity.shape
    indexes = torch.arange(queries).unsqueeze(1).expand(queries, candidates).reshape(-1)
    preds, target = similarity.reshape(-1).float(), relevant.reshape(-1).bool()
    return {
        k: float(RetrievalHitRate(top_k=k)(preds, target, indexes=indexes)) for k in ks
    }


def relevance(query_keys: Sequence[Hashable], candidate_keys: Sequence[Hashable]) -> torch.Tensor:
    """``(Q, C)`` bool: query ``i`` and candidate ``j`` have equal keys."""
    codes = {key: code for code, key in enumerate(dict.fromkeys([*query_keys, *candidate_keys]))}
    queries = torch.tensor([codes[key] for key in query_keys], dtype=torch.long)
    candidates = torch.tensor([codes[key] for key in candidate_keys], dtype=torch.long)
    return queries[:, None] == candidates[None, :]


@dataclass(frozen=True)
class RetrievalKeys:
    """Per held-out image and per report (one per study): the key a correct answer shares."""

    images: Sequence[Hashable]
    reports: Sequence[Hashable]

    @property
    def relevant(self) -> torch.Tensor:
        """``(images, reports)`` bool relevance."""
        return relevance(self.images, self.reports)


@dataclass(frozen=True)
class RetrievalResult:
    """Model recall, the chance level and the trivial baseline, each keyed by metric name."""

    metrics: dict[str, float]
    chance: dict[str, float]
    trivial: dict[str, float]


def _named(kind: str, i2t: Mapping[int, float], t2i: Mapping[int, float]) -> dict[str, float]:
    return {**{metric_name("i2t", k, kind): v for k, v in i2t.items()},
            **{metric_name("t2i", k, kind): v for k, v in t2i.items()}}


def retrieval_metrics(
    image_embeddings: torch.Tensor, report_embeddings: torch.Tensor,
    keys: Mapping[str, RetrievalKeys], prior: RetrievalKeys, ks: Sequence[int] = (1, 5, 10),
) -> RetrievalResult:
    """Recall@k both ways for each relevance kind in ``keys`` (``study``, ``findings``), with
    chance and the trivial baseline that ranks candidates by the frequency of their ``prior``
    key (the finding set)."""
    if len(image_embeddings) != len(prior.images) or len(report_embeddings) != len(prior.reports):
        raise ValueError("one prior key per image and per report")
    similarity = cosine_similarity_matrix(image_embeddings, report_embeddings)
    report_prior = prior_scores(prior.reports).expand(len(prior.images), -1)
    image_prior = prior_scores(prior.images).expand(len(prior.reports), -1)
    result = RetrievalResult({}, {}, {})
    for kind, kind_keys in keys.items():
        relevant = kind_keys.relevant
        result.metrics.update(_named(kind, hit_rate_at_k(similarity, relevant, ks),
                                     hit_rate_at_k(similarity.T, relevant.T, ks)))
        result.chance.update(_named(kind, chance_hit_rate_at_k(relevant, ks),
                                    chance_hit_rate_at_k(relevant.T, ks)))
        result.trivial.update(_named(kind, hit_rate_at_k(report_prior, relevant, ks),
                                     hit_rate_at_k(image_prior, relevant.T, ks)))
    return result
