"""The per-batch value: its time, what it dirtied, what it decided. Made by Engine.handle, passed to every stage."""

from __future__ import annotations

from dataclasses import dataclass, field

from floodwall.engine.state import Account
from floodwall.events import ActionOrder, ChatPosted, FrameSampled, Verdict


@dataclass(slots=True)
class Batch:
    """One batch in flight: nothing here outlives it (the engine's lasting state is in state.py)."""

    now: float
    dirty: set[str] = field(default_factory=set)  # rooms to judge
    dirty_accounts: set[str] = field(default_factory=set)  # accounts to judge (without a room)
    verdicts: list[Verdict] = field(default_factory=list)
    orders: list[ActionOrder] = field(default_factory=list)
    frames: list[FrameSampled] = field(default_factory=list)  # hashed together, after the other events
    chats: list[ChatPosted] = field(default_factory=list)  # scored together, after the other events
    report_rows: list[dict] = field(default_factory=list)  # every report received, for the store

    def mark_account(self, acc: Account) -> None:
        """An account's signals changed: judge it and its live rooms."""
        self.dirty_accounts.add(acc.id)
        self.dirty.update(acc.live)
