"""The process's place in a (possibly distributed) run: rank, world, device.

Under ``torchrun`` the environment names the rank and world size; the process group uses NCCL
when every rank has a GPU and gloo otherwise (CPU runs, tests). A plain ``python`` process is a
world of one and starts no process group, so the same code runs in both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def pick_device(setting: str, local_rank: int = 0) -> torch.device:
    """``auto`` = this rank's GPU when CUDA is available, else the CPU."""
    if setting == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    return torch.device(setting)


def start(device_setting: str = "auto") -> Runtime:
    """Join the process group described by torchrun's environment (if any)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_setting, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(rank, world_size, local_rank, device)


def stop(runtime: Runtime) -> None:
    """Leave the process group this process joined (a no-op for a world of one)."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()
