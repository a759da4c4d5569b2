"""Progress bars that stay readable in a log file.

On a terminal this is tqdm. Written to anything else (a file, a pipe, CI), tqdm's carriage returns would
pile every refresh onto one long line; there ``tqdm(...)`` returns ``LineProgress``, which writes whole
lines instead: one at most every ``every`` seconds and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from tqdm import tqdm as _tqdm

__all__ = ["LineProgress", "tqdm"]


class LineProgress:
    """A minimal tqdm stand-in writing one newline-terminated status line per interval."""

    def __init__(self, iterable: Iterable | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", file: IO[str] | None = None, every: float = 30.0) -> None:
        """Count ``unit``s toward ``total`` (or over ``iterable``); lines go to ``file`` (stderr)."""
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.desc = desc.strip()
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.every = every
        self.n = 0
        self.t0 = self._last = time.monotonic()
        self.closed = False

    def __iter__(self) -> Iterator:
        for x in self.iterable or ():
            yield x
            self.update(1)
        self.close()

    def update(self, n: float = 1) -> None:
        """Advance; write a line when ``every`` seconds have passed since the last one."""
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._line()

    def _line(self, done: bool = False) -> None:
        of = f"/{self.total:g}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        state = " done" if done else ""
        self.file.write(f"{self.desc}: {self.n:g}{of} {self.unit}{pct}, {time.monotonic() - self.t0:.0f} s{state}\n")
        self.file.flush()

    def close(self) -> None:
        """Write the final line once."""
        if not self.closed:
            self.closed = True
            self._line(done=True)


def tqdm(iterable: Iterable | None = None, *, disable: bool = False, file: IO[str] | None = None,
         **kw: Any):
    """tqdm on a terminal; ``LineProgress`` when the output is a file or pipe (same call)."""
    out = file if file is not None else sys.stderr
    if disable or (hasattr(out, "isatty") and out.isatty()):
        return _tqdm(iterable, disable=disable, file=out, **kw)
    return LineProgress(iterable, total=kw.get("total"), desc=kw.get("desc", ""), unit=kw.get("unit", "it"),
                        file=out)
