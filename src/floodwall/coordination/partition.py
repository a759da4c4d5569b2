"""One partition's side of coordination: what it tells the coordinator, and what the coordinator told it.

With the log partitioned by account, a worker's engine sees a share of the platform. It writes a
compact :class:`~floodwall.events.Sketch` of each batch (frame hashes, device and network keys,
confirmations) through a :class:`SketchBuffer`, and keeps what comes back (``*Noticed`` events) in a
:class:`RemoteView`, which the engine merges into its own signals: a count is the larger of the two
views, a flag is set if either view sets it. An engine without a view (a replay, the embedded
service) sees everything itself and never builds one.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from floodwall.events import (
    AccountRegistered,
    AccountSeen,
    ApiCall,
    ChatPosted,
    ClusterNoticed,
    Confirmed,
    Event,
    FrameSampled,
    KeyCount,
    KeysNoticed,
    Login,
    ProfileChanged,
    ReportFiled,
    ReviewDecided,
    RingNoticed,
    RoomFrames,
    StreamEnded,
    StreamStarted,
    ViewerCount,
)

WEEK = 7 * 86_400.0
_CASE = re.compile(r"^p(\d+):(.+)$")


def partition_of(key: str, partitions: int) -> int:
    """Stable partition of an account key."""
    return zlib.crc32(key.encode()) % partitions


def case_id(partition: int, item: str) -> str:
    """The service-wide id of a worker's review item."""
    return f"p{partition}:{item}"


def parse_case_id(cid: str) -> tuple[int, str] | None:
    """(partition, item) of a service-wide case id, or None."""
    m = _CASE.match(cid)
    return (int(m.group(1)), m.group(2)) if m else None


class Partitioner:
    """Maps each event to its account's partition.

    A partition is ``crc32(account) mod N``: stable across processes and restarts. Stream events whose
    only key is the stream (viewer counts, reports, chat lines, whose ``account`` is the poster) follow
    the stream's owner, learned from the events that name it; a stream never seen falls back to the hash
    of its id. Review decisions name their partition in the case id (``p<i>:<item>``).
    """

    def __init__(self, partitions: int, *, remember: int = 500_000) -> None:
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.partitions = partitions
        self.remember = remember
        self._owner: OrderedDict[str, str] = OrderedDict()  # stream -> account, bounded (oldest forgotten)

    def _learn(self, stream: str, account: str) -> None:
        if stream not in self._owner:
            self._owner[stream] = account
            if len(self._owner) > self.remember:
                self._owner.popitem(last=False)

    def partition(self, ev: Event) -> int:
        """The partition an event belongs to."""
        t = type(ev)
        if t is StreamStarted or t is StreamEnded or t is FrameSampled:
            self._learn(ev.stream, ev.account)  # type: ignore[union-attr]
            key = ev.account  # type: ignore[union-attr]
        elif t is AccountRegistered or t is Login or t is ProfileChanged:
            key = ev.account  # type: ignore[union-attr]
        elif t is ChatPosted or t is ViewerCount or t is ReportFiled:
            key = self._owner.get(ev.stream, ev.stream)  # type: ignore[union-attr]
        elif t is ApiCall:
            key = ev.account or ev.principal  # type: ignore[union-attr]
        elif t is ReviewDecided or hasattr(ev, "item"):
            parsed = parse_case_id(ev.item)  # type: ignore[union-attr]
            if parsed is None:
                raise ValueError(f"review item {ev.item!r} is not a case id of the form p<partition>:<item>")  # type: ignore[union-attr]
            if parsed[0] >= self.partitions:
                raise ValueError(f"case {ev.item!r} names partition {parsed[0]} of {self.partitions}")  # type: ignore[union-attr]
            return parsed[0]
        else:
            key = ev.id
        return partition_of(key, self.partitions)

    def split(self, events: Sequence[Event]) -> dict[int, list[Event]]:
        """Events grouped by partition, each group in arrival order."""
        out: dict[int, list[Event]] = {}
        for ev in events:
            p = self.partition(ev)
            if hasattr(ev, "item") and type(ev) is not FrameSampled:
                parsed = parse_case_id(ev.item)  # type: ignore[union-attr]
                if parsed is not None:  # the worker knows its items by their local id
                    ev = msgspec.structs.replace(ev, item=parsed[1])
            out.setdefault(p, []).append(ev)
        return out


