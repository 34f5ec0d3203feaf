"""Resources the assets depend on; ``defs/resources.py`` binds concrete values."""

from pathlib import Path

import dagster as dg

from cxralign import layout
from cxralign.io.catalog import Catalog

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def pipeline_data_dir() -> str:
    """``$CXRALIGN_DATA_DIR``, else the project's DVC-tracked ``data/`` (not the working
    directory's, as the CLI uses: a code server's working directory is not the project's)."""
    return str(layout.default_data_dir(PROJECT_ROOT / "data"))


class CatalogResource(dg.ConfigurableResource):
    """Where the pipeline's data lives: ``incoming/`` batches, ``staged/`` tables and arrays,
    and the DuckDB catalog. Tests point it at a temporary directory."""

    data_dir: str

    @property
    def catalog(self) -> Catalog:
        return Catalog(Path(self.data_dir))

    @property
    def incoming_dir(self) -> Path:
        return layout.incoming_dir(self.data_dir)


def against_data_dir(defs: dg.Definitions, data_dir: str) -> dg.Definitions:
    """The same code location bound to another data directory (tests, scratch catalogs)."""
    return dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
        schedules=defs.schedules, sensors=defs.sensors, executor=defs.executor,
        loggers=defs.loggers,
        resources={**(defs.resources or {}), "catalog": CatalogResource(data_dir=data_dir)},
    )
