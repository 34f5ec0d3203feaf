"""The one check every input path gets first: does it name a regular file we can stat?

A walker lists paths, not contents, so a dangling symlink, a folder named ``x.dcm`` or a FIFO
reaches the loaders; each becomes its own rejection instead of vanishing from both tables.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cxralign.io.rejections import Reason, Rejection


def regular_file_size(path: Path) -> int:
    """``path``'s size in bytes, or a ``Rejection`` saying why it is not a readable file."""
    try:
        status = path.stat()  # follows symlinks: a dangling one raises here
    except FileNotFoundError:
        kind = "a symlink whose target" if path.is_symlink() else "the file"
        raise Rejection(Reason.MISSING_FILE, f"{kind} does not exist") from None
    except OSError as error:
        raise Rejection(
            Reason.UNREADABLE_FILE, f"the file cannot be read ({type(error).__name__})"
        ) from None
    if not stat.S_ISREG(status.st_mode):
        raise Rejection(Reason.NOT_A_REGULAR_FILE, "the path is not a regular file")
    return status.st_size
