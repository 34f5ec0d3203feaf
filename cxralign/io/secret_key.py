"""The per-installation de-identification key: where it lives, how it is made, how it is found.

Pseudonyms and date shifts are keyed hashes; their only protection is that the key is secret.
A key printed in the source would let anyone re-identify a 7-digit MRN by brute force in
seconds, so there is no built-in key: either the operator hands one in through an environment
variable (a vault, a CI secret), or the first run creates a random one in
``<data>/.secrets/deid.key`` and every later run, and every batch, reuses it, so pseudonyms stay
stable across batches.

That file sits beside the data but outside everything published: ``.secrets/`` is no DVC stage
output (``dvc.yaml`` names only ``data/incoming/<batch>``, ``data/staged/...``, ``data/models/...``
and ``data/reports/evaluation``), ``.dvcignore`` excludes it from any ``dvc add`` of ``data/``,
and git ignores ``/data/*``. Its mode is 0600 whatever the umask, and two processes starting at
once agree on one key: each writes a private temporary file and links it into place, which only
one link can win (``O_CREAT | O_EXCL`` semantics), then everyone reads back the winner.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from cxralign.layout import secrets_dir

logger = logging.getLogger(__name__)

KEY_ENV_VAR: Final = "CXRALIGN_DEID_KEY"
KEY_FILE_NAME: Final = "deid.key"
KEY_BYTES: Final = 32
FILE_MODE: Final = 0o600
DIRECTORY_MODE: Final = 0o700


class KeyFileError(RuntimeError):
    """The key file exists but is not a key this module wrote: refuse rather than replace it,
    because a new key would silently change every pseudonym and date shift."""


def key_path(data_root: Path) -> Path:
    """Where the key of the catalog rooted at ``data_root`` lives."""
    return secrets_dir(data_root) / KEY_FILE_NAME


def resolve_key(data_root: Path, env_var: str = KEY_ENV_VAR) -> bytes:
    """The key: the value of ``env_var`` if set, else the key file under ``data_root``
    (created on first use)."""
    given = os.environ.get(env_var)
    if given:
        return given.encode("utf-8")
    return load_or_create_key(key_path(data_root))


def load_or_create_key(path: Path) -> bytes:
    """Read the key at ``path``; if there is none, create a random one atomically first."""
    path = Path(path)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, DIRECTORY_MODE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        # open()'s mode is filtered by the umask; fchmod is not, so the mode is exactly 0600.
        os.fchmod(descriptor, FILE_MODE)
        os.write(descriptor, secrets.token_hex(KEY_BYTES).encode("ascii") + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)  # atomic; fails if another process linked its key first
        logger.info("created a new de-identification key file in %s", path.parent)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    text = path.read_text(encoding="ascii").strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyFileError(f"{path} does not hold a {KEY_BYTES}-byte hex key")
    return text.encode("ascii")
