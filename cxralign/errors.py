"""Mistakes a user can fix, told in one line: the error type the command layer raises and the
checks that raise it before any work starts.

A command validates its arguments first (paths exist and are of the right kind, settings are in
range) and raises :class:`UsageError` with one sentence naming the problem and the fix;
``cxralign.cli.main`` prints it as one line on stderr and exits with status 2. Anything else that
escapes a command is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

USAGE_STATUS = 2
"""Exit status of a usage error (argparse's own for bad arguments)."""

Settings = TypeVar("Settings", bound=BaseModel)


class UsageError(Exception):
    """A user error: ``message`` names the problem and the fix in one line; ``status`` is the
    exit status (2 unless a command documents another, e.g. ``audit`` finding nothing)."""

    def __init__(self, message: str, status: int = USAGE_STATUS) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status


def run_handler(args: argparse.Namespace, debug: bool = False) -> int:
    """Run the command ``args.handler``; a :class:`UsageError` becomes one line on stderr and its
    status (re-raised with ``debug``, so its traceback shows)."""
    try:
        return args.handler(args)
    except UsageError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.status


def existing_path(path: Path, what: str, fix: str) -> Path:
    """``path`` when it exists; else a usage error ``<what> <path> does not exist; <fix>``."""
    if not Path(path).exists():
        raise UsageError(f"{what} {path} does not exist; {fix}")
    return Path(path)


def existing_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` when it is a directory; else a usage error naming what it is instead."""
    existing_path(path, what, fix)
    if not Path(path).is_dir():
        raise UsageError(f"{what} {path} is a file, not a directory; {fix}")
    return Path(path)


def existing_file(path: Path, what: str, fix: str) -> Path:
    """``path`` when it is a file; else a usage error naming what it is instead."""
    existing_path(path, what, fix)
    if not Path(path).is_file():
        raise UsageError(f"{what} {path} is a directory, not a file; {fix}")
    return Path(path)


def writable_target(path: Path, what: str, kind: str) -> Path:
    """An output path of ``kind`` (``"file"`` or ``"directory"``) that is not already the other
    kind (writing over it would fail half-way)."""
    target = Path(path)
    clash = target.is_dir() if kind == "file" else target.is_file()
    if clash:
        other = "directory" if kind == "file" else "file"
        raise UsageError(f"{what} {path} is an existing {other}; give a {kind} path")
    return target


def _flag(field: str, flags: Mapping[str, str]) -> str:
    return flags.get(field, "--" + field.replace("_", "-"))


def validated(model: type[Settings], values: Mapping[str, Any],
              flags: Mapping[str, str] | None = None) -> Settings:
    """``model`` built from ``values``; its first validation error as a usage error naming the
    flag (``--field-name`` unless ``flags`` maps the field to another), the rule and the value."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        rule = first["msg"][0].lower() + first["msg"][1:]
        got = f" (got {first['input']!r})" if field else ""
        where = _flag(field, flags or {}) if field else model.__name__
        more = f"; {error.error_count() - 1} more problem(s)" if error.error_count() > 1 else ""
        raise UsageError(f"{where}: {rule}{got}{more}") from error
