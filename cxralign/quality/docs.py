"""Data Docs: every validation result kept on disk and rendered as great-expectations' static
HTML site, so a person can open what a check saw long after the run.

The GX context is ephemeral except for two file-backed parts: the validation-results store
(``<data>/reports/quality/validations/``, one JSON file per result) and the Data Docs site
(``<data>/reports/quality/data_docs/index.html``). Data sources, suites and validation
definitions stay in memory, so parallel checks never rewrite a shared ``great_expectations.yml``;
the site's index, which every check rebuilds, is written under a file lock. After each build the
site is made self-contained (``cxralign.quality.offline``): a static index and no CDN asset, so
it opens without a network.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from cxralign.layout import quality_dir
from cxralign.quality.offline import make_self_contained, markdown_table, validation_rows

SITE_NAME = "cxralign_quality"


def context_config() -> DataContextConfig:
    """An in-memory context without analytics (offline, private data) or progress bars (they
    would flood the Dagster logs)."""
    return DataContextConfig(
        analytics_enabled=False,
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
    )


@dataclass(frozen=True)
class DataDocsSite:
    """Where validation results and their HTML site live (``root``), and how many of the latest
    results the index page lists (``index_limit``: bounds the cost of rebuilding it)."""

    root: Path
    index_limit: int = 200

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> DataDocsSite:
        """The site of a data directory: ``<data>/reports/quality/``."""
        return cls(quality_dir(data_dir))

    @property
    def results_dir(self) -> Path:
        return self.root / "validations"

    @property
    def site_dir(self) -> Path:
        return self.root / "data_docs"

    @property
    def index(self) -> Path:
        return self.site_dir / "index.html"

    def context(self) -> AbstractDataContext:
        """An ephemeral GX context whose validation results and Data Docs are on disk."""
        config = context_config()
        config.stores[config.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(self.results_dir),
            },
        }
        config.data_docs_sites = {
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(self.site_dir),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": self.index_limit,
                },
            }
        }
        return gx.get_context(mode="ephemeral", project_config=config)

    def make_self_contained(self) -> Path:
        """Rewrite the built site to open offline (static index, no CDN asset); call it under
        :meth:`locked` after a build. Returns the index page."""
        return make_self_contained(self.results_dir, self.site_dir, self.index_limit)

    def markdown_summary(self, limit: int = 20) -> str:
        """The newest ``limit`` validations as a Markdown table, for metadata shown inline."""
        return markdown_table(validation_rows(self.results_dir, limit))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the site's lock: checks of parallel steps take turns writing the index."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
