"""Event-log port and its embedded adapters: an in-process queue and JSON Lines files."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from floodwall.events import DeadLetters, Event, EventError, decode_event, encode_event


class EventLog(Protocol):
    """Where events wait for the engine: append, then take in order."""

    def append(self, events: Iterable[Event]) -> None: ...

    def take(self, max_events: int | None = None) -> list[Event]: ...


class InProcessLog:
    """The embedded event log: a FIFO queue in memory."""

    def __init__(self) -> None:
        self._q: deque[Event] = deque()
        self.appended = 0

    def append(self, events: Iterable[Event]) -> None:
        """Add events at the tail."""
        before = len(self._q)
        self._q.extend(events)
        self.appended += len(self._q) - before

    def take(self, max_events: int | None = None) -> list[Event]:
        """Remove and return up to max_events from the head (all if None)."""
        if max_events is None or max_events >= len(self._q):
            out = list(self._q)
            self._q.clear()
            return out
        return [self._q.popleft() for _ in range(max_events)]

    def __len__(self) -> int:
        return len(self._q)


def read_jsonl(path: str | Path, dead: DeadLetters) -> Iterator[Event]:
    """Events from a JSON Lines file; malformed lines go to ``dead`` with their line number."""
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield decode_event(line)
            except EventError as err:
                dead.add(err, line=n)


def write_jsonl(path: str | Path, events: Iterable[Event]) -> int:
    """Write events as JSON Lines; returns how many."""
    n = 0
    with open(path, "wb") as fh:
        for ev in events:
            fh.write(encode_event(ev))
            fh.write(b"\n")
            n += 1
    return n
