"""Fixtures of the anatomy tests: a tiny phantom batch and a tiny detector trained on it
once per session (64 px, 30 steps: enough to move the loss, fast on two cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.sources import phantom_source
from cxralign.anatomy.train import TrainReport, train_detector
from cxralign.synthetic import synthesize

TINY = AnatomySettings(backbone="resnet10t", input_size=64, batch_size=8, epochs=15,
                       synthetic_studies=0, workers=1, learning_rate=3e-3)
"""16 phantoms / batch 8 = 2 steps per epoch: 30 steps."""


@pytest.fixture(scope="session")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phantoms")
    synthesize(out, studies=16, seed=3, workers=1)
    return out


@pytest.fixture(scope="session")
def tiny_model(phantoms: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainReport]:
    model_dir = tmp_path_factory.mktemp("model")
    report = train_detector([phantom_source(phantoms)], model_dir, TINY)
    return model_dir, report
