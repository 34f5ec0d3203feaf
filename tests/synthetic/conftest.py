"""One small synthetic dataset, generated once per session and shared by the synthetic tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cxralign.synthetic import SynthesisSummary, synthesize

STUDIES = 40


@dataclass(frozen=True)
class Dataset:
    summary: SynthesisSummary
    root: Path
    regions: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    sentences: list[dict[str, Any]]
    studies: list[dict[str, Any]]

    def boxes(self, image_key: str) -> dict[str, tuple[float, float, float, float]]:
        return {
            row["region"]: (row["x1"], row["y1"], row["x2"], row["y2"])
            for row in self.regions if row["image_key"] == image_key
        }

    def report(self, study_key: str) -> str:
        row = next(row for row in self.studies if row["study_key"] == study_key)
        return (self.root / row["report_path"]).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("synthetic")
    summary = synthesize(root, STUDIES, seed=0, workers=2)
    tables = {
        name: pq.read_table(root / "ground_truth" / f"{name}.parquet").to_pylist()
        for name in ("regions", "findings", "sentences", "studies")
    }
    return Dataset(summary=summary, root=root, **tables)
