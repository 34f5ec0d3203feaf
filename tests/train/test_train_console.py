"""Pre-training rows become readable, throttled lines for a terminal."""

from __future__ import annotations

import itertools

from cxralign.train.console import ReadableProgress


def test_rows_become_lines_with_rate_eta_and_loss():
    lines: list[str] = []
    ticks = itertools.count(0.0, 1.0)  # each reading of the clock is 1 s after the last
    reporter = ReadableProgress(lines.append, every_seconds=3, clock=lambda: next(ticks))
    for texts in (256, 512, 768, 1024):  # one row per encoded batch
        reporter({"event": "text_cache", "texts": texts, "of": 1024})
    reporter({"event": "start", "recipe": "asg", "seed": 0, "examples": 80, "steps": 20,
              "start_step": 0, "micro_batch": 8, "world_size": 1, "device": "cpu"})
    for step in range(5, 21, 5):  # the loop logs every 5 steps
        reporter({"event": "step", "step": step, "epoch": 0, "lr": 1e-3, "loss": 2.0 / step})
    reporter({"event": "done", "model_dir": "m", "steps": 20, "seconds": 75.2, "final_loss": 0.1})
    assert lines == [
        "text cache (texts): 768/1024 (256/s, ETA 00:01)",  # 1 s per batch, a line per 3 s
        "text cache (texts): 1024/1024 (256/s, took 00:04)",
        "pretraining asg seed 0: 80 examples, 20 steps from step 0, micro-batch 8 x 1 "
        "process(es) on cpu",
        "pretraining (steps): 15/20 (5/s, ETA 00:01); epoch 0, loss 0.1333",
        "pretraining (steps): 20/20 (5/s, took 00:04); epoch 0, loss 0.1000",
        "trained 20 steps in 01:15, final loss 0.1000; model in m",
    ]
