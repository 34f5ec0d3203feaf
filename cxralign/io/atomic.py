"""Write-then-rename helpers: a reader never sees a half-written file.

Temporary files come from ``mkstemp``, which makes them private (0600) whatever the umask;
the final file gets the mode an ordinary ``open`` would have given it (0666 minus the umask),
so outputs are shared or private as the operator's umask says.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

FILE_MODE: Final = 0o666
DIRECTORY_MODE: Final = 0o777


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give a file or folder made by ``tempfile`` (always private) the mode ``open``/``mkdir``
    would have given it."""
    mode = DIRECTORY_MODE if path.is_dir() else FILE_MODE
    path.chmod(mode & ~current_umask())


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    The temporary file lives in the same directory so the final ``os.replace`` is atomic on
    POSIX file systems. On any exception the temporary file is removed and ``target`` is left
    exactly as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        follow_umask(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_atomically(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` as Parquet; readers see the old file or the whole new one."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def save_torch_atomically(obj: object, target: Path) -> None:
    """``torch.save(obj)`` to ``target`` atomically and byte-reproducibly.

    Saving to a path names the zip archive inside after the file, here a random temporary
    name, so identical tensors gave different bytes (and a new DVC hash) on every save;
    saving through a file handle names it ``archive`` whatever the path.
    """
    import torch  # lazy: the table helpers above must not pull in torch

    with atomic_path(target) as tmp, tmp.open("wb") as handle:
        torch.save(obj, handle)
