"""The ``cxralign`` console script, run as a user runs it: a real process on real files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog

CLI = [sys.executable, "-m", "cxralign"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, timeout=300,
                          env=env)


@pytest.mark.parametrize("command", [[], ["synthesize"], ["ingest"]])
def test_every_command_has_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: cxralign" in result.stdout


def test_missing_arguments_are_a_usage_error():
    result = run_cli("ingest")
    assert result.returncode == 2
    assert "--out" in result.stderr


def test_synthesize_then_ingest_round_trip(tmp_path: Path):
    batch = tmp_path / "batch"
    every_item = {**os.environ, "CXRALIGN_PROGRESS_SECONDS": "0"}
    synthesized = run_cli("synthesize", "--studies", "4", "--seed", "1", "--workers", "1",
                          "--out", str(batch), env=every_item)
    assert synthesized.returncode == 0, synthesized.stderr
    assert "wrote 4 studies" in synthesized.stdout
    # Progress is readable lines on stderr: rate and ETA while running, the time taken at the end.
    progress = [line for line in synthesized.stderr.splitlines() if line.startswith("synthesis")]
    assert len(progress) == 4, synthesized.stderr
    assert all(re.fullmatch(r"synthesis \(studies\): [123]/4 \([\d.]+/s, ETA \d\d:\d\d\)", line)
               for line in progress[:3]), progress
    assert re.fullmatch(r"synthesis \(studies\): 4/4 \([\d.]+/s, took \d\d:\d\d\)", progress[3])
    assert len(list(batch.glob("files/p*/p*/s*/*.dcm"))) == 4

    data = tmp_path / "data"
    ingested = run_cli("ingest", str(batch), "--out", str(data), "--workers", "1", "--image-size", "64")
    assert ingested.returncode == 0, ingested.stderr
    assert "ingested 4 images from 4 studies" in ingested.stdout
    assert "rejected 0 inputs" in ingested.stdout
    assert re.search(r"^staging image files: 4/4 \([\d.]+/s, took \d\d:\d\d\)$", ingested.stderr,
                     re.MULTILINE), ingested.stderr
    assert Catalog(data).query("SELECT count(*) AS n FROM images").to_pylist() == [{"n": 4}]


@pytest.mark.parametrize(
    "argv",
    [["pretrain", "--recipe", "asg", "--out", "model"], ["evaluate", "--out", "report"],
     ["audit", "pairs"], ["pairs"], ["anatomy", "boxes", "--partition", "batch"]],
)
def test_catalog_commands_default_to_the_data_directory_of_the_environment(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from cxralign.cli import build_parser
    from cxralign.layout import DATA_DIR_ENV_VAR

    monkeypatch.setenv(DATA_DIR_ENV_VAR, str(tmp_path))
    assert build_parser().parse_args(argv).data == tmp_path
    monkeypatch.delenv(DATA_DIR_ENV_VAR)
    assert build_parser().parse_args(argv).data == Path("data")
