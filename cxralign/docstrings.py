"""Docstrings shown to people outside Python: ``--help`` texts and Dagster asset descriptions.

Docstrings are written in reST for the API docs (````code````, ``:class:`~pkg.Name```), which a
terminal or the Dagster UI shows raw. :func:`plain_text` turns that markup into plain text that
reads the same in a terminal and renders as code in Markdown (the UI's description format).
"""

from __future__ import annotations

import inspect
import re
from typing import Final

_ROLE: Final = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL: Final = re.compile(r"``(.+?)``", re.DOTALL)


def _role_target(match: re.Match[str]) -> str:
    """``:class:`~a.b.Name``` -> ```Name```; ``:mod:`a.b``` -> ```a.b```."""
    whole = match.group(0)
    target = match.group(1).strip()
    shown = target.rsplit(".", 1)[-1] if "`~" in whole else target
    return f"`{shown}`"


def plain_text(doc: str | None) -> str:
    """``doc`` without reST markup and indentation: roles become their (short) target and
    double-backtick literals single-backtick ones; paragraphs stay separated by a blank line."""
    if not doc:
        return ""
    text = inspect.cleandoc(doc)
    text = _ROLE.sub(_role_target, text)
    return _LITERAL.sub(lambda match: f"`{match.group(1)}`", text)


def paragraphs(doc: str | None) -> list[str]:
    """The paragraphs of ``doc`` in plain text, each joined into one line (argparse and the
    Dagster UI re-wrap them anyway)."""
    return [" ".join(part.split()) for part in plain_text(doc).split("\n\n") if part.strip()]
