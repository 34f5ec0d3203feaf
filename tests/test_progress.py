"""The progress reporter: throttled lines with rate and ETA, and the final line."""

from __future__ import annotations

import logging

from cxralign.progress import Progress, clock_time, log_to_stderr


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_throttled_and_carry_rate_and_eta():
    clock, lines = FakeClock(), []
    progress = Progress(100, "synthesis", emit=lines.append, every_seconds=10, clock=clock)
    for _ in range(40):  # 40 items at 2 per second: 20 s
        clock.now += 0.5
        progress.advance()
    assert lines == ["synthesis: 20/100 (2/s, ETA 00:40)", "synthesis: 40/100 (2/s, ETA 00:30)"]


def test_the_final_line_comes_at_once_and_only_once():
    clock, lines = FakeClock(), []
    progress = Progress(3, "staging images", emit=lines.append, every_seconds=10, clock=clock)
    clock.now += 1.5
    progress.advance(3, detail="loss 0.5000")
    clock.now += 60
    progress.advance(0)
    assert lines == ["staging images: 3/3 (2/s, took 00:02); loss 0.5000"]


def test_a_resumed_count_rates_only_the_new_work():
    clock, lines = FakeClock(), []
    progress = Progress(300, "pretraining", emit=lines.append, every_seconds=10, initial=100,
                        clock=clock)
    clock.now += 10
    progress.advance(50)
    assert lines == ["pretraining: 150/300 (5/s, ETA 00:30)"]


def test_clock_time_switches_to_hours():
    assert clock_time(59.6) == "01:00"
    assert clock_time(3725) == "1:02:05"


def test_the_default_emit_is_the_cxralign_logger_on_stderr(capsys):
    logger = logging.getLogger("cxralign")
    handlers, level = list(logger.handlers), logger.level
    try:
        log_to_stderr()
        log_to_stderr()  # idempotent: one handler, so one line
        Progress(1, "evaluation").advance()
    finally:
        logger.handlers[:], logger.level = handlers, level
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluation: 1/1 (")
    assert lines[0].endswith(", took 00:00)")
