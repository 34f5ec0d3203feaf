"""The code location: every asset, resource, job, schedule, sensor and check of cxralign.

Loaded by ``workspace.yaml`` (``dagster dev``) and by ``dagster asset materialize -f``. The data
directory defaults to the project's ``data/`` and can be moved with ``CXRALIGN_DATA_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets import anatomy, ingestion, pairs, text
from assets.resources import CatalogResource
from workflows.checks import ASSET_CHECKS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> str:
    return os.environ.get("CXRALIGN_DATA_DIR", str(PROJECT_ROOT / "data"))


ASSETS = dg.load_assets_from_modules([ingestion, text, anatomy, pairs])

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    resources={"catalog": CatalogResource(data_dir=default_data_dir())},
)
