"""What every asset of a stage folder shares, derived from the folder's one name: the asset
group, the library package it wraps, its code version, owners and tags.

``@dg.asset(**stage_args(__name__), ...)`` in ``defs/<stage>/assets.py`` is all a copied folder
needs to join the right group with the right code version.
"""

import hashlib
from functools import cache
from pathlib import Path

import cxralign
import cxralign_pipeline.defs
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
