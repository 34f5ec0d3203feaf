"""The Dagster Pipes side of a pre-training run: ``python -m cxralign_pipeline.defs.train.pipes
<pretrain arguments>``, the process the ``pretrained_model`` asset launches (alone or under torchrun).

The run is the library's ``pretrain`` command; this entry point only routes its progress to the
orchestrator that launched it: progress becomes readable Pipes log lines (the same throttled
lines with rate and ETA the ``pretrain`` command prints; every step's loss terms are in the
model's ``training_log.parquet``), and the finished run is reported as a custom message (model
directory, steps, seconds, final loss) that the asset gathers into its metadata. It lives with the Dagster
wiring so the library stays free of Dagster packages; it needs only ``dagster_pipes`` (no
``dagster``), so it can run on a GPU host that has the library and that small package. Under
torchrun only rank 0 talks to Dagster; the other ranks train silently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dagster_pipes import open_dagster_pipes

from cxralign.train.commands import add_pretrain_arguments, is_main_process, run_from_args
from cxralign.train.console import ReadableProgress


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxralign_pipeline.defs.train.pipes")
    add_pretrain_arguments(parser)
    args = parser.parse_args(argv)
    if not is_main_process():
        run_from_args(args)
        return 0

    with open_dagster_pipes() as pipes:
        result = run_from_args(args, ReadableProgress(emit=pipes.log.info))
        pipes.report_custom_message({
            "recipe": result.recipe, "seed": result.seed, "model_dir": str(result.model_dir),
            "steps": result.steps, "seconds": round(result.seconds, 2),
            "final_loss": result.final_loss,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
