"""The code location: everything under ``defs/``, found by ``dg`` and by ``workspace.yaml``."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
