"""Keep library chatter about one input file out of logs and streams, and count it instead.

pydicom reports header problems as warnings *and* log records whose text quotes the offending
value (``Invalid value for VR UI: '1.2.840…'``) or the file name; either may be PHI. While a file
is read, every warning is recorded instead of shown and every ``pydicom`` log record is dropped;
the caller turns the count into a quality flag or a rejection reason.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

# The root of pydicom's logger tree; its children (pydicom.pixels.*) propagate into it.
QUIETED_LOGGER: Final = "pydicom"


@dataclass
class Chatter:
    """What was silenced so far: warning texts stay in memory, for classification only."""

    caught: list[warnings.WarningMessage] = field(default_factory=list)
    log_records: int = 0

    @property
    def messages(self) -> list[str]:
        return [str(warning.message) for warning in self.caught]

    @property
    def count(self) -> int:
        return len(self.caught) + self.log_records


class _Count(logging.Handler):
    def __init__(self, chatter: Chatter) -> None:
        super().__init__(logging.NOTSET)
        self.chatter = chatter

    def emit(self, record: logging.LogRecord) -> None:
        self.chatter.log_records += 1


@contextlib.contextmanager
def silenced() -> Iterator[Chatter]:
    """Record warnings and keep pydicom log records from propagating, for the block."""
    log = logging.getLogger(QUIETED_LOGGER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chatter = Chatter(caught)
        counter = _Count(chatter)
        log.addHandler(counter)
        propagate, log.propagate = log.propagate, False
        try:
            yield chatter
        finally:
            log.propagate = propagate
            log.removeHandler(counter)
