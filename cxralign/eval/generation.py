"""Report generation by retrieval: each held-out image gets the training report whose text
embedding is most similar to the image embedding, scored against the image's own report with
BLEU-1..4 (corpus level) and ROUGE-L F-measure (torchmetrics).

ROUGE-L alone needs no NLTK (only ``rougeLsum``'s sentence splitting and the stemmer do), so
it runs offline; texts are lower-cased and split on whitespace for BLEU, and ROUGE's default
normaliser (lower-case, alphanumeric tokens) applies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.text import BLEUScore
from torchmetrics.text.rouge import ROUGEScore

from cxralign.eval.retrieval import cosine_similarity_matrix


def nearest_reports(image_embeddings: torch.Tensor, report_embeddings: torch.Tensor) -> list[int]:
    """Index of the most similar report (cosine) for each image."""
    return cosine_similarity_matrix(image_embeddings, report_embeddings).argmax(dim=1).tolist()


def generation_metrics(
    predictions: Sequence[str], references: Sequence[str], max_n: int = 4
) -> dict[str, float]:
    """``BLEU-1`` … ``BLEU-max_n`` and ``ROUGE-L`` of predicted vs reference reports."""
    if len(predictions) != len(references):
        raise ValueError("one reference per prediction")
    if not predictions:
        return {}
    preds = [p.lower() for p in predictions]
    refs = [[r.lower()] for r in references]
    scores = {f"BLEU-{n}": float(BLEUScore(n_gram=n)(preds, refs)) for n in range(1, max_n + 1)}
    rouge = ROUGEScore(rouge_keys=("rougeL",))(preds, [r[0] for r in refs])
    scores["ROUGE-L"] = float(rouge["rougeL_fmeasure"])
    return scores


def generation_references(
    train_reports: Sequence[str], references: Sequence[str], seed: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Chance (a random training report for each image, drawn with ``seed``) and trivial
    baseline (the most common training report for every image) scores of ``references``."""
    if not train_reports or not references:
        return {}, {}
    drawn = np.random.default_rng(seed).integers(len(train_reports), size=len(references))
    common = Counter(train_reports).most_common(1)[0][0]
    return (generation_metrics([train_reports[i] for i in drawn], references),
            generation_metrics([common] * len(references), references))
