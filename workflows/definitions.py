"""The code location: every asset, resource, job, schedule, sensor and check of cxralign.

Loaded by ``workspace.yaml`` (``dagster dev``) and by ``dagster asset materialize -f``. The data
directory defaults to the project's ``data/`` and can be moved with ``CXRALIGN_DATA_DIR``.
"""

import os
from pathlib import Path

import dagster as dg

from assets import anatomy, evaluation, ingestion, pairs, text, training
from assets.resources import CatalogResource
from workflows.checks import ASSET_CHECKS
from workflows.jobs import JOBS
from workflows.schedules import retrain_schedule
from workflows.sensors import incoming_batch_sensor

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> str:
    return os.environ.get("CXRALIGN_DATA_DIR", str(PROJECT_ROOT / "data"))


ASSETS = dg.load_assets_from_modules([ingestion, text, anatomy, pairs, training, evaluation])


def build_definitions(data_dir: str) -> dg.Definitions:
    """The whole code location against one data directory (tests pass a temporary one)."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=ASSET_CHECKS,
        jobs=JOBS,
        sensors=[incoming_batch_sensor],
        schedules=[retrain_schedule],
        resources={"catalog": CatalogResource(data_dir=data_dir)},
    )


defs = build_definitions(default_data_dir())
