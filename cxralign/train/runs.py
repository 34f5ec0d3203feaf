"""Where runs go and how one is launched as a process (plain, or under torchrun).

The Dagster asset, DVC and a person at a shell all start a run the same way: the ``pretrain``
command line (:mod:`cxralign.train.commands`), wrapped by an orchestrator's entry point when one
listens (the Dagster asset's is ``workflows/pipes_pretrain.py``). Several processes per run (one per
GPU) go through ``torch.distributed.run`` (torchrun) with the same arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def pretrain_command(data: Path, out: Path, recipe: str, seed: int, *, settings_file: Path,
                     nproc_per_node: int = 1,
                     entry_point: Sequence[str] = ("cxralign", "pretrain")) -> list[str]:
    """The argv of one run: ``python -m <entry_point> <pretrain arguments>``, or torchrun with
    ``nproc_per_node`` processes. ``entry_point`` is a module followed by its leading arguments:
    the ``pretrain`` command by default; an orchestrator passes its own wrapper (the Dagster
    asset: ``cxralign_pipeline.defs.train.pipes``), which takes the same arguments."""
    module, *leading = entry_point
    arguments = [*leading, "--recipe", recipe, "--seed", str(seed), "--settings",
                 str(settings_file), "--data", str(data), "--out", str(out)]
    if nproc_per_node > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={nproc_per_node}", "-m", module, *arguments]
    return [sys.executable, "-m", module, *arguments]


def run_partition(recipe: str, seed: int) -> str:
    """The partition key of one run, as Dagster spells the ``pretrained_model`` asset's
    recipe × seed partition (``asg|0``: dimensions in name order, joined by ``|``)."""
    return f"{recipe}|{seed}"


def parse_run_partition(key: str) -> tuple[str, int]:
    """``asg|0`` -> ``("asg", 0)``: the inverse of :func:`run_partition`."""
    recipe, seed = key.split("|")
    return recipe, int(seed)
