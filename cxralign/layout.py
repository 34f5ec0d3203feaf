"""Where everything lives under the data directory: the one module that spells out ``data/``.

Every stage reads and writes below one root (``--data`` on the command line, the catalog
resource in Dagster, ``data/`` in ``dvc.yaml``); this module names each location once, so a
reader finds the whole tree here and a stage never joins path literals of its own::

    data/                                   $CXRALIGN_DATA_DIR or ./data (default_data_dir)
    ├── incoming/<batch>/                   raw batches as delivered (DICOM/PNG/JPEG, reports)
    │   └── ground_truth/                   phantom batches only: what was drawn
    ├── staged/<table>/<partition>.parquet  the catalog's tables (DESIGN.md, Data contracts)
    ├── staged/arrays/<batch>/<generation>/ uint8 pixel shards (shard-00000.npy, ...)
    ├── catalog.duckdb                      one DuckDB view per table over its partitions
    ├── models/anatomy/                     the anatomical region detector
    ├── models/pretrain/<recipe>/seed-<k>/  one pre-training run (model, log, run.json)
    ├── models/generate/<recipe>/seed-<k>/  a report generator on that run's encoder
    ├── reports/evaluation/                 metrics.json, summary.md, plots
    ├── reports/quality/                    Great Expectations data docs
    ├── lineage/<asset>/<partition>/        one JSON lineage record per run of a step
    └── .secrets/deid.key                   the pseudonymisation key: never published

The ``*_DIR`` constants are paths relative to the root (what tables and lineage records store,
always with ``/``); the functions join them onto a given root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Final

DATA_DIR_ENV_VAR: Final = "CXRALIGN_DATA_DIR"
"""Environment variable naming the data directory (the Makefile and Dagster read it too)."""

INCOMING_DIR: Final = PurePosixPath("incoming")
GROUND_TRUTH_DIR: Final = "ground_truth"
"""A phantom batch's answer key, inside its incoming folder."""
STAGED_DIR: Final = PurePosixPath("staged")
ARRAYS_DIR: Final = STAGED_DIR / "arrays"
CATALOG_DATABASE: Final = PurePosixPath("catalog.duckdb")
ANATOMY_MODEL_DIR: Final = PurePosixPath("models") / "anatomy"
PRETRAIN_MODELS_DIR: Final = PurePosixPath("models") / "pretrain"
GENERATOR_MODELS_DIR: Final = PurePosixPath("models") / "generate"
EVALUATION_DIR: Final = PurePosixPath("reports") / "evaluation"
QUALITY_DIR: Final = PurePosixPath("reports") / "quality"
LINEAGE_DIR: Final = PurePosixPath("lineage")
SECRETS_DIR: Final = PurePosixPath(".secrets")

SEED_DIR_PREFIX: Final = "seed-"
_SEED_DIR = re.compile(rf"^{SEED_DIR_PREFIX}(\d+)$")


def default_data_dir(fallback: Path | str = "data") -> Path:
    """``$CXRALIGN_DATA_DIR`` when set (and not empty), else ``fallback``.

    The command line falls back to ``./data`` (relative to where it runs); a long-running
    service such as the Dagster code location passes ``<project>/data`` so that the directory
    does not depend on its working directory.
    """
    return Path(os.environ.get(DATA_DIR_ENV_VAR) or fallback)


def incoming_dir(data: Path | str, batch: str | None = None) -> Path:
    """``<data>/incoming``, or one batch's folder in it."""
    root = Path(data) / INCOMING_DIR
    return root if batch is None else root / batch


def staged_dir(data: Path | str) -> Path:
    """``<data>/staged``: one folder per catalog table."""
    return Path(data) / STAGED_DIR


def arrays_dir(data: Path | str, partition: str) -> Path:
    """``<data>/staged/arrays/<partition>``: the pixel shard generations of one batch."""
    return Path(data) / ARRAYS_DIR / partition


def catalog_database(data: Path | str) -> Path:
    """``<data>/catalog.duckdb``."""
    return Path(data) / CATALOG_DATABASE


def anatomy_model_dir(data: Path | str) -> Path:
    """``<data>/models/anatomy``: the region detector the pipeline trains and uses."""
    return Path(data) / ANATOMY_MODEL_DIR


def pretrain_recipe_dir(data: Path | str, recipe: str) -> Path:
    """``<data>/models/pretrain/<recipe>``: that recipe's runs, one ``seed-<k>`` folder each."""
    return Path(data) / PRETRAIN_MODELS_DIR / recipe


def pretrain_run_dir(data: Path | str, recipe: str, seed: int) -> Path:
    """``<data>/models/pretrain/<recipe>/seed-<k>``: the model directory of one run."""
    return pretrain_recipe_dir(data, recipe) / f"{SEED_DIR_PREFIX}{seed}"


def generator_run_dir(data: Path | str, encoder_dir: Path | str) -> Path:
    """``<data>/models/generate/<recipe>/seed-<k>/``: a report generator, named after the
    pre-trained encoder (``models/pretrain/<recipe>/seed-<k>/``) it reads."""
    encoder = Path(encoder_dir)
    return Path(data) / GENERATOR_MODELS_DIR / encoder.parent.name / encoder.name


def run_seed(directory: Path | str) -> int | None:
    """The seed a ``seed-<k>`` run directory is named after; ``None`` for any other name."""
    match = _SEED_DIR.match(Path(directory).name)
    return int(match.group(1)) if match else None


def evaluation_dir(data: Path | str) -> Path:
    """``<data>/reports/evaluation``: the downstream comparison's default output."""
    return Path(data) / EVALUATION_DIR


def quality_dir(data: Path | str) -> Path:
    """``<data>/reports/quality``: the data-quality docs site."""
    return Path(data) / QUALITY_DIR


def lineage_dir(data: Path | str) -> Path:
    """``<data>/lineage``: lineage records by asset and partition."""
    return Path(data) / LINEAGE_DIR


def secrets_dir(data: Path | str) -> Path:
    """``<data>/.secrets``: files that must never be published (the de-identification key)."""
    return Path(data) / SECRETS_DIR
