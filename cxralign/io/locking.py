"""Cross-process locks on a catalog: one writer commits at a time; staging runs are visible.

Two ``flock`` locks (stdlib, released by the kernel when a process dies, so kill -9 never
leaves a catalog locked):

* the catalog lock, ``<root>/.catalog.lock``, exclusive around every table commit and shard
  cleanup. It is re-entrant within a process, so a stage that commits several tables as one
  unit (ingestion) can hold it around ``Catalog.write_table`` calls that take it themselves.
* a generation lock, ``<generation folder>.lock``, held shared by every run that is writing or
  about to reference that shard generation. Cleanup removes a generation only when it can take
  that lock exclusively, so it never deletes shards an unfinished run will point its rows at.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

CATALOG_LOCK_NAME: Final = ".catalog.lock"
GENERATION_LOCK_SUFFIX: Final = ".lock"
LOCK_FILE_MODE: Final = 0o666  # the umask decides, like every other output file

# (lock path, thread) -> depth and descriptor. Keyed by thread as well: flock treats two
# descriptors of one process as two holders, so two threads serialise like two processes.
_held: dict[tuple[Path, int], tuple[int, int]] = {}


def _open_lock_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, LOCK_FILE_MODE)


@contextlib.contextmanager
def catalog_lock(root: Path) -> Iterator[None]:
    """Hold the catalog's exclusive writer lock (re-entrant within one thread)."""
    key = ((Path(root) / CATALOG_LOCK_NAME).absolute(), threading.get_ident())
    depth, descriptor = _held.get(key, (0, -1))
    if depth == 0:
        descriptor = _open_lock_file(key[0])
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    _held[key] = (depth + 1, descriptor)
    try:
        yield
    finally:
        if depth == 0:
            del _held[key]
            os.close(descriptor)  # closing releases the flock
        else:
            _held[key] = (depth, descriptor)


@contextlib.contextmanager
def generation_in_use(generation_dir: Path) -> Iterator[None]:
    """Mark a shard generation as in use by this run until the block ends.

    Take it while holding the catalog lock, so that a cleanup (which runs under that lock)
    either finished before this run started or sees the mark.
    """
    descriptor = _open_lock_file(_generation_lock_path(generation_dir))
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def idle_generation(generation_dir: Path) -> Iterator[bool]:
    """Yield whether no run holds ``generation_dir``; while the block runs, none can start.

    On a True exit the lock file goes too: the generation is being removed.
    """
    path = _generation_lock_path(generation_dir)
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        path.unlink(missing_ok=True)
    finally:
        os.close(descriptor)


def _generation_lock_path(generation_dir: Path) -> Path:
    return generation_dir.with_name(generation_dir.name + GENERATION_LOCK_SUFFIX)
