"""Progress of long steps (synthesis, ingestion, training, evaluation) as readable lines.

A step that runs for minutes must say how far it is and when it will end, but a line per item
floods a terminal and a Dagster run log alike. :class:`Progress` counts items and emits
``label: done/total (rate/s, ETA mm:ss)`` at most every ``every_seconds`` (and always at the
end), through any ``emit`` callback: the CLI's default is the ``cxralign`` logger (configured
once by :func:`log_to_stderr`), a Dagster asset passes ``context.log.info``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

Emit = Callable[[str], None]

LOGGER_NAME = "cxralign"
INTERVAL_ENV_VAR = "CXRALIGN_PROGRESS_SECONDS"
"""Overrides the default 10 s between lines (0: a line per item, e.g. to debug a stall)."""
logger = logging.getLogger(LOGGER_NAME)


def log_info(message: str) -> None:
    """The default ``emit``: INFO on the ``cxralign`` logger (silent until someone configures
    logging, so library calls in tests and notebooks stay quiet)."""
    logger.info(message)


def emitter(progress: Emit | None) -> Emit:
    """The callback a library function reports through: the caller's, else :func:`log_info`."""
    return progress or log_info


class _CurrentStderr(logging.Handler):
    """A handler writing to whatever ``sys.stderr`` is now (a test's capture replaces it, and
    closes the one before, so no stream is held between records)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging's contract: a failing handler reports, never raises
            self.handleError(record)


def log_to_stderr(level: int = logging.INFO) -> None:
    """Send the ``cxralign`` logger's records to stderr, one plain line each; idempotent (the
    console script calls it once per command, tests may call ``main`` many times)."""
    if not any(isinstance(handler, _CurrentStderr) for handler in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


def clock_time(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour on) of a non-negative duration."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """A time-throttled counter of ``total`` items (``every_seconds`` defaults to
    ``$CXRALIGN_PROGRESS_SECONDS`` or 10).

    ``initial`` items count as done before the clock starts (a resumed run), so the rate and
    ETA are those of the work this process does. ``clock`` is injectable for tests.
    """

    def __init__(self, total: int, label: str, emit: Emit | None = None,
                 every_seconds: float | None = None, initial: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if every_seconds is None:
            every_seconds = float(os.environ.get(INTERVAL_ENV_VAR, "10"))
        self.total, self.label, self.every_seconds = total, label, every_seconds
        self.done = self._initial = initial
        self._emit = emitter(emit)
        self._clock = clock
        self._started = self._last = clock()
        self._finished = False

    def advance(self, n: int = 1, detail: str = "") -> None:
        """Count ``n`` more items; emit a line when ``every_seconds`` have passed since the last
        one or the total is reached (once). ``detail`` (e.g. the current loss) ends the line."""
        self.done += n
        now = self._clock()
        final = self.done >= self.total and not self._finished
        if final or (now - self._last >= self.every_seconds and not self._finished):
            self._finished = final
            self._last = now
            self._emit(self.line(now, detail))

    def line(self, now: float, detail: str = "") -> str:
        """``label: done/total (rate/s, ETA mm:ss)``; at the end the elapsed time instead."""
        elapsed = now - self._started
        counted = self.done - self._initial
        rate = counted / elapsed if elapsed > 0 else 0.0
        if self.done >= self.total:
            timing = f"took {clock_time(elapsed)}"
        elif rate > 0:
            timing = f"ETA {clock_time((self.total - self.done) / rate)}"
        else:
            timing = "ETA unknown"
        suffix = f"; {detail}" if detail else ""
        shown = f"{rate:.3g}" if rate < 1000 else f"{rate:.0f}"  # never 1.2e+03
        return f"{self.label}: {self.done}/{self.total} ({shown}/s, {timing}){suffix}"
