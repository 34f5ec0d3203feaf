"""Per-finding ROC AUC with ignored entries, shared by zero-shot classification and probing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.classification import BinaryAUROC

from cxralign.eval.labels import IGNORE


def auc_per_finding(
    scores: np.ndarray | torch.Tensor, labels: np.ndarray, findings: Sequence[str]
) -> dict[str, float]:
    """AUC of each column of ``scores`` against ``labels`` (1/0, :data:`IGNORE` skipped).

    A finding without both a positive and a negative (non-ignored) row has no AUC and is left
    out of the result rather than reported as 0.5.
    """
    scores_t = torch.as_tensor(np.asarray(scores), dtype=torch.float32)
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    result: dict[str, float] = {}
    for column, finding in enumerate(findings):
        column_labels = labels_t[:, column]
        kept = column_labels != IGNORE
        if not (column_labels[kept] == 1).any() or not (column_labels[kept] == 0).any():
            continue
        metric = BinaryAUROC(ignore_index=IGNORE)
        result[finding] = float(metric(scores_t[:, column], column_labels))
    return result


def macro(values: dict[str, float]) -> float:
    """Unweighted mean over findings (NaN when there is none)."""
    return float(np.mean(list(values.values()))) if values else math.nan


def findings_counted(metric: str) -> str:
    """Key of how many findings the macro AUC ``metric`` averaged (``probe_auc_100`` ->
    ``probe_n_findings_100``; unchanged for a metric that is no AUC): a count, so its name must
    not read as a rate to the quality checks (``cxralign.quality.views.is_rate``)."""
    return metric.replace("auc", "n_findings", 1)
