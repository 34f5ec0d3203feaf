"""A user's mistakes, run as a user runs them (a real ``cxralign`` process): each is one line on
stderr naming the problem and the fix, exit status 2, and no traceback unless ``--debug``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "cxralign"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False,
                          timeout=300, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess[str], *wanted: str) -> str:
    """The single stderr line of a usage error, after checking status, shape and content."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in wanted:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog holding one ingested phantom partition (``default``) and nothing after it."""
    root = tmp_path_factory.mktemp("ingested")
    batch, data = root / "batch", root / "data"
    for argv in (["synthesize", "--studies", "2", "--workers", "1", "--out", str(batch)],
                 ["ingest", str(batch), "--out", str(data), "--workers", "1",
                  "--image-size", "64"]):
        done = run_cli(*argv)
        assert done.returncode == 0, done.stderr
    return data


def test_ingest_of_a_missing_input(tmp_path: Path):
    result = run_cli("ingest", "/does/not/exist", "--out", str(tmp_path / "X"))
    one_line_error(result, "/does/not/exist does not exist", ".csv manifest")
    assert not (tmp_path / "X").exists()


def test_ingest_of_a_file_that_is_not_a_csv_manifest(tmp_path: Path, shared_data: Path):
    image = shared_data / "png" / "00000001_000.png"
    result = run_cli("ingest", str(image), "--out", str(tmp_path / "X"))
    one_line_error(result, "is a file but not a .csv manifest", "folder holding it")


def test_ingest_of_a_manifest_without_its_columns(tmp_path: Path):
    manifest = tmp_path / "batch.csv"
    manifest.write_text("foo,bar\n1,2\n", encoding="utf-8")
    result = run_cli("ingest", str(manifest), "--out", str(tmp_path / "data"))
    one_line_error(result, "lacks required column(s) ['image_path', 'study_id']",
                   "study_id, image_path and report_path or report_text")


def test_detect_with_a_missing_model(tmp_path: Path):
    result = run_cli("anatomy", "detect", str(tmp_path), "--model", "/missing",
                     "--out", str(tmp_path / "b.parquet"))
    one_line_error(result, "model directory /missing does not exist", "cxralign anatomy train",
                   "leave out --model")


def test_detect_with_a_folder_that_is_not_a_model(tmp_path: Path):
    result = run_cli("anatomy", "detect", str(tmp_path), "--model", str(tmp_path),
                     "--out", str(tmp_path / "b.parquet"))
    one_line_error(result, "has no config.json")


def test_synthesize_zero_studies(tmp_path: Path):
    result = run_cli("synthesize", "--studies", "0", "--out", str(tmp_path / "s"))
    one_line_error(result, "--studies", "greater than or equal to 1", "got 0")


def test_debug_shows_the_traceback(tmp_path: Path):
    result = run_cli("--debug", "synthesize", "--studies", "0", "--out", str(tmp_path / "s"))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "UsageError" in result.stderr


def test_unknown_partition_lists_the_ingested_ones(ingested: Path):
    result = run_cli("pairs", "--data", str(ingested), "--partition", "nope")
    one_line_error(result, "unknown partition 'nope'", "ingested: default")


def test_triplets_straight_after_ingest_names_the_command_to_run_first(ingested: Path):
    result = run_cli("triplets", "--data", str(ingested), "--partition", "default")
    one_line_error(result, f"run `cxralign sections --data {ingested} --partition default` first")


def test_pairs_straight_after_ingest_names_the_first_missing_step(ingested: Path):
    result = run_cli("pairs", "--data", str(ingested))
    one_line_error(result, "no sections table", "cxralign sections --data")


def test_pretrain_on_an_unfinished_catalog(ingested: Path, tmp_path: Path):
    result = run_cli("pretrain", "--data", str(ingested), "--out", str(tmp_path / "m"))
    one_line_error(result, "no pairs table", "cxralign pairs --data")


def test_catalog_command_on_an_empty_directory(tmp_path: Path):
    result = run_cli("anatomy", "boxes", "--data", str(tmp_path), "--partition", "b1")
    one_line_error(result, "holds no ingested images", "cxralign ingest INPUT --out")


def test_invalid_partition_name(tmp_path: Path):
    result = run_cli("ingest", str(tmp_path), "--out", str(tmp_path / "d"), "--partition", "a/b")
    one_line_error(result, "invalid partition name 'a/b'")


@pytest.mark.parametrize(("argv", "named"), [
    (["pretrain", "--steps", "-1", "--out", "m"], "--steps"),
    (["anatomy", "boxes", "--partition", "default", "--min-score", "-1"], "--min-score"),
    (["evaluate", "--out", "o", "--probe-fractions", "0"], "--probe-fractions"),
])
def test_out_of_range_numbers_name_their_flag(argv: list[str], named: str, ingested: Path):
    one_line_error(run_cli(*argv, "--data", str(ingested)), named, "(got ")


def test_ingest_settings_out_of_range(tmp_path: Path):
    result = run_cli("ingest", str(tmp_path), "--out", str(tmp_path / "d"), "--image-size", "4")
    one_line_error(result, "staged_size must be at least 16")


def test_text_input_of_the_wrong_kind(tmp_path: Path):
    text = tmp_path / "reports.txt"
    text.write_text("FINDINGS: clear.\n")
    result = run_cli("sections", str(text), "--out", str(tmp_path / "s.parquet"))
    one_line_error(result, "is a file but not a .csv")


def test_audit_without_a_record_says_who_writes_lineage(tmp_path: Path):
    result = run_cli("audit", "pairs", "--data", str(tmp_path))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "written by Dagster runs and by `cxralign pretrain`" in result.stderr
