"""Read-only views of the engine for code outside it: incident response (per batch) and the review console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from floodwall.engine import decide
from floodwall.engine.batch import Batch
from floodwall.engine.derive import account_signals
from floodwall.engine.policy import Rule
from floodwall.engine.state import Account, Stream

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine


class BatchView:
    """What incident response may read of the engine during one batch; it answers with effects, not writes."""

    def __init__(self, engine: Engine, batch: Batch) -> None:
        self._e, self._b = engine, batch

    @property
    def now(self) -> float:
        """The batch's time."""
        return self._b.now

    @property
    def accounts(self) -> Mapping[str, Account]:
        """Accounts by id (read them; change them only through effects)."""
        return self._e.accounts

    @property
    def streams(self) -> Mapping[str, Stream]:
        """Rooms by id (read them; change them only through effects)."""
        return self._e.streams

    def is_virtual(self, phone: str) -> bool:
        """True if a number is in a virtual-operator range."""
        return self._e.phones.is_virtual(phone)

    def confirmed_clusters(self) -> int:
        """How many content clusters are confirmed bad."""
        return len(self._e.confirmed_clusters)

    def ring_members(self) -> int:
        """How many accounts the ring detector holds in rings."""
        rings = self._e.rings
        return sum(len(r.members) for r in rings.rings.values()) if rings is not None else 0

    def account_signals(self, acc: Account) -> dict[str, object]:
        """Every account signal now."""
        return account_signals(self._e, acc, self._b.now)

    def firing(self, st: Stream) -> list[Rule]:
        """The policy's acting rules that fire on a room now (no verdict, no action; errors recorded)."""
        return decide.firing(self._e, self._b, st)

    def phone_of(self, account: str) -> str:
        """The phone number on record for an account ("" if unknown)."""
        return self._e.phone_of(account)


@dataclass(frozen=True, slots=True)
class Room:
    """One room as a reviewer sees it."""

    id: str
    account: str
    viewers: int
    status: str  # live, down (taken down), restored (a takedown undone) or ended
    reporters: int
    report_weight: float
    has_frame: bool
    live: bool  # still broadcasting (a room taken down may still be broadcasting to no one)


def room(engine: Engine, sid: str) -> Room | None:
    """A room as the review console shows it; None if the engine does not know it."""
    st = engine.streams.get(sid)
    if st is None:
        return None
    status = "down" if st.taken_down else "restored" if st.restored_at is not None else "live" if st.live else "ended"
    return Room(sid, st.account, st.viewers, status, len(st.reporters), st.report_weight,
                st.last_frame is not None, st.live)


def cluster_rooms(engine: Engine, key: str) -> set[str]:
    """Every room of a content cluster (empty without clustering)."""
    return engine.clusters.rooms(key) if engine.clusters is not None else set()


def undoable(engine: Engine, item_id: str) -> bool:
    """True if a case has a decision the engine can undo."""
    return item_id in engine.decision_effects


def last_frame(engine: Engine, sid: str):
    """A room's latest kept frame (a FrameSampled), or None."""
    st = engine.streams.get(sid)
    return st.last_frame if st is not None else None
