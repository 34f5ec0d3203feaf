"""Whole-directory writes: a reader sees the old directory or the complete new one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cxralign.io.atomic import follow_umask


def replace_directory(target: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a fresh sibling directory of ``target``, then swap it in.

    ``save_pretrained`` writes several files; writing them in place would leave a mixture of
    old and new files if it failed half-way. The swap is two renames within one parent
    directory, so ``target`` is missing only between them and never partially written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    follow_umask(staging)
    retired = target.with_name(f".{target.name}.old")
    try:
        write(staging)
        if target.exists():
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
