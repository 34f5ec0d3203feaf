"""Builders of small real input trees (MIMIC, OpenI, CSV) from the shared DICOM/PNG files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog
from cxralign.io.ingest import IngestSettings, IngestSummary, ingest

REPORT = "FINDINGS: Patient CompressedSamples^RG1 (ID 9RG1). Heart size normal. No effusion.\n"


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXRALIGN_DEID_KEY", "test-key")


@pytest.fixture
def mimic_tree(tmp_path: Path, shared_data: Path) -> Path:
    """Three MIMIC-layout studies: RG1 (uncompressed), RG1 (J2K) + SIIM, RG3 + a truncated RG1."""
    dicom = shared_data / "dicom"
    root = tmp_path / "incoming"
    layout = {
        "p10/p10000032/s50414267": ["RG1_UNCR.dcm"],
        "p10/p10000032/s50414268": ["RG1_J2KR.dcm", "siim_pneumothorax_sample.dcm"],
        "p11/p11000011/s51111111": ["RG3_UNCR.dcm"],
    }
    for study, files in layout.items():
        directory = root / "files" / study
        directory.mkdir(parents=True)
        for name in files:
            shutil.copy(dicom / name, directory / name)
        (directory.parent / f"{directory.name}.txt").write_text(REPORT, encoding="utf-8")
    corrupt = root / "files/p11/p11000011/s51111111/cut_short.dcm"
    corrupt.write_bytes((dicom / "RG1_UNCR.dcm").read_bytes()[:2000])
    return root


Runner = Callable[..., tuple[Catalog, IngestSummary]]


@pytest.fixture
def run_ingest() -> Runner:
    """``run_ingest(source, out_dir, **settings) -> (catalog, summary)``."""

    def run(source: Path, out: Path, partition: str = "default", **settings: object):
        catalog = Catalog(out)
        return catalog, ingest(source, catalog, IngestSettings(**settings), partition)

    return run
