"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxralign.io.secret_key import KEY_ENV_VAR

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: runs a real pipeline end to end (seconds to a minute); part of "
        "`make test`, deselect with -m 'not slow' for a quick loop",
    )


# The only constant de-identification key: tests (and the subprocesses they start) run with it,
# so pseudonyms and patient splits are the same on every machine. Outside the tests there is no
# built-in key (cxralign.io.secret_key). Tests of the key file unset it.
TEST_DEID_KEY = "cxralign-development-key-not-for-real-data"


@pytest.fixture(scope="session", autouse=True)
def _test_deid_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV_VAR, TEST_DEID_KEY)
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public test data (``../shared/data`` beside the repository root)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (see shared/data/SOURCES.md)")
    return SHARED_DATA


@pytest.fixture
def calibrator_indexing_nothing(tmp_path: Path) -> Path:
    """A calibrator JSON whose model indexes no finding and has no support guard: with it,
    every positive finding is dropped from the report findings (``--calibrator`` tests)."""
    from cxralign.text.calibration import FEATURES, Calibrator

    path = tmp_path / "indexes-nothing.json"
    nothing = Calibrator(FEATURES, (0.0,) * len(FEATURES), -50.0, 0.5, {}, 0, {})
    path.write_text(nothing.to_json(), encoding="utf-8")
    return path


@pytest.fixture
def materialize_pipeline():
    """``materialize_pipeline(data_dir, selection, ops_config, partition=None, instance=None)``:
    run the real code location's assets and checks (a list of asset keys) against a temporary
    data directory, in process, without raising on failure so tests can inspect what ran.
    Batch-partitioned assets need ``partition`` (a ``batches`` key, registered here first)."""
    import dagster as dg

    from cxralign_pipeline.definitions import defs as location
    from cxralign_pipeline.defs.resources import local_resources
    from cxralign_pipeline.lib.partitions import BATCHES

    def run(data_dir: Path, selection: list[str], ops_config: dict, partition: str | None = None,
            instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
        instance = instance or dg.DagsterInstance.ephemeral()
        if partition is not None and not instance.has_dynamic_partition(BATCHES.name, partition):
            instance.add_dynamic_partitions(BATCHES.name, [partition])
        return dg.materialize(
            [*location.assets, *location.asset_checks],
            selection=selection,
            resources=local_resources(str(data_dir)),
            run_config={"ops": {op: {"config": config} for op, config in ops_config.items()}},
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
        )

    return run
