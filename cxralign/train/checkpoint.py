"""Resumable checkpoints: everything that decides what the rest of a run computes.

That is the model, optimiser and scheduler state, the step, the data position (the next batch
of the deterministic sampler), the log so far, and every random number generator a step draws
from (Python's, NumPy's, torch's CPU generator and each CUDA device's): dropout and any random
choice inside an objective continue exactly where the killed run left them, so a resumed run
ends with the same weights as an uninterrupted one.

Layout under the checkpoint directory: ``step-NNNNNNN/state.pt`` (rank 0: everything shared),
``step-NNNNNNN/rank-RRRRR.pt`` (each rank's generators) and ``latest``, a one-line file naming
the newest complete step. Every file is written to a temporary name and renamed, and ``latest``
moves only after all ranks have written theirs, so ``kill -9`` at any instant leaves the
previous checkpoint intact and findable.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxralign.io.atomic import atomic_path, save_torch_atomically

LATEST = "latest"
KEEP = 2


def rng_state() -> dict[str, Any]:
    """The state of every generator a training step may draw from."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the shared state and this rank's generator states."""

    shared: dict[str, Any]
    rng: dict[str, Any]


def _step_dir(directory: Path, step: int) -> Path:
    return directory / f"step-{step:07d}"


def save_rank_state(directory: Path, step: int, rank: int) -> None:
    """Every rank: its generators, before the barrier that precedes :func:`commit`."""
    save_torch_atomically(rng_state(), _step_dir(directory, step) / f"rank-{rank:05d}.pt")


def save_shared_state(directory: Path, step: int, shared: dict[str, Any]) -> None:
    """Rank 0: model, optimiser, scheduler, position, log (anything picklable)."""
    save_torch_atomically(shared, _step_dir(directory, step) / "state.pt")


def commit(directory: Path, step: int) -> None:
    """Rank 0, after every rank saved: point ``latest`` at ``step``; drop older checkpoints."""
    with atomic_path(directory / LATEST) as tmp:
        tmp.write_text(_step_dir(directory, step).name + "\n", encoding="utf-8")
    steps = sorted(directory.glob("step-*"))
    for old in steps[: max(0, len(steps) - KEEP)]:
        shutil.rmtree(old, ignore_errors=True)


def load_latest(directory: Path, rank: int) -> Checkpoint | None:
    """The newest committed checkpoint, or None when there is none."""
    marker = directory / LATEST
    if not marker.is_file():
        return None
    step_dir = directory / marker.read_text(encoding="utf-8").strip()
    shared = torch.load(step_dir / "state.pt", map_location="cpu", weights_only=False)
    rng = torch.load(step_dir / f"rank-{rank:05d}.pt", map_location="cpu", weights_only=False)
    return Checkpoint(shared, rng)
