"""Real ``cxralign ingest`` processes: two writers into one catalog, and kill -9 mid-run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog
from cxralign.io.workers import owner_alive

COPIES = 12  # enough decoding work that a run is still busy when the test acts on it


def _batch(root: Path, shared_data: Path, names: list[str]) -> Path:
    root.mkdir(parents=True)
    for index in range(COPIES):
        for name in names:
            shutil.copy(shared_data / "dicom" / name, root / f"{index:02d}-{name}")
    return root


def _ingest(source: Path, out: Path, partition: str, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "CXRALIGN_DEID_KEY": "test-key"}
    command = [sys.executable, "-m", "cxralign", "ingest", str(source), "--out", str(out),
               "--partition", partition, "--workers", str(workers), "--image-size", "64"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_two_writers_into_one_catalog_keep_every_row_and_shard(
    tmp_path: Path, shared_data: Path
) -> None:
    first = _batch(tmp_path / "a", shared_data, ["RG1_UNCR.dcm"])
    second = _batch(tmp_path / "b", shared_data, ["siim_pneumothorax_sample.dcm"])
    out = tmp_path / "data"
    runs = [_ingest(first, out, "batch_a", 1), _ingest(second, out, "batch_b", 1),
            _ingest(second, out, "default", 1), _ingest(first, out, "default", 1)]
    for run in runs:
        stdout, err = run.communicate(timeout=240)
        assert run.returncode == 0, err.decode()[-2000:]
        streams = (stdout + err).decode()
        assert str(first) not in streams and str(second) not in streams, "an input path leaked"

    catalog = Catalog(out)
    images = catalog.read_table("images").to_pylist()
    by_partition = {p: catalog.read_table("images", [p]).num_rows for p in ("batch_a", "batch_b")}
    # Same SOP instance in every copy: one row per batch, the rest duplicate_image rejections.
    assert by_partition == {"batch_a": 1, "batch_b": 1}
    assert catalog.read_table("rejected_inputs", ["batch_a"]).num_rows == COPIES - 1
    # "default" was written by two runs at once: one of them wins as a whole.
    assert catalog.read_table("images", ["default"]).num_rows == 1
    assert all((out / row["staged_path"]).is_file() for row in images)
    referenced = {row["staged_path"] for row in images}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("shard-*.npy")}
    assert on_disk == referenced
    assert catalog.query("select count(*) as n from images")["n"][0].as_py() == len(images)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_leaves_no_worker_behind_and_a_rerun_recovers(
    tmp_path: Path, shared_data: Path
) -> None:
    source = _batch(tmp_path / "in", shared_data, ["RG1_UNCR.dcm", "RG1_J2KR.dcm"])
    out = tmp_path / "data"
    run = _ingest(source, out, "default", 2)
    deadline = time.monotonic() + 60
    children: set[int] = set()
    # forkserver + 2 workers (+ the resource tracker): wait until the pool is working.
    while len(children) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
        children = _descendants(run.pid)
    assert run.poll() is None and len(children) >= 3, "the run ended before it could be killed"
    time.sleep(0.5)
    run.send_signal(signal.SIGKILL)
    run.wait()

    deadline = time.monotonic() + 10
    while any(owner_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in children if owner_alive(pid)]
    for pid in survivors:  # leave the machine clean even when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors

    rerun = _ingest(source, out, "default", 2)
    _, err = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, err.decode()[-2000:]
    catalog = Catalog(out)
    rows = catalog.read_table("images").to_pylist()
    assert len(rows) == 2 and all((out / r["staged_path"]).is_file() for r in rows)
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("shard-*.npy")}
    assert on_disk == {r["staged_path"] for r in rows}
