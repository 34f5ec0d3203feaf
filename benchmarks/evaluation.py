"""The phantom comparison: does ASG beat ConVIRT and the untrained architecture downstream?

Builds a phantom catalog with gold anatomy boxes (``cxralign_fixtures.phantom_catalog``; 2,000 studies
by default, enough that a few hundred steps of 32 pairs do not memorise the training split),
trains the pipeline's default anatomy detector (``cxralign anatomy train``: resnet10t on 300
phantom radiographs, under a minute; the ``anatomy_detector`` asset's defaults), pre-trains every
recipe × seed with ``cxralign pretrain`` started from that detector (as ``pretrained_model``
does by default) for ``--steps`` steps at ``--image-size`` pixels and the other training
defaults (:class:`cxralign.train.settings.PretrainSettings`: stride-16 map, frozen cached MiniLM,
lr 1e-3), skipping model directories that already exist (so a run can be resumed or extended),
then runs ``cxralign evaluate`` over all of them plus the random-init and detector-start
baselines. Everything goes under ``--work`` (default ``benchmarks/.work/evaluation``); the report
(``summary.md``, ``metrics.json`` with every metric's chance level and trivial baseline, plots)
lands in ``<work>/report``, the seconds of each step in ``<work>/timings.json``.

Run: ``python benchmarks/evaluation.py [--studies 2000] [--seeds 0 1 2] [--steps 700]
[--image-size 96] [--no-detector] [--pretrain-args ...]``, then
``python benchmarks/evaluation_table.py <work>/report/metrics.json``. Torch threads follow
``OMP_NUM_THREADS`` (2 on the 2-core reference machine). ``--no-detector`` trains the recipes'
own encoder from a random start;
``--pretrain-args --image-init-detector DIR`` starts from another detector (e.g. one trained on
real lung boxes with ``--backbone resnet18``; ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cxralign.anatomy.detector import CONFIG_FILE
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.layout import pretrain_run_dir, staged_dir
from cxralign_fixtures.phantom_catalog import build_phantom_catalog


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.work/evaluation"))
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--phantom-seed", type=int, default=1)
    parser.add_argument("--staged-size", type=int, default=128,
                        help="side of the staged arrays (the model input is the training "
                        "recipe's image_size)")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--recipes", nargs="+", default=["asg", "convirt"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="synthesis/ingest processes")
    parser.add_argument("--steps", type=int, default=700,
                        help="optimiser steps of every pre-training run")
    parser.add_argument("--image-size", type=int, default=96,
                        help="model input side of every pre-training run: at 96 px and 700 steps "
                        "every asg metric beats 900 steps at 64 px, and an asg run stays under "
                        "~10 minutes on 2 cores (benchmarks/RESULTS.md, session 11)")
    parser.add_argument("--no-detector", action="store_true",
                        help="start the image encoders at random instead of from the detector")
    parser.add_argument("--pretrain-args", nargs=argparse.REMAINDER, default=[],
                        help="extra arguments for every cxralign pretrain (last)")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV_VAR, "phantom-comparison")
    data = args.work / "data"
    timings: dict[str, float] = {}
    if not (staged_dir(data) / "pairs").is_dir():
        started = time.perf_counter()
        build_phantom_catalog(args.work, args.studies, seed=args.phantom_seed,
                              staged_size=args.staged_size, test_fraction=args.test_fraction,
                              workers=args.workers)
        timings["catalog"] = _report("phantom catalog", started)
    cli = [sys.executable, "-m", "cxralign"]
    start = [] if args.no_detector else ["--image-init-detector",
                                         str(_default_detector(cli, args.work, timings))]
    for seed in args.seeds:
        for recipe in args.recipes:
            out = pretrain_run_dir(data, recipe, seed)
            if (out / "recipe.json").is_file():
                continue
            started = time.perf_counter()
            subprocess.run([*cli, "pretrain", "--recipe", recipe, "--seed", str(seed),
                            "--data", str(data), "--out", str(out), "--steps", str(args.steps),
                            "--image-size", str(args.image_size), *start, *args.pretrain_args],
                           check=True, stdout=subprocess.DEVNULL)
            timings[f"pretrain {recipe} seed {seed}"] = _report(
                f"pretrain {recipe} seed {seed}", started)
    started = time.perf_counter()
    subprocess.run([*cli, "evaluate", "--data", str(data), "--out", str(args.work / "report"),
                    "--recipes", *args.recipes,
                    "--random-init-seeds", *map(str, args.seeds)], check=True)
    timings["evaluate"] = _report("evaluate", started)
    (args.work / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    return 0


def _default_detector(cli: list[str], work: Path, timings: dict[str, float]) -> Path:
    """``<work>/detector``: the anatomy detector the pipeline trains by default (trained once)."""
    detector = work / "detector"
    if not (detector / CONFIG_FILE).is_file():
        started = time.perf_counter()
        subprocess.run([*cli, "anatomy", "train", "--out", str(detector)],
                       check=True, stdout=subprocess.DEVNULL)
        timings["anatomy detector"] = _report("anatomy detector", started)
    return detector


def _report(step: str, started: float) -> float:
    seconds = round(time.perf_counter() - started, 1)
    print(f"{step}: {seconds:.0f} s", flush=True)
    return seconds


if __name__ == "__main__":
    sys.exit(main())
