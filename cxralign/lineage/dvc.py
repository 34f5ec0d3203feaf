"""DVC without importing DVC: its content hashes, and the ``dvc`` tool used as a command line.

DVC pulls in hydra's antlr4 runtime, which breaks the Dagster CLI, so it never lives in the
project environment. It is installed in its own tool environment (``make dvc`` builds
``.venv-dvc``) and called as a program. The hashes below are computed here, byte for byte as
DVC 3 computes them, so asset metadata and lineage records can carry an output's DVC hash even
where the tool is absent; tests check them against the real ``dvc``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Final

DVC_ENV_VAR: Final = "CXRALIGN_DVC"
TOOL_ENV_DIR: Final = ".venv-dvc"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
_CHUNK: Final = 1 << 20
# Keep DVC quiet and offline-friendly whoever calls it.
_DVC_ENV: Final = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1"}


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _directory_files(directory: Path) -> list[tuple[str, Path]]:
    """Every file below ``directory`` (symlinks followed, as DVC does) with its POSIX relpath."""
    files = []
    for root, dirs, names in os.walk(directory, followlinks=True):
        dirs.sort()
        for name in names:
            path = Path(root) / name
            if path.is_file():
                files.append((path.relative_to(directory).as_posix(), path))
    return files


def dvc_md5(path: Path | str) -> str:
    """DVC 3's hash of ``path``, as written to ``dvc.lock`` / ``.dvc`` files.

    A file: the md5 of its bytes (DVC 3 dropped DVC 2's dos2unix normalisation). A directory:
    the md5 of the JSON list ``[{"md5": ..., "relpath": ...}, ...]`` of its files, sorted by
    relpath and dumped with ``sort_keys`` and Python's default separators, plus ``".dir"``.
    Empty directories contribute nothing, like in DVC. Patterns of a ``.dvcignore`` are not
    applied: the project's outputs contain nothing it ignores.
    """
    path = Path(path)
    if path.is_file():
        return _file_md5(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    entries = sorted(
        ({"md5": _file_md5(file), "relpath": relpath} for relpath, file in _directory_files(path)),
        key=lambda entry: entry["relpath"],
    )
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir"


def dvc_executable() -> Path | None:
    """The ``dvc`` program to call: ``$CXRALIGN_DVC``, else the project's ``.venv-dvc``, else
    one on ``PATH``; ``None`` when there is none (DVC is optional for the pipeline itself)."""
    configured = os.environ.get(DVC_ENV_VAR)
    if configured:
        candidate = Path(configured)
        return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None
    tool_env = REPO_ROOT / TOOL_ENV_DIR / "bin" / "dvc"
    if tool_env.is_file() and os.access(tool_env, os.X_OK):
        return tool_env
    found = shutil.which("dvc")
    return Path(found) if found else None


def run_dvc(repo_root: Path | str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``dvc ARGS`` in ``repo_root``; raise ``FileNotFoundError`` without a dvc program and
    ``RuntimeError`` (with DVC's own message) when it fails."""
    executable = dvc_executable()
    if executable is None:
        raise FileNotFoundError(f"no dvc program (set {DVC_ENV_VAR} or run `make dvc`)")
    result = subprocess.run(
        [str(executable), *args], cwd=repo_root, capture_output=True, text=True,
        env={**os.environ, **_DVC_ENV}, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        raise RuntimeError(f"`dvc {' '.join(args)}` failed ({result.returncode}): {message}")
    return result


def commit_stages(repo_root: Path | str, stages: Sequence[str]) -> str | None:
    """Record the current deps/params/outs of ``stages`` in ``dvc.lock`` (``dvc commit -f``), so
    files a Dagster run wrote count as those stages' results and ``dvc status`` stays clean.

    Returns ``None`` when committed, or the reason nothing was done (no dvc program, or no
    ``dvc.yaml`` in ``repo_root``) so callers can log it; raises ``RuntimeError`` with DVC's
    message when the commit itself fails.
    """
    root = Path(repo_root)
    if not stages:
        return "no stages to commit"
    if dvc_executable() is None:
        return f"dvc not installed (set {DVC_ENV_VAR} or run `make dvc`); dvc.lock not updated"
    if not (root / "dvc.yaml").is_file():
        return f"no dvc.yaml in {root}; nothing to commit"
    run_dvc(root, "commit", "--force", "--quiet", *stages)
    return None
