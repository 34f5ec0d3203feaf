"""Where runs go and how one is launched as a process (plain, or under torchrun).

The Dagster asset, DVC and a person at a shell all start a run the same way: the ``pretrain``
command line (:mod:`cxralign.train.commands`), through the Dagster Pipes entry point
(:mod:`cxralign.train.pipes`) when an orchestrator listens. Several processes per run (one per
GPU) go through ``torch.distributed.run`` (torchrun) with the same arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODELS_SUBDIR = Path("models") / "pretrain"


def model_dir(data: Path, recipe: str, seed: int) -> Path:
    """The default model directory of a run: ``<data>/models/pretrain/<recipe>/seed-<k>/``."""
    return Path(data) / MODELS_SUBDIR / recipe / f"seed-{seed}"


def pretrain_command(data: Path, out: Path, recipe: str, seed: int, *, settings_file: Path,
                     nproc_per_node: int = 1, module: str = "cxralign.train.pipes") -> list[str]:
    """The argv of one run: ``python -m <module> ...``, or torchrun with ``nproc_per_node``
    processes. ``module`` is the Pipes entry point by default (``cxralign.cli`` also takes
    ``pretrain`` first)."""
    arguments = ["--recipe", recipe, "--seed", str(seed), "--settings", str(settings_file),
                 "--data", str(data), "--out", str(out)]
    if module == "cxralign.cli":
        arguments = ["pretrain", *arguments]
    if nproc_per_node > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={nproc_per_node}", "-m", module, *arguments]
    return [sys.executable, "-m", module, *arguments]
