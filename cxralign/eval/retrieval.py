"""Cross-modal retrieval: Recall@k of image → report and report → image on held-out studies.

A study may hold several images (PA and lateral) and has one report, so relevance is by study:
an image query is answered correctly when its study's report is in the top k, a report query
when any image of its study is. That is torchmetrics' hit rate (``RetrievalHitRate``), which
equals recall when each query has exactly one relevant item (image → report).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F
from torchmetrics.retrieval import RetrievalHitRate


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


def retrieval_metrics(
    image_embeddings: torch.Tensor,
    image_studies: Sequence[str],
    report_embeddings: torch.Tensor,
    report_studies: Sequence[str],
    ks: Sequence[int] = (1, 5, 10),
    report_texts: Sequence[str] | None = None,
) -> dict[str, float]:
    """``i2t_R@k`` (each image against all reports) and ``t2i_R@k`` (each report against all
    images), relevance by study id. With ``report_texts`` (aligned with ``report_studies``), a
    report whose text equals the study's own is relevant too: templated reports repeat
    ("Normal chest radiograph."), and no embedding can tell identical texts apart."""
    similarity = cosine_similarity_matrix(image_embeddings, report_embeddings)
    study_of_report = {study: column for column, study in enumerate(report_studies)}
    if len(study_of_report) != len(report_studies):
        raise ValueError("report_studies must be unique (one report per study)")
    if report_texts is not None and len(report_texts) != len(report_studies):
        raise ValueError("report_texts must align with report_studies")
    same_text = _same_text(report_texts if report_texts is not None else report_studies)
    relevant = torch.zeros_like(similarity, dtype=torch.bool)
    for row, study in enumerate(image_studies):
        relevant[row] = same_text[study_of_report[study]]
    image_to_text = hit_rate_at_k(similarity, relevant, ks)
    text_to_image = hit_rate_at_k(similarity.T, relevant.T, ks)
    return {
        **{f"i2t_R@{k}": value for k, value in image_to_text.items()},
        **{f"t2i_R@{k}": value for k, value in text_to_image.items()},
    }


def _same_text(texts: Sequence[str]) -> torch.Tensor:
    """``(N, N)`` bool: report ``i`` and report ``j`` have the same text."""
    codes = {text: code for code, text in enumerate(dict.fromkeys(texts))}
    ids = torch.tensor([codes[text] for text in texts])
    return ids[:, None] == ids[None, :]
