"""The data layout module: one name per location under ``data/``, and the library uses it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cxralign import layout
from cxralign.io.catalog import Catalog
from cxralign.io.secret_key import key_path
from cxralign.io.staging import generation_dir, shard_path
from cxralign.lineage.records import record_dir
from cxralign.quality.docs import DataDocsSite

REPO = Path(__file__).resolve().parents[1]


def test_default_data_dir_reads_the_variable_then_falls_back(monkeypatch, tmp_path: Path):
    monkeypatch.delenv(layout.DATA_DIR_ENV_VAR, raising=False)
    assert layout.default_data_dir() == Path("data")
    assert layout.default_data_dir(tmp_path / "project" / "data") == tmp_path / "project" / "data"
    monkeypatch.setenv(layout.DATA_DIR_ENV_VAR, "")  # set but empty: not a directory name
    assert layout.default_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv(layout.DATA_DIR_ENV_VAR, str(tmp_path / "elsewhere"))
    assert layout.default_data_dir() == tmp_path / "elsewhere"
    assert layout.default_data_dir(tmp_path) == tmp_path / "elsewhere"


def test_every_location_of_the_documented_tree(tmp_path: Path):
    data = tmp_path / "data"
    expected = {
        layout.incoming_dir(data, "batch-1"): "incoming/batch-1",
        layout.staged_dir(data): "staged",
        layout.arrays_dir(data, "batch-1"): "staged/arrays/batch-1",
        layout.catalog_database(data): "catalog.duckdb",
        layout.anatomy_model_dir(data): "models/anatomy",
        layout.pretrain_run_dir(data, "asg", 2): "models/pretrain/asg/seed-2",
        layout.generator_run_dir(data, layout.pretrain_run_dir(data, "asg", 2)):
            "models/generate/asg/seed-2",
        layout.evaluation_dir(data): "reports/evaluation",
        layout.quality_dir(data): "reports/quality",
        layout.lineage_dir(data): "lineage",
        layout.secrets_dir(data): ".secrets",
    }
    assert {path.relative_to(data).as_posix(): text for path, text in expected.items()} == {
        text: text for text in expected.values()}
    # The module docstring draws the same tree a reader is pointed to.
    for text in expected.values():
        top = text.split("/")[0]
        assert re.search(rf"── {re.escape(top)}\b", layout.__doc__ or ""), top


def test_a_run_directory_names_its_seed_and_nothing_else_does():
    assert layout.run_seed(layout.pretrain_run_dir("data", "convirt", 17)) == 17
    for name in ("seed-", "seed-x", "myseed-3", "seed-3.tmp", "asg"):
        assert layout.run_seed(Path("data") / name) is None, name


def test_the_stages_write_where_the_layout_says(tmp_path: Path):
    data = tmp_path / "data"
    catalog = Catalog(data)
    assert catalog.database_path == layout.catalog_database(data)
    assert catalog.partition_path("images", "b").parent.parent == layout.staged_dir(data)
    assert data / shard_path("b", "g1", 0) == generation_dir(data, "b", "g1") / "shard-00000.npy"
    assert generation_dir(data, "b", "g1").parent == layout.arrays_dir(data, "b")
    assert key_path(data).parent == layout.secrets_dir(data)
    assert record_dir(data, "pairs", "b").parents[1] == layout.lineage_dir(data)
    assert DataDocsSite.for_data_dir(data).root == layout.quality_dir(data)


LOCATION_NAMES = {"incoming", "staged", "arrays", "catalog.duckdb", "models", "anatomy/",
                  "pretrain/", "lineage", ".secrets", "ground_truth", "seed-"}


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_other_library_module_spells_a_data_location():
    """The layout is named once: a string that is exactly a data/ location name (what code
    joins into a path) anywhere else in the library fails; prose that mentions one is fine."""
    spelled = {
        path.relative_to(REPO).as_posix(): sorted(_string_constants(path) & LOCATION_NAMES)
        for path in sorted((REPO / "cxralign").rglob("*.py")) if path.name != "layout.py"
    }
    assert {name: found for name, found in spelled.items() if found} == {}
