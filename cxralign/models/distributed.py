"""Cross-rank helpers for contrastive losses, harmless in a single process.

Contrastive losses get better with more negatives, so under DDP every rank contrasts its own
rows against the embeddings of *all* ranks. ``torch.distributed.all_gather`` alone returns
tensors without autograd history, which would silently drop the gradient that flows into the
other ranks' embeddings through the columns of each rank's logits. :func:`gather_with_grad`
keeps it: its backward sums, over ranks, the gradient each rank's loss sends to every slice and
hands each rank the part for its own rows. With DDP averaging parameter gradients over ranks,
the mean of the per-rank losses then has exactly the gradient of one loss over the global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank; 0 without a process group."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes; 1 without a process group."""
    return dist.get_world_size() if is_distributed() else 1


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 (rows may differ in number between ranks) with a backward that
    sums the incoming gradient over ranks and returns this rank's rows."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        sizes = _gather_row_counts(len(tensor), tensor.device)
        padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
        padded[: len(tensor)] = tensor
        slots = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(slots, padded.contiguous())
        ctx.sizes, ctx.rank = sizes, dist.get_rank()
        return torch.cat([slot[:size] for slot, size in zip(slots, sizes, strict=True)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)  # autograd may share it
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]]


def _gather_row_counts(rows: int, device: torch.device) -> list[int]:
    count = torch.tensor([rows], device=device)
    counts = [torch.zeros_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    return [int(c) for c in counts]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Rows of ``tensor`` from every rank concatenated in rank order, differentiable.

    Identity without a process group (or with one process), so losses written against it run
    unchanged in a notebook, in tests and under ``torchrun``.
    """
    if world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


def gather_without_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Like :func:`gather_with_grad` for tensors that carry no gradient (labels, tag vectors)."""
    if world_size() == 1:
        return tensor
    with torch.no_grad():
        return _GatherWithGrad.apply(tensor.detach())


def row_offset(local_rows: int) -> int:
    """Index of this rank's first row in the gathered tensor (sum of lower ranks' row counts)."""
    if world_size() == 1:
        return 0
    counts = _gather_row_counts(local_rows, _device())
    return sum(counts[: rank()])


def _device() -> torch.device:
    """The device collectives must use: the current CUDA device under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
