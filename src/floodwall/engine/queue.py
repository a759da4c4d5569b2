"""The review queue: one item per report (the baseline) or one harm-ranked case per stream or cluster."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field


@dataclass
class ReviewItem:
    """A unit of human work: what it covers and why it is here."""

    id: str
    kind: str  # "report", "stream" or "cluster"
    key: str  # the stream or cluster it is about
    streams: set[str]
    created: float
    priority: float = 0.0
    evidence: dict = field(default_factory=dict)
    status: str = "open"  # open -> taken -> decided
    decided_at: float | None = None
    violating: bool | None = None
    reviewer: str = ""
    note: str = ""


@dataclass
class Decision:
    """One human decision, as the console's history shows it (undone_at set once reversed)."""

    item: str
    ts: float
    reviewer: str
    violating: bool | None
    note: str = ""
    rooms: list[str] = field(default_factory=list)
    undone_at: float | None = None
    undone_by: str = ""


class ReviewQueue:
    """FIFO ("fifo") or highest expected harm first ("case"); counts what it was given."""

    def __init__(self, mode: str = "case") -> None:
        if mode not in ("fifo", "case"):
            raise ValueError(f"review mode must be 'fifo' or 'case', not {mode!r}")
        self.mode = mode
        self.items: dict[str, ReviewItem] = {}
        self._fifo: deque[str] = deque()
        self._heap: list[tuple[float, int, str]] = []
        self._by_key: dict[str, str] = {}
        self._seq = itertools.count()
        self.created = 0
        self.depth = 0
        self.max_depth = 0
        self.history: list[Decision] = []  # every decision in order, undone ones marked

    def _new(self, kind: str, key: str, streams: set[str], now: float, priority: float, evidence: dict) -> ReviewItem:
        self.created += 1
        item = ReviewItem(id=f"rv-{self.created}", kind=kind, key=key, streams=streams, created=now,
                          priority=priority, evidence=evidence)
        self.items[item.id] = item
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        return item

    def push_report(self, stream: str, reporter: str, now: float, reason: str = "") -> ReviewItem:
        """The baseline's way: every report is its own item, first in first out."""
        item = self._new("report", stream, {stream}, now, 0.0, {"reporter": reporter, "reason": reason})
        self._fifo.append(item.id)
        return item

    def open_case(self, kind: str, key: str, streams: set[str], now: float, priority: float,
                  evidence: dict) -> tuple[ReviewItem, bool]:
        """Open a case for key, or update the open one; returns (item, created)."""
        existing = self._by_key.get(key)
        if existing is not None and self.items[existing].status == "open":
            item = self.items[existing]
            item.streams |= streams
            item.evidence.update(evidence)
            self.reprioritise(item.id, max(priority, item.priority))
            return item, False
        item = self._new(kind, key, set(streams), now, priority, dict(evidence))
        self._by_key[key] = item.id
        if self.mode == "fifo":
            self._fifo.append(item.id)
        else:
            heapq.heappush(self._heap, (-priority, next(self._seq), item.id))
        return item, True

    def reprioritise(self, item_id: str, priority: float) -> None:
        """Change an open case's expected harm (stale heap entries are skipped on pop)."""
        item = self.items[item_id]
        if item.status != "open" or priority == item.priority:
            return
        item.priority = priority
        if self.mode == "case":
            heapq.heappush(self._heap, (-priority, next(self._seq), item_id))

    def peek(self) -> ReviewItem | None:
        """The item ``pop`` would take next, left in the queue (entries no longer open are dropped)."""
        while self._fifo:
            item = self.items[self._fifo[0]]
            if item.status == "open":
                return item
            self._fifo.popleft()
        while self._heap:
            neg, _, iid = self._heap[0]
            item = self.items[iid]
            if item.status == "open" and -neg == item.priority:
                return item
            heapq.heappop(self._heap)  # stale: a decided item, or an older priority
        return None

    def pop(self) -> ReviewItem | None:
        """Take the next item for a reviewer."""
        item = self.peek()
        if item is None:
            return None
        if self._fifo:
            self._fifo.popleft()
        else:
            heapq.heappop(self._heap)
        return self._take(item)

    def _take(self, item: ReviewItem) -> ReviewItem:
        item.status = "taken"
        return item

    def requeue(self, item_id: str) -> None:
        """Put a taken item back, at its priority, for another reviewer (a case that needs a second opinion)."""
        item = self.items[item_id]
        if item.status != "taken":
            return  # still open (decided without being taken): it is in the queue already
        item.status = "open"
        if self.mode == "fifo" or item.kind == "report":
            self._fifo.append(item.id)
        else:
            heapq.heappush(self._heap, (-item.priority, next(self._seq), item.id))

    def close(self, item_id: str, now: float, violating: bool | None, reviewer: str = "", note: str = "",
              rooms: list[str] | None = None) -> ReviewItem:
        """Record a decision (None: closed without one, e.g. nothing left to act on)."""
        item = self.items[item_id]
        if item.status == "decided":
            return item
        item.status = "decided"
        item.decided_at = now
        item.violating = violating
        item.reviewer = reviewer
        item.note = note
        self.depth -= 1
        if violating is not None:
            self.history.append(Decision(item_id, now, reviewer, violating, note, sorted(rooms or item.streams)))
        return item

    def reopen(self, item_id: str, now: float, reviewer: str) -> Decision | None:
        """Undo an item's last decision and put it back in the queue; the undone decision, or None."""
        item = self.items[item_id]
        if item.status != "decided":
            return None
        last = next((d for d in reversed(self.history) if d.item == item_id and d.undone_at is None), None)
        if last is not None:
            last.undone_at, last.undone_by = now, reviewer
        item.status, item.decided_at, item.violating, item.reviewer = "open", None, None, ""
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        self._by_key[item.key] = item.id
        if self.mode == "fifo" or item.kind == "report":
            self._fifo.append(item.id)
        else:
            heapq.heappush(self._heap, (-item.priority, next(self._seq), item.id))
        return last

    def open_items(self) -> list[ReviewItem]:
        """Items not yet decided, best first."""
        live = [i for i in self.items.values() if i.status != "decided"]
        return sorted(live, key=lambda i: (-i.priority, i.created))
