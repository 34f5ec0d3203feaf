"""Resources the assets depend on. ``workflows/definitions.py`` binds concrete values."""

from pathlib import Path

import dagster as dg

from cxralign.io.catalog import Catalog


class CatalogResource(dg.ConfigurableResource):
    """Where the pipeline's data lives: ``incoming/`` batches, ``staged/`` tables and arrays,
    and the DuckDB catalog. Tests point it at a temporary directory."""

    data_dir: str

    @property
    def catalog(self) -> Catalog:
        return Catalog(Path(self.data_dir))

    @property
    def incoming_dir(self) -> Path:
        return Path(self.data_dir) / "incoming"
