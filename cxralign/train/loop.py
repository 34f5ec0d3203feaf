"""The pre-training loop: one recipe, one seed, one model directory.

AdamW in parameter groups, each with its own learning rate and clipped on its own (image
encoder, text encoder, projection heads, objective modules: a from-scratch image tower and a
pretrained text tower want rates two orders of magnitude apart, and one global clip lets the
noisiest group set the step of all; no decay on biases and norm weights), linear warm-up and
cosine decay, gradient accumulation over micro-batches, bf16 autocast on CUDA (fp32 on the CPU,
where bf16 matmuls are slower), DDP under ``torchrun``. The batch size is the recipe's number of
pairs per optimiser step; each process draws ``batch_size / (world_size · accumulation)`` pairs
per micro-batch, so changing the number of GPUs or the accumulation leaves the optimisation
(almost) unchanged. Contrastive negatives come from the micro-batch on all ranks
(``gather_with_grad`` in the objectives); accumulation averages micro-batch losses, as in the
papers' code, so with a contrastive loss it sees fewer negatives than one big batch would.

Checkpoints every ``checkpoint_every`` steps (:mod:`cxralign.train.checkpoint`) make a killed run
resumable with the same result; a run restarts from the newest one automatically when its
fingerprint (recipe, settings, seed, data) matches. Progress goes to ``progress`` as one dict
per logged step (the CLI prints readable lines or, with ``--json-progress``, JSON lines;
Dagster Pipes forwards them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import platform
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from cxralign.io.catalog import Catalog
from cxralign.models.batch import PretrainingBatch
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import RecipeConfig, load_recipe
from cxralign.train import checkpoint
from cxralign.train.augment import Augmentation
from cxralign.train.collate import BatchBuilder, pad_ids, unwrap
from cxralign.train.examples import ExampleSet, load_examples
from cxralign.train.output import log_table, publish_model_dir
from cxralign.train.runtime import Runtime, start, stop
from cxralign.train.sampler import EpochBatchSampler, Position
from cxralign.train.schedule import warmup_cosine
from cxralign.train.settings import PretrainSettings

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunSpec:
    """What one run trains: a recipe and seed on a data directory, into ``out``."""

    data: Path
    out: Path
    recipe: str
    seed: int
    settings: PretrainSettings = field(default_factory=PretrainSettings)
    recipe_config: str = ""

    @property
    def checkpoint_dir(self) -> Path:
        """Beside the model directory (which only appears, whole, at the end)."""
        return self.out.parent / f".{self.out.name}.checkpoints"


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports (rank 0; other ranks get ``model_dir=None``)."""

    model_dir: Path | None
    recipe: str
    seed: int
    steps: int
    seconds: float
    final_loss: float
    log: list[dict[str, Any]]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def optimizer_groups(model: AlignmentModel, recipe: RecipeConfig) -> list[dict[str, Any]]:
    """AdamW parameter groups, two per :meth:`AlignmentModel.parameter_groups` entry (named
    ``<group>`` and ``<group>/no_decay``): matrices decay; biases, norm scales and scalars
    (temperature) do not. The text encoder runs at ``text_learning_rate``, the rest at
    ``learning_rate``."""
    groups = []
    for name, parameters in model.parameter_groups().items():
        lr = recipe.text_learning_rate if name == "text_encoder" else recipe.learning_rate
        decay = [p for p in parameters if p.ndim >= 2]
        keep = [p for p in parameters if p.ndim < 2]
        groups += [{"name": group, "params": params, "lr": lr, "weight_decay": wd}
                   for group, params, wd in ((name, decay, recipe.weight_decay),
                                             (f"{name}/no_decay", keep, 0.0)) if params]
    return groups


