"""Fixtures shared by the text-stage tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def iu_subset(shared_data: Path, tmp_path: Path) -> Callable[[int], Path]:
    """A function: the first ``count`` IU reports, copied into a directory of their own."""

    def subset(count: int) -> Path:
        directory = tmp_path / f"iu{count}"
        directory.mkdir()
        for path in sorted((shared_data / "iu_xray_reports").glob("*.xml"))[:count]:
            shutil.copy(path, directory / path.name)
        return directory

    return subset
