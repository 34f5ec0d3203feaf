"""The model directory a run leaves: the model's own files, ``training_log.parquet`` and
``run.json``, published whole.

Everything is written into a hidden temporary directory beside the target and renamed onto it,
so a reader (the evaluation stage, DVC, a person) sees either the previous model or the complete
new one, never weights without their log or a half-written state dict.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from cxralign.io.atomic import follow_umask, write_parquet_atomically

LOG_FILE = "training_log.parquet"
RUN_FILE = "run.json"
BASE_LOG_COLUMNS = {"step": pa.int64(), "epoch": pa.int64(), "loss": pa.float64(),
                    "lr": pa.float64(), "pairs_per_second": pa.float64()}


def log_table(rows: Sequence[dict[str, Any]], terms: Sequence[str]) -> pa.Table:
    """The training log: one row per optimiser step, a ``loss_<term>`` column per loss term."""
    schema = pa.schema([*BASE_LOG_COLUMNS.items(), *((f"loss_{t}", pa.float64()) for t in terms)])
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows],
                                schema=schema)


def publish_model_dir(out: Path, save_model: Callable[[Path], None], log: pa.Table,
                      run: dict[str, Any]) -> Path:
    """Write the model (``save_model(directory)``), log and run record, then swap them in."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        follow_umask(staging)  # mkdtemp makes it private; the umask decides
        save_model(staging)
        write_parquet_atomically(log, staging / LOG_FILE)
        (staging / RUN_FILE).write_text(json.dumps(run, indent=2, default=str) + "\n",
                                        encoding="utf-8")
        previous = None
        if out.exists():
            previous = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, previous)
        os.replace(staging, out)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
