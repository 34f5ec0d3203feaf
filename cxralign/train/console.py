"""Pre-training progress rows as readable lines for a person at a terminal.

The loop reports one dict per event (Dagster Pipes forwards them as they are; ``cxralign
pretrain --json-progress`` prints them as JSON lines for scripts). A person wants a line every
~10 s saying where the run is and when it will end, not a JSON row every few steps:
:class:`ReadableProgress` turns the rows into such lines through a :class:`Progress`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cxralign.progress import Emit, Progress, clock_time, emitter

STEPS_LABEL = "pretraining (steps)"
TEXTS_LABEL = "text cache (texts)"


class ReadableProgress:
    """A ``progress`` callback for :func:`cxralign.train.loop.pretrain` that emits text."""

    def __init__(self, emit: Emit | None = None, every_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emitter(emit)
        self._every_seconds, self._clock = every_seconds, clock
        self._steps: Progress | None = None
        self._texts: Progress | None = None

    def __call__(self, row: dict[str, Any]) -> None:
        event = row.get("event")
        if event == "start":
            self._steps = self._progress(row["steps"], STEPS_LABEL, row["start_step"])
            self._emit(f"pretraining {row['recipe']} seed {row['seed']}: {row['examples']} "
                       f"examples, {row['steps']} steps from step {row['start_step']}, micro-batch "
                       f"{row['micro_batch']} x {row['world_size']} process(es) on {row['device']}")
        elif event == "step" and self._steps is not None:
            self._steps.advance(row["step"] - self._steps.done,
                                detail=f"epoch {row['epoch']}, loss {row['loss']:.4f}")
        elif event == "text_cache":
            if self._texts is None:
                self._texts = self._progress(row["of"], TEXTS_LABEL)
            self._texts.advance(row["texts"] - self._texts.done)
        elif event == "resumed":
            self._emit(f"resumed from the checkpoint at step {row['step']} (epoch {row['epoch']})")
        elif event == "done":
            self._emit(f"trained {row['steps']} steps in {clock_time(row['seconds'])}, final loss "
                       f"{row['final_loss']:.4f}; model in {row['model_dir']}")

    def _progress(self, total: int, label: str, initial: int = 0) -> Progress:
        return Progress(total, label, emit=self._emit, every_seconds=self._every_seconds,
                        initial=initial, clock=self._clock)
