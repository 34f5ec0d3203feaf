"""The ingestion process pool: workers that die with their parent and have bounded memory.

Workers are forked by a forkserver, so the kernel sees the forkserver as their parent; if the
ingesting process is killed (kill -9, OOM killer) they would be re-parented to PID 1 and keep
decoding. Each worker therefore (1) asks the kernel for SIGKILL when its own parent dies
(``PR_SET_PDEATHSIG``) and (2) runs a watchdog thread that exits as soon as the process that
created the pool is gone, so nothing outlives the run.

Memory: the address space of a worker is capped (``RLIMIT_AS``), so a hostile file that gets
past the header checks fails with ``MemoryError`` in that worker (a rejection) instead of
exhausting the machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final

PR_SET_PDEATHSIG: Final = 1
WATCHDOG_SECONDS: Final = 0.2
MIB: Final = 1 << 20


def worker_pool(workers: int, memory_mb: int, preload: str) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, each capped at ``memory_mb`` of address space (0: no
    cap) and tied to this process's life; ``preload`` is the module the forkserver imports."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(preload),
        initializer=_init_worker,
        initargs=(os.getpid(), memory_mb),
    )


def _pool_context(preload: str) -> multiprocessing.context.BaseContext:
    """A forkserver preloaded with ``preload`` (spawn on Windows).

    Plain ``fork`` would start faster, but the calling process is usually threaded (BLAS pools,
    a Dagster step's event threads) and forking those can deadlock; the forkserver pays the
    imports once (~0.5 s per run), then forks workers from a clean single-threaded process.
    Like any non-fork start method it needs the ``if __name__ == "__main__"`` idiom in scripts.
    """
    if sys.platform == "win32":
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    return context


def _init_worker(owner_pid: int, memory_mb: int) -> None:
    _kill_me_with_parent()
    threading.Thread(target=_watch, args=(owner_pid,), name="owner-watchdog", daemon=True).start()
    if memory_mb > 0:
        limit = memory_mb * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _kill_me_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch(owner_pid: int) -> None:
    while owner_alive(owner_pid):
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)


def owner_alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (killed, not yet reaped) counts as gone."""
    status = Path(f"/proc/{pid}/stat")
    if sys.platform.startswith("linux"):
        try:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return status.read_text().rpartition(")")[2].split()[0] not in {"Z", "X"}
        except (FileNotFoundError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