class SketchBuffer:
    """What one engine batch tells the coordinator; the worker takes it after each batch."""

    def __init__(self) -> None:
        self.frames: list[RoomFrames] = []
        self.seen: list[AccountSeen] = []
        self.confirmed: list[Confirmed] = []
        self.withdrawn: list[str] = []
        self.closed: list[str] = []
        self.counts: dict[str, float] = {}

    def add_frames(self, stream: str, account: str, ts: float, hashes: np.ndarray, mirrored: np.ndarray,
                   risk: float, trusted: bool) -> None:
        """A room's good-quality frame hashes of this batch."""
        self.frames.append(RoomFrames(stream, account, ts, np.ascontiguousarray(hashes, "<u8").tobytes(),
                                      np.ascontiguousarray(mirrored, "<u8").tobytes(), float(risk), bool(trusted)))

    def take(self) -> dict | None:
        """The batch's sketch fields (None when there is nothing to tell); clears the buffer."""
        out = {"frames": self.frames, "seen": self.seen, "confirmed": self.confirmed,
               "withdrawn": self.withdrawn, "closed": self.closed, "counts": self.counts}
        self.__init__()
        if not any(out[k] for k in ("frames", "seen", "confirmed", "withdrawn", "closed")):
            return None
        return out


def unpack_hashes(raw: bytes) -> np.ndarray:
    """(n, 4) uint64 PDQ hashes from a sketch's bytes."""
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(-1, 4)


@dataclass(slots=True)
class RingView:
    """A ring as the coordinator last described it; ``members`` are this partition's."""

    id: str
    size: int = 0
    confirmed: bool = False
    members: set[str] = field(default_factory=set)


def count_within(times: list[float], now: float, window: float) -> int:
    """How many of ``times`` fall in (now - window, now] (a key's registrations or go-lives)."""
    return sum(1 for t in times if now - window < t <= now)


class RemoteView:
    """What the coordinator told this partition: clusters, rings, shared keys, fresh accounts elsewhere."""

    def __init__(self) -> None:
        self.cluster_of: dict[str, ClusterNoticed] = {}  # stream -> the latest notice of its cluster
        self.rings: dict[str, RingView] = {}
        self.ring_of: dict[str, RingView] = {}  # account -> view
        self.keys: dict[tuple[str, str], KeyCount] = {}
        self.created: dict[str, float] = {}  # fresh accounts of other partitions -> registration time
        self._created_order: deque[tuple[float, str]] = deque()

    def on_cluster(self, ev: ClusterNoticed) -> list[str]:
        """Record a cluster notice; the streams it names."""
        for s in ev.streams:
            self.cluster_of[s] = ev
        return ev.streams

    def on_ring(self, ev: RingNoticed) -> set[str]:
        """Record a ring notice; the accounts to judge again (new members, or all when confirmation changed)."""
        ring = self.rings.get(ev.ring)
        if ring is None:
            ring = self.rings[ev.ring] = RingView(ev.ring)
        changed = set(ev.accounts) - ring.members
        for a in ev.accounts:
            old = self.ring_of.get(a)
            if old is not None and old is not ring:
                old.members.discard(a)  # rings merged at the coordinator
            self.ring_of[a] = ring
        ring.members.update(ev.accounts)
        if ev.confirmed != ring.confirmed:
            changed |= ring.members
        ring.size, ring.confirmed = ev.size, ev.confirmed
        return changed

    def on_keys(self, ev: KeysNoticed) -> None:
        """Record shared-key counts."""
        for kc in ev.keys:
            self.keys[(kc.kind, kc.key)] = kc

    def on_created(self, created: dict[str, float], now: float) -> None:
        """Record fresh accounts of other partitions; forget those older than a week."""
        for a, t in created.items():
            self.created[a] = t
            self._created_order.append((t, a))
        q = self._created_order
        while q and q[0][0] < now - WEEK:
            t, a = q.popleft()
            if self.created.get(a) == t:
                del self.created[a]

    def stream_ended(self, stream: str) -> None:
        """Forget a finished room's cluster view."""
        self.cluster_of.pop(stream, None)