def clip_each_group(optimizer: torch.optim.Optimizer, max_norm: float) -> dict[str, float]:
    """Clip the gradient norm of each parameter group (both halves of a named group together)
    to ``max_norm``; their norms before clipping, by group name, for the training log."""
    by_name: dict[str, list[torch.Tensor]] = {}
    for group in optimizer.param_groups:
        by_name.setdefault(group["name"].split("/")[0], []).extend(group["params"])
    return {name: float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            for name, params in by_name.items()}


def freeze_prototypes(model: AlignmentModel, epoch: int) -> None:
    """MGCA's schedule: no prototype update during the first ``prototype_freeze_epochs``
    (their gradient is dropped before the optimiser step, so AdamW's state stays empty)."""
    if "prototype" in model.objectives and epoch < model.recipe.prototype_freeze_epochs:
        model.objectives["prototype"].prototypes.grad = None


def micro_batch_size(recipe: RecipeConfig, settings: PretrainSettings, world_size: int) -> int:
    """Pairs per micro-batch per process (module docstring)."""
    parts = world_size * settings.accumulation
    if recipe.batch_size % parts or recipe.batch_size // parts < 2:
        raise ValueError(f"batch size {recipe.batch_size} must split into {parts} micro-batches "
                         f"of at least 2 pairs (world {world_size} × accumulation "
                         f"{settings.accumulation})")
    return recipe.batch_size // parts


