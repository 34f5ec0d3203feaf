"""Pre-training throughput: pairs/s, model FLOP utilisation and data-loader images/s.

    PYTHONPATH=. python benchmarks/train_throughput.py                  # small config, here
    PYTHONPATH=. python benchmarks/train_throughput.py --config paper   # ViT-B/16 + BERT-base

Configurations:

* ``small``: the demo defaults (``PretrainSettings()`` over each recipe: ResNet-18 at 64 px,
  MiniLM-L6, 32 pairs per step), fp32 on the CPU, bf16 autocast on a GPU.
* ``paper``: ViT-B/16 at 224 px and a BERT-base-sized text encoder (12 layers, 768 wide, random
  weights from its config: nothing is downloaded), 256 report tokens, 512-d embedding, 128 pairs
  per step on a GPU (8 on a CPU), bf16 autocast on a GPU.

A training step is forward + backward + fused AdamW on a batch built by the real pipeline
(:class:`cxralign.train.collate.BatchBuilder`) from synthetic staged arrays (256² uint8 shards,
as ingest writes them) and synthetic examples shaped like phantom reports (a 60-token report,
5 sentences of 14 tokens, 6 boxed regions). Content does not change the cost.

FLOPs per step are counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and
convolutions, forward and backward); model FLOP utilisation (MFU) = FLOPs/step ÷ step time ÷
peak. Peak: on a GPU the vendor's dense bf16 figure for the device (H100/H200 SXM 989 TFLOP/s,
A100 312), on a CPU the fp32 matmul rate measured here on the same threads (a 2048² GEMM, in
process CPU time, as is the CPU step time, so busy neighbours do not skew the ratio), so the CPU
MFU says how close the step comes to what this CPU's BLAS can do. ``--peak-tflops``
overrides both. On a shared machine wall time depends on the neighbours; the process CPU time
per step (``cpu_seconds_per_step``, best read with ``--threads 1``) is what a quiet core would
take.

Data loader: images/s of the ``DataLoader`` over ``BatchBuilder`` with augmentation (crop,
rotation, jitter) at the configuration's input size, for 0 and 2 workers, read from the
memory-mapped shards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from cxralign.io.staging import StagedImages, shard_path, write_shard
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import MINILM_PACKAGE, load_recipe
from cxralign.models.text_encoder import load_tokenizer
from cxralign.train.augment import Augmentation
from cxralign.train.collate import BatchBuilder, unwrap
from cxralign.train.examples import Example, ExampleSet, RegionRow
from cxralign.train.loop import optimizer_groups
from cxralign.train.sampler import EpochBatchSampler
from cxralign.train.settings import PretrainSettings

STAGED = 256
EXAMPLES = 512
GPU_PEAK_BF16 = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12, "L40S": 362e12}


def synthetic_examples(root: Path, tokenizer, seed: int = 0) -> ExampleSet:
    """Staged shards of random pixels and phantom-shaped examples (module docstring)."""
    rng = np.random.default_rng(seed)
    paths, indices = [], []
    for shard in range(EXAMPLES // 128):
        relative = shard_path("bench", "synthetic", shard)
        write_shard(root, relative, rng.integers(0, 256, (128, STAGED, STAGED), dtype=np.uint8))
        paths += [relative] * 128
        indices += list(range(128))
    vocabulary = np.arange(1000, 20000)

    def ids(length: int) -> tuple[int, ...]:
        return (tokenizer.cls_token_id, *rng.choice(vocabulary, length - 2).tolist(),
                tokenizer.sep_token_id)

    examples = []
    for number in range(EXAMPLES):
        regions = []
        for _ in range(6):
            x1, y1 = rng.uniform(10, 150, 2)
            regions.append(RegionRow("right lung", (x1, y1, x1 + rng.uniform(30, 90),
                                                    y1 + rng.uniform(30, 90)),
                                     tuple(sorted(set(rng.integers(0, 5, 2).tolist())))))
        examples.append(Example(f"image-{number}", f"study-{number}", ids(60),
                                tuple(ids(14) for _ in range(5)), tuple(regions),
                                (rng.random(78) < 0.05).astype(np.float32)))
    return ExampleSet(examples, StagedImages(root, paths, indices), STAGED, ["bench"],
                      tokenizer.pad_token_id)


def bert_base_dir(root: Path) -> Path:
    """A BERT-base configuration (12 × 768) with the MiniLM (BERT uncased) vocabulary."""
    from transformers import BertConfig

    directory = root / "bert-base"
    tokenizer = load_tokenizer(MINILM_PACKAGE)
    BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=512).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def configuration(name: str, recipe: str, root: Path, device: torch.device):
    """(recipe config, pairs per step) of a named configuration."""
    if name == "small":
        settings = PretrainSettings()
        small = load_recipe(recipe, **settings.recipe_overrides())
        return small, small.batch_size
    overrides = {"image_encoder": "vit_base_patch16_224", "image_size": 224,
                 "text_encoder": str(bert_base_dir(root)), "text_from_scratch": True,
                 "text_pooling": "cls", "max_report_tokens": 256, "embed_dim": 512}
    return load_recipe(recipe, **overrides), 128 if device.type == "cuda" else 8


def peak_flops(device: torch.device, override: float | None) -> tuple[float, str]:
    if override:
        return override * 1e12, "given"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in GPU_PEAK_BF16.items():
            if key in name:
                return value, f"{name} dense bf16 spec"
        raise SystemExit(f"unknown GPU {name!r}: pass --peak-tflops")
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    start = time.process_time()
    for _ in range(5):
        a @ b
    per_thread = 2 * 2048**3 * 5 / (time.process_time() - start)
    return per_thread * torch.get_num_threads(), (
        f"fp32 2048² GEMM measured in CPU time × {torch.get_num_threads()} threads")


def time_steps(model: AlignmentModel, batch, device: torch.device, steps: int
               ) -> tuple[list[float], list[float], float]:
    """Wall and CPU seconds per training step (after a warm-up step) and FLOPs of one step."""
    optimizer = torch.optim.AdamW(optimizer_groups(model, model.recipe), fused=True)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", enabled=False))

    def step() -> None:
        with autocast:
            loss = model(batch).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    counter = FlopCounterMode(display=False)
    with counter:
        with autocast:
            loss = model(batch).total
        loss.backward()
    optimizer.zero_grad(set_to_none=True)
    step()
    times, cpu_times = [], []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times, float(counter.get_total_flops())


def loader_rate(data: ExampleSet, image_size: int, batch_size: int, workers: int,
                batches: int) -> float:
    builder = BatchBuilder(data, image_size, Augmentation.from_settings(PretrainSettings()), seed=0)
    sampler = EpochBatchSampler(len(data), batch_size, seed=0)
    loader = DataLoader(builder, batch_size=None, sampler=sampler, collate_fn=unwrap,
                        num_workers=workers, generator=torch.Generator().manual_seed(0))
    iterator = iter(loader)
    next(iterator)  # start-up (workers, first shard maps) is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=["small", "paper", "both"], default="small")
    parser.add_argument("--recipes", nargs="+", default=["asg", "convirt"])
    parser.add_argument("--steps", type=int, default=4, help="timed steps (after 2 warm-up)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--peak-tflops", type=float, help="override the peak (TFLOP/s)")
    parser.add_argument("--loader-batches", type=int, default=8)
    parser.add_argument("--no-loader", action="store_true", help="skip the data-loader timing")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    peak, peak_source = peak_flops(device, args.peak_tflops)
    print(f"device {device}, {torch.get_num_threads()} threads, peak "
          f"{peak / 1e12:.2f} TFLOP/s ({peak_source})", file=sys.stderr)
    names = ["small", "paper"] if args.config == "both" else [args.config]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = synthetic_examples(root, load_tokenizer(MINILM_PACKAGE))
        for name in names:
            for recipe_name in args.recipes:
                torch.manual_seed(0)
                recipe, pairs = configuration(name, recipe_name, root, device)
                model = AlignmentModel(recipe).to(device).train()
                builder = BatchBuilder(data, recipe.image_size,
                                       Augmentation.from_settings(PretrainSettings()), seed=0)
                keys = iter(EpochBatchSampler(len(data), pairs, seed=0))
                batch = builder[next(keys)].to(device)
                times, cpu_times, flops = time_steps(model, batch, device, args.steps)
                seconds, cpu_seconds = statistics.median(times), statistics.median(cpu_times)
                row = {"config": name, "recipe": recipe_name, "device": str(device),
                       "threads": torch.get_num_threads(), "image_size": recipe.image_size,
                       "pairs_per_step": pairs, "seconds_per_step": round(seconds, 4),
                       "pairs_per_second": round(pairs / seconds, 2),
                       "cpu_seconds_per_step": round(cpu_seconds, 4),
                       "pairs_per_cpu_second": round(pairs / cpu_seconds, 2),
                       "gflop_per_step": round(flops / 1e9, 1),
                       # On a CPU: FLOPs per CPU-second of the step against the GEMM's.
                       "mfu": round(flops / (seconds if device.type == "cuda" else
                                             cpu_seconds / torch.get_num_threads()) / peak, 4),
                       "peak_tflops": round(peak / 1e12, 3),
                       "peak_source": peak_source}
                results.append(row)
                print(json.dumps(row), flush=True)
                del model, batch
            for workers in () if args.no_loader else (0, 2):
                rate = loader_rate(data, recipe.image_size, pairs, workers, args.loader_batches)
                row = {"config": name, "loader_workers": workers, "image_size": recipe.image_size,
                       "batch": pairs, "images_per_second": round(rate, 1)}
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
