"""``benchmarks/zero_shot_diagnosis.py``: the labelled report prototypes that stand in for the
prompts (a known answer on a constructed case)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from cxralign.eval.zero_shot import zero_shot_scores

_spec = importlib.util.spec_from_file_location(
    "zero_shot_diagnosis", Path(__file__).parents[2] / "benchmarks" / "zero_shot_diagnosis.py")
zero_shot_diagnosis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zero_shot_diagnosis)


def test_prototypes_are_the_mean_reports_with_and_without_each_finding():
    reports = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    present, absent = zero_shot_diagnosis._prototypes(reports, labels)
    torch.testing.assert_close(present[0], torch.tensor([1.0, 0.5]))
    torch.testing.assert_close(absent[0], torch.tensor([0.0, 0.5]))
    torch.testing.assert_close(present[1], torch.zeros(2))  # no report states finding 1
    torch.testing.assert_close(absent[1], reports.mean(dim=0))
    images = torch.tensor([[1.0, 0.2], [-1.0, 0.2]])
    scores = zero_shot_scores(images, present, absent)
    assert scores[0, 0] > 0 > scores[1, 0]
