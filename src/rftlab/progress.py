"""Progress on long work: calibration trials, base-model training, RFT steps, evaluation, remote jobs.

On a terminal (stderr is a TTY, as under `dvc repro` in one) a tqdm bar with rate and ETA. When
stderr is a file or a pipe (CI logs, `nohup`), the same bar prints as plain lines, at most one a
minute, plus the last, so a log shows the work moving without flooding. `enabled=False` (the
commands' `--quiet`) prints nothing.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

LINE_EVERY_S = 60.0


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def is_terminal(stream: Any = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def bar(total: float | None = None, *, desc: str = "", unit: str = "it", enabled: bool = True,
        stream: TextIO | None = None, initial: float = 0) -> Any:
    """A tqdm bar (use it as a context manager, or call .update/.close): on a terminal it redraws in
    place; elsewhere it writes a line at most every minute; disabled, it writes nothing."""
    # tqdm loads only for a bar on a terminal
    from tqdm import tqdm

    out = stream if stream is not None else sys.stderr
    if not enabled:
        return tqdm(total=total, disable=True)
    if is_terminal(out):
        return tqdm(total=total, desc=desc, unit=unit, file=out, dynamic_ncols=True, initial=initial, leave=True)
    return tqdm(total=total, desc=desc, unit=unit, file=_Lines(out), mininterval=LINE_EVERY_S,
                maxinterval=LINE_EVERY_S, ascii=True, ncols=100, initial=initial, leave=True)
