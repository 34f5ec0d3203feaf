"""The de-identification key file: created once, 0600 whatever the umask, shared by concurrent
first runs, reused, refused when damaged, and outside everything DVC or git publishes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from cxralign.io.catalog import Catalog
from cxralign.io.deid import pseudonymize
from cxralign.io.ingest import IngestSettings, ingest
from cxralign.io.secret_key import (
    KEY_BYTES,
    KeyFileError,
    key_path,
    load_or_create_key,
    resolve_key,
)

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 8


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_key_is_created_once_with_mode_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = key_path(tmp_path / "data")
    previous = os.umask(umask)
    try:
        key = load_or_create_key(path)
    finally:
        os.umask(previous)
    assert len(bytes.fromhex(key.decode())) == KEY_BYTES
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert load_or_create_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_two_installations_get_different_keys(tmp_path: Path) -> None:
    assert load_or_create_key(tmp_path / "a/deid.key") != load_or_create_key(tmp_path / "b/deid.key")


def _race(path: Path, start: object, results: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    results.put(load_or_create_key(path))  # type: ignore[attr-defined]


def test_concurrent_first_runs_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    path = key_path(tmp_path)
    workers = [context.Process(target=_race, args=(path, start, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    keys = {results.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join(timeout=30)
    assert len(keys) == 1 and keys == {path.read_bytes().strip()}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_environment_key_wins_and_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_DEID_KEY", "from-the-vault")
    assert resolve_key(tmp_path, "SITE_DEID_KEY") == b"from-the-vault"
    assert not key_path(tmp_path).exists()
    monkeypatch.delenv("SITE_DEID_KEY")
    assert resolve_key(tmp_path, "SITE_DEID_KEY") == key_path(tmp_path).read_bytes().strip()


def test_damaged_or_exposed_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    path = key_path(tmp_path)
    key = load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_or_create_key(path)
    path.chmod(0o600)
    path.write_text("not a key\n")
    with pytest.raises(KeyFileError, match="hex key"):
        load_or_create_key(path)
    assert path.read_text() == "not a key\n" and key


def test_creation_is_logged_once_and_nothing_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        for _ in range(3):
            resolve_key(tmp_path, "CXRALIGN_TEST_UNSET_KEY")
    assert [r.getMessage() for r in caplog.records] == [
        f"created a new de-identification key file in {key_path(tmp_path).parent}"
    ]
    assert caught == []


def _covers(out: str, target: str) -> bool:
    """Whether DVC output ``out`` (a templated part matching any name) contains ``target``."""
    out_parts, target_parts = out.rstrip("/").split("/"), target.split("/")
    return len(out_parts) <= len(target_parts) and all(
        "${" in o or o == t for o, t in zip(out_parts, target_parts, strict=False)
    )


def test_key_file_is_no_dvc_output_and_ignored_by_dvc_and_git(tmp_path: Path) -> None:
    """``data/.secrets/deid.key`` (the key of the ``data`` catalog that dvc.yaml stages write)
    lies under no stage's ``outs``, and both ignore files exclude it."""
    relative = key_path(Path("data")).as_posix()
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outs = [str(out) for stage in stages.values() for out in stage.get("outs", [])]
    assert outs and not [out for out in outs if _covers(out, relative)]
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is needed to evaluate ignore patterns")
    # .dvcignore has .gitignore syntax: let git's own matcher evaluate it in a scratch repo.
    for ignore_file in (".dvcignore", ".gitignore"):
        scratch = tmp_path / ignore_file
        scratch.mkdir()
        subprocess.run([git, "init", "-q", str(scratch)], check=True)
        shutil.copy(REPO / ignore_file, scratch / ".gitignore")
        checked = subprocess.run([git, "-C", str(scratch), "check-ignore", "-q", "--no-index",
                                  relative], check=False)
        assert checked.returncode == 0, f"{ignore_file} does not exclude {relative}"


def test_batches_without_a_configured_key_share_the_created_key(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two ingestion runs with no key configured: one key file, one log line, no warning, and
    the same patient pseudonym in both batches."""
    monkeypatch.delenv("CXRALIGN_DEID_KEY", raising=False)
    catalog = Catalog(tmp_path / "data")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        for batch, study in (("batch-a", "s50000001"), ("batch-b", "s50000002")):
            study_dir = tmp_path / batch / "files/p10/p10000001" / study
            study_dir.mkdir(parents=True)
            shutil.copy(shared_data / "dicom/siim_pneumothorax_sample.dcm", study_dir / "1.dcm")
            (study_dir.parent / f"{study}.txt").write_text("FINDINGS: Lungs clear.\n")
            ingest(tmp_path / batch, catalog, IngestSettings(workers=1, staged_size=64), batch)
    key = key_path(catalog.root).read_bytes().strip()
    assert _mode(key_path(catalog.root)) == 0o600
    patients = set(catalog.read_table("images").column("patient_id").to_pylist())
    assert patients == {pseudonymize("patient", "p10000001", key)}
    created = [r for r in caplog.records if "de-identification key" in r.getMessage()]
    assert len(created) == 1 and caught == []
