"""What every asset of a stage folder shares, derived from the folder's one name: the asset
group, the library package it wraps, its code version, owners and tags.

``@stage_asset(deps=..., kinds=...)`` in ``defs/<stage>/assets.py`` is ``@dg.asset`` with those
arguments filled in from the module's folder, and the docstring, stripped of its reST markup,
as the description: all a copied folder needs to join the right group with the right code
version.
"""

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

import cxralign
import cxralign_pipeline.defs
from cxralign.docstrings import plain_text
from cxralign_pipeline.lib.steps import TRANSIENT_RETRY

OWNERS = ["team:cxralign"]


def stage_name(module: str) -> str:
    """``cxralign_pipeline.defs.<stage>.<module>`` → ``<stage>``."""
    return module.split(".")[2]


@cache
def stage_code_version(stage: str) -> str:
    """A hash of the stage's source: its library package ``cxralign/<stage>/`` and its folder
    ``defs/<stage>/``. A change there makes Dagster show the stage's assets (and what depends
    on them) as changed code; shared library modules (the catalog) are not part of it."""
    digest = hashlib.sha256()
    for root in (Path(cxralign.__file__).parent / stage, Path(cxralign_pipeline.defs.__file__).parent / stage):
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def stage_args(module: str) -> dict[str, object]:
    """``dg.asset`` arguments every asset of the stage that ``module`` belongs to shares."""
    stage = stage_name(module)
    return {
        "group_name": stage, "code_version": stage_code_version(stage), "owners": OWNERS,
        "tags": {"cxralign/stage": stage}, "retry_policy": TRANSIENT_RETRY,
    }


def stage_asset(**asset_args: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.asset(**asset_args)`` with the stage's shared arguments (:func:`stage_args` of the
    decorated function's module) and its docstring in plain text as the description."""
    def decorate(function: Callable[..., Any]) -> dg.AssetsDefinition:
        return dg.asset(**stage_args(function.__module__), description=plain_text(function.__doc__),
                        **asset_args)(function)
    return decorate