def _fingerprint(spec: RunSpec, recipe: RecipeConfig, data: ExampleSet, world: int) -> str:
    """What must match for a checkpoint to be resumed (not the progress/logging knobs)."""
    settings = spec.settings.model_dump(exclude={"baseline_recipes", "seeds", "log_every",
                                                 "checkpoint_every", "workers", "device"})
    described = json.dumps({"recipe": recipe.model_dump(), "settings": settings,
                            "seed": spec.seed, "world_size": world,
                            "examples": [e.image_id for e in data.examples]},
                           sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


class _Stream:
    """The micro-batches of a run from a data position on, with the position after each."""

    def __init__(self, builder: BatchBuilder, sampler: EpochBatchSampler, workers: int) -> None:
        self.position = sampler.start
        self.per_epoch = sampler.batches_per_epoch
        self.epoch = sampler.start.epoch  # of the batch drawn last
        # An explicit generator keeps the loader from drawing its worker seed from torch's
        # global generator, which would make a resumed run's dropout diverge.
        loader = DataLoader(builder, batch_size=None, sampler=sampler, collate_fn=unwrap,
                            num_workers=workers, generator=torch.Generator().manual_seed(0),
                            prefetch_factor=2 if workers else None)
        self._batches: Iterator[PretrainingBatch] = iter(loader)

    def next(self) -> PretrainingBatch:
        batch = next(self._batches)
        linear = self.position.epoch * self.per_epoch + self.position.index + 1
        self.position = Position(linear // self.per_epoch, linear % self.per_epoch)
        self.epoch = (linear - 1) // self.per_epoch
        return batch


def pretrain(spec: RunSpec, progress: Progress | None = None) -> RunResult:
    """Train ``spec.recipe`` with ``spec.seed`` and publish the model directory (rank 0)."""
    runtime = start(spec.settings.device)
    try:
        return _pretrain(spec, runtime, progress or (lambda row: None))
    finally:
        stop(runtime)


def _pretrain(spec: RunSpec, runtime: Runtime, progress: Progress) -> RunResult:
    settings = spec.settings
    began = time.perf_counter()
    seed_everything(spec.seed)
    recipe = load_recipe(spec.recipe, spec.recipe_config or None, **settings.recipe_overrides())
    model = AlignmentModel(recipe)
    data = load_examples(Catalog(spec.data), model.tokenizer, split=settings.split,
                         view_positions=settings.view_positions,
                         max_sentences=settings.max_sentences,
                         max_report_tokens=recipe.max_report_tokens,
                         max_sentence_tokens=recipe.max_sentence_tokens)
    model.fit_data_statistics(torch.from_numpy(np.stack([e.tags for e in data.examples])))
    model = model.to(runtime.device)
    if model.text_cache is not None:
        _warm_text_cache(model, data, progress)
    micro = micro_batch_size(recipe, settings, runtime.world_size)
    batches_per_epoch = EpochBatchSampler(len(data), micro, spec.seed, runtime.rank,
                                          runtime.world_size).batches_per_epoch
    steps_per_epoch = max(1, batches_per_epoch // settings.accumulation)
    total_steps = settings.steps or recipe.epochs * steps_per_epoch
    # Fused AdamW: one kernel over all parameters instead of a Python loop (CPU and CUDA).
    optimizer = torch.optim.AdamW(optimizer_groups(model, recipe), lr=recipe.learning_rate,
                                  fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, settings.warmup_fraction, settings.min_lr_ratio))
    fingerprint = _fingerprint(spec, recipe, data, runtime.world_size)

    step, position, log, seconds_before = 0, Position(), [], 0.0
    resumed = checkpoint.load_latest(spec.checkpoint_dir, runtime.rank)
    if resumed is not None:
        if resumed.shared["fingerprint"] != fingerprint:
            raise FileExistsError(f"{spec.checkpoint_dir} holds a checkpoint of a different run; "
                               "delete it to start afresh")
        model.load_state_dict(resumed.shared["model"])
        optimizer.load_state_dict(resumed.shared["optimizer"])
        scheduler.load_state_dict(resumed.shared["scheduler"])
        step, position = resumed.shared["step"], Position(**resumed.shared["position"])
        log, seconds_before = resumed.shared["log"], resumed.shared["seconds"]
        checkpoint.set_rng_state(resumed.rng)
        progress({"event": "resumed", "step": step, "epoch": position.epoch})

    network: nn.Module = model
    if runtime.distributed:
        network = DistributedDataParallel(
            model, device_ids=[runtime.device.index] if runtime.device.type == "cuda" else None)
    builder = BatchBuilder(data, recipe.image_size, Augmentation.from_settings(settings),
                           spec.seed, runtime.rank, settings.min_box_visible)
    stream = _Stream(builder, EpochBatchSampler(len(data), micro, spec.seed, runtime.rank,
                                                runtime.world_size, start=position),
                     settings.workers)
    pairs_per_step = micro * settings.accumulation * runtime.world_size
    progress({"event": "start", "recipe": recipe.name, "seed": spec.seed, "examples": len(data),
              "steps": total_steps, "start_step": step, "micro_batch": micro,
              "world_size": runtime.world_size, "device": str(runtime.device)})
    segment_start = time.perf_counter()
    model.train()
    while step < total_steps:
        tick = time.perf_counter()
        terms = _train_step(network, model, optimizer, stream, settings, runtime)
        lr = optimizer.param_groups[0]["lr"]  # the image encoder's
        scheduler.step()
        step += 1
        row = {"step": step, "epoch": stream.epoch, "lr": lr,
               "pairs_per_second": pairs_per_step / max(time.perf_counter() - tick, 1e-9),
               **terms}
        log.append(row)
        if step % settings.log_every == 0 or step == total_steps:
            progress({"event": "step", **row})
        if step % settings.checkpoint_every == 0 and step < total_steps:
            _save_checkpoint(spec, runtime, model, optimizer, scheduler, step, stream.position,
                             log, fingerprint,
                             seconds_before + time.perf_counter() - segment_start)
    seconds = seconds_before + time.perf_counter() - segment_start
    result = RunResult(None, recipe.name, spec.seed, step, seconds,
                       log[-1]["loss"] if log else math.nan, log)
    if runtime.is_main:
        run = {"recipe": recipe.name, "config": recipe.model_dump(),
               "settings": settings.model_dump(), "seed": spec.seed, "steps": step,
               "epochs": step / steps_per_epoch, "examples": len(data),
               "data": {"path": str(Path(spec.data).resolve()), "partitions": data.partitions,
                        "split": settings.split},
               "seconds": round(seconds, 3), "setup_seconds": round(segment_start - began, 3),
               "world_size": runtime.world_size, "device": str(runtime.device),
               "resumed": resumed is not None, "torch": torch.__version__,
               "python": platform.python_version()}
        publish_model_dir(spec.out, model.save, log_table(log, sorted(model.term_weights)), run)
        shutil.rmtree(spec.checkpoint_dir, ignore_errors=True)
        result = RunResult(spec.out, recipe.name, spec.seed, step, seconds, result.final_loss, log)
        progress({"event": "done", "model_dir": str(spec.out), "steps": step,
                  "seconds": round(seconds, 3), "final_loss": result.final_loss})
    runtime.barrier()
    return result


def _warm_text_cache(model: AlignmentModel, data: ExampleSet, progress: Progress,
                     batch_size: int = 256) -> None:
    """Encode every distinct report and sentence of the run once with the frozen text encoder,
    in length-sorted batches (little padding), before the first step: the same work the first
    epoch would do batch by batch, done at a fraction of the cost. One row per batch (a few
    dozen per run): readers that show a person progress throttle them
    (:class:`cxralign.train.console.ReadableProgress`)."""
    texts = list(dict.fromkeys([e.report_ids for e in data.examples]
                               + [ids for e in data.examples for ids in e.sentence_ids]))
    texts.sort(key=len)
    for first in range(0, len(texts), batch_size):
        ids, mask = pad_ids(texts[first:first + batch_size], data.pad_token_id)
        model.encode_texts(ids.to(model.device), mask.to(model.device), words=False)
        progress({"event": "text_cache", "texts": min(first + batch_size, len(texts)),
                  "of": len(texts)})


def _train_step(network: nn.Module, model: AlignmentModel, optimizer: torch.optim.Optimizer,
                stream: _Stream, settings: PretrainSettings, runtime: Runtime) -> dict[str, float]:
    """One optimiser step over ``settings.accumulation`` micro-batches; the loss terms (mean
    over micro-batches and ranks) as ``loss`` and ``loss_<term>``."""
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if runtime.device.type == "cuda"
                else contextlib.nullcontext())
    totals: dict[str, torch.Tensor] = {}
    for micro in range(settings.accumulation):
        batch = stream.next().to(runtime.device, non_blocking=True)
        last = micro == settings.accumulation - 1
        sync = (network.no_sync() if runtime.distributed and not last
                else contextlib.nullcontext())
        with sync:
            with autocast:
                output = network(batch)
            (output.total / settings.accumulation).backward()
        for name, value in {"loss": output.total, **{f"loss_{t}": v for t, v in
                                                     output.terms.items()}}.items():
            totals[name] = totals.get(name, 0) + value.detach().float() / settings.accumulation
    freeze_prototypes(model, stream.epoch)
    norms = clip_each_group(optimizer, settings.grad_clip if settings.grad_clip > 0 else math.inf)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    names = list(totals)
    values = torch.stack([totals[name] for name in names])
    if runtime.distributed:
        torch.distributed.all_reduce(values)
        values /= runtime.world_size
    return {**dict(zip(names, values.tolist(), strict=True)),
            **{f"grad_norm_{name}": norm for name, norm in norms.items()}}


def _save_checkpoint(spec: RunSpec, runtime: Runtime, model: AlignmentModel,
                     optimizer: torch.optim.Optimizer, scheduler: Any, step: int,
                     position: Position, log: list[dict[str, Any]], fingerprint: str,
                     seconds: float) -> None:
    checkpoint.save_rank_state(spec.checkpoint_dir, step, runtime.rank)
    if runtime.is_main:
        checkpoint.save_shared_state(spec.checkpoint_dir, step, {
            "fingerprint": fingerprint, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "step": step, "position": {"epoch": position.epoch, "index": position.index},
            "log": log, "seconds": seconds})
    runtime.barrier()
    if runtime.is_main:
        checkpoint.commit(spec.checkpoint_dir, step)
