"""One engine shared by the loop that feeds it and the web pages that read it.

The loop (a replay in progress, or the embedded service) owns the engine and calls :meth:`Hub.handle`
with each batch; web handlers read engine state under :attr:`Hub.lock` and hand feedback events
(review decisions, undos) to :meth:`Hub.submit`, which the loop drains into its next batch. The
engine itself stays single-threaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from floodwall.engine.engine import Engine
from floodwall.events import ActionOrder, Event


class Hub:
    """An engine, a lock around it, and an inbox of events from people."""

    def __init__(self, engine: Engine, *, name: str = "floodwall") -> None:
        self.engine = engine
        self.name = name
        self.lock = threading.RLock()
        self._inbox: list[Event] = []
        self._inbox_lock = threading.Lock()
        self.seq = 0  # bumps after every batch: pages poll it to know when to refresh
        self.sink = None  # where submissions go instead of the inbox (the journal, which then feeds the loop)

    def submit(self, events: Sequence[Event]):
        """Queue events for the loop's next batch (thread-safe); the sink's answer (the journal's future), if any."""
        if self.sink is not None:
            return self.sink(events)
        with self._inbox_lock:
            self._inbox.extend(events)
        return None

    def drain(self) -> list[Event]:
        """Take every queued event."""
        with self._inbox_lock:
            out, self._inbox = self._inbox, []
        return out

    def handle(self, events: Sequence[Event]) -> list[ActionOrder]:
        """Run one batch through the engine, with what people submitted since the last one."""
        with self.lock:
            orders = self.engine.handle([*events, *self.drain()])
            self.seq += 1
            return orders
