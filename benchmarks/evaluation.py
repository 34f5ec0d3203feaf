"""The phantom comparison: does ASG beat ConVIRT and the untrained architecture downstream?

Builds a phantom catalog with gold anatomy boxes (``cxralign.synthetic.catalog``), pre-trains every
recipe × seed with ``cxralign pretrain`` (skipping model directories that already exist, so a
run can be resumed or extended), then runs ``cxralign evaluate`` over all of them plus the
random-init baseline. Everything goes under ``--work`` (default ``benchmarks/.work/evaluation``);
the report (``summary.md``, ``metrics.json``, plots) lands in ``<work>/report``.

Run: ``python benchmarks/evaluation.py [--studies 500] [--seeds 0 1 2] [--epochs 3]
[--config recipe.json]``. Torch threads follow ``OMP_NUM_THREADS``; on a shared CPU set it to 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.synthetic.catalog import build_phantom_catalog
from cxralign.train.runs import model_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.work/evaluation"))
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--phantom-seed", type=int, default=1)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--recipes", nargs="+", default=["asg", "convirt"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--config", type=Path,
                        help="recipe overrides for every recipe (e.g. {\"text_layers\": 2})")
    parser.add_argument("--workers", type=int, default=2, help="synthesis/ingest processes")
    parser.add_argument("--evaluate-args", nargs=argparse.REMAINDER, default=[],
                        help="extra arguments for cxralign evaluate (last)")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV_VAR, "phantom-comparison")
    data = args.work / "data"
    if not (data / "staged" / "pairs").is_dir():
        started = time.perf_counter()
        build_phantom_catalog(args.work, args.studies, seed=args.phantom_seed,
                              image_size=args.image_size, test_fraction=args.test_fraction,
                              workers=args.workers)
        print(f"phantom catalog: {time.perf_counter() - started:.0f} s", flush=True)
    cli = [sys.executable, "-m", "cxralign"]
    for recipe in args.recipes:
        for seed in args.seeds:
            out = model_dir(data, recipe, seed)
            if (out / "recipe.json").is_file():
                continue
            started = time.perf_counter()
            subprocess.run([*cli, "pretrain", "--recipe", recipe, "--seed", str(seed),
                            "--data", str(data), "--out", str(out), "--epochs", str(args.epochs),
                            "--image-size", str(args.image_size),
                            *(["--config", str(args.config)] if args.config else [])],
                           check=True, stdout=subprocess.DEVNULL)
            print(f"pretrain {recipe} seed {seed}: {time.perf_counter() - started:.0f} s",
                  flush=True)
    started = time.perf_counter()
    subprocess.run([*cli, "evaluate", "--data", str(data), "--out", str(args.work / "report"),
                    "--recipes", *args.recipes, *args.evaluate_args], check=True)
    print(f"evaluate: {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
