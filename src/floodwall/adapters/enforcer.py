"""An enforcer that only records: orders kept in memory, for backtests (the port is engine.engine.Enforcer)."""

from __future__ import annotations

from collections.abc import Sequence

from floodwall.events import ActionOrder


class RecordingEnforcer:
    """Keeps orders in memory (backtests of recorded events act on nothing)."""

    def __init__(self) -> None:
        self.orders: list[ActionOrder] = []
        self._seen: set[str] = set()

    def apply(self, orders: Sequence[ActionOrder]) -> None:
        """Remember each order once, by key."""
        for o in orders:
            if o.key not in self._seen:
                self._seen.add(o.key)
                self.orders.append(o)
