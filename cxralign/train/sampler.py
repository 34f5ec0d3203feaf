"""Which rows each micro-batch holds: deterministic per epoch, sharded across ranks, resumable.

Every epoch is one permutation of the examples drawn from ``(seed, epoch)`` alone, so a run
resumed at (epoch, batch) after a crash sees exactly the batches an uninterrupted run would.
Across ``world_size`` processes the permutation is shared and rank ``r`` takes every
``world_size``-th row from ``r`` (as ``torch.utils.data.DistributedSampler`` does), after
dropping the tail that would leave some rank a short batch: all ranks run the same number of
equal batches, which DDP's collective calls need.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BatchKey:
    """One micro-batch: its epoch, its number within the epoch (on this rank), its rows."""

    epoch: int
    index: int
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Position:
    """Where in the stream of batches a run stands: the next batch to draw."""

    epoch: int = 0
    index: int = 0


class EpochBatchSampler:
    """An endless stream of :class:`BatchKey` starting at ``start`` (see the module docstring)."""

    def __init__(
        self, size: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
        start: Position = Position(),
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of {world_size}")
        if size < batch_size * world_size:
            raise ValueError(
                f"{size} examples cannot fill one batch of {batch_size} on each of "
                f"{world_size} processes; lower batch_size"
            )
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size, self.start = rank, world_size, start

    @property
    def batches_per_epoch(self) -> int:
        return self.size // (self.batch_size * self.world_size)

    def epoch_batches(self, epoch: int) -> list[tuple[int, ...]]:
        """This rank's batches of ``epoch``."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.size, generator=generator)
        used = self.batches_per_epoch * self.batch_size * self.world_size
        mine = order[self.rank : used : self.world_size].tolist()
        return [tuple(mine[i : i + self.batch_size]) for i in range(0, len(mine), self.batch_size)]

    def __iter__(self) -> Iterator[BatchKey]:
        epoch, index = self.start.epoch, self.start.index
        while True:
            batches = self.epoch_batches(epoch)
            for number in range(index, len(batches)):
                yield BatchKey(epoch, number, batches[number])
            epoch, index = epoch + 1, 0

    @staticmethod
    def after(key: BatchKey, batches_per_epoch: int) -> Position:
        """The position following ``key`` (what a checkpoint taken after it records)."""
        if key.index + 1 < batches_per_epoch:
            return Position(key.epoch, key.index + 1)
        return Position(key.epoch + 1, 0)
