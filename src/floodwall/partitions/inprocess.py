"""A partitioned deployment in one process: N engines, one per partition of accounts, and a coordinator.

The same engines, partitioner and coordinator as the NATS service, with the log replaced by lists:
events are split by :class:`Partitioner`, each engine handles its share, its sketch goes to the
:class:`Coordinator`, and what the coordinator answers reaches the partitions with their next batch
(one tick later, as an asynchronous hop would). The replay uses it to measure what partitioning
costs, with and without the coordinator (``bench/bench_partitions.py``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

from floodwall.partitions.coordinator import Coordinator
from floodwall.coordination.partition import Partitioner, case_id
from floodwall.engine.engine import Engine
from floodwall.events import ActionOrder, Event, Sketch
from floodwall.engine.queue import ReviewItem, ReviewQueue


class PartitionQueues:
    """The partitions' review queues seen as one: the highest expected harm first, ids as the service's."""

    def __init__(self, queues: list[ReviewQueue]) -> None:
        self.queues = queues

    def pop(self) -> ReviewItem | None:
        """The best open item over every partition (its id names its partition, ``p<i>:rv-n``)."""
        best, best_q = None, -1
        for q, queue in enumerate(self.queues):
            head = queue.peek()
            if head is not None and (best is None or head.priority > best.priority):
                best, best_q = head, q
        if best is None:
            return None
        item = self.queues[best_q].pop()
        return dataclasses.replace(item, id=case_id(best_q, item.id)) if item is not None else None

    @property
    def created(self) -> int:
        """Items opened, all partitions."""
        return sum(q.created for q in self.queues)

    @property
    def max_depth(self) -> int:
        """Sum of each partition's deepest queue (an upper bound of the combined depth)."""
        return sum(q.max_depth for q in self.queues)

    @property
    def depth(self) -> int:
        """Open items now, all partitions."""
        return sum(q.depth for q in self.queues)


class Partitioned:
    """Engines on a partitioned log with a coordinator between them, behind one ``handle``."""

    def __init__(self, engines: list[Engine], coordinator: Coordinator | None) -> None:
        if coordinator is not None and coordinator.partitions != len(engines):
            raise ValueError("the coordinator must know as many partitions as there are engines")
        self.engines = engines
        self.coordinator = coordinator
        for q, e in enumerate(engines):
            e.verdict_prefix = f"{e.policy.name}.p{q}"  # verdict ids stay unique in a shared store
        if coordinator is not None:
            for e in engines:
                e.partitioned()
        self.partitioner = Partitioner(len(engines))
        self.review = PartitionQueues([e.review for e in engines])
        self.pending: list[list] = [[] for _ in engines]
        self._seq = [0] * len(engines)
        self.policy = engines[0].policy
        self.clock = engines[0].clock

    def handle(self, events: Sequence[Event]) -> list[ActionOrder]:
        """One tick: every partition handles its share and what the coordinator sent it last tick."""
        groups = self.partitioner.split(events)
        orders: list[ActionOrder] = []
        for q, eng in enumerate(self.engines):
            batch, self.pending[q] = [*self.pending[q], *groups.get(q, [])], []
            orders += eng.handle(batch)
            if self.coordinator is None:
                continue
            got = eng.sketch.take()  # type: ignore[union-attr]
            if got is None:
                continue
            self._seq[q] += 1
            sk = Sketch(partition=q, seq=self._seq[q], ts=eng.clock.now(), **got)
            for r, evs in self.coordinator.handle(sk).items():
                self.pending[r].extend(evs)
        return orders

    def pause_all(self, reason: str) -> None:
        """The baseline's global shutdown: one order is enough."""
        self.engines[0].pause_all(reason)

    # ---- the figures a replay reports, summed over partitions ------------------------------------

    def _sum(self, name: str) -> int:
        return sum(getattr(e, name) for e in self.engines)

    events = property(lambda self: self._sum("events"))
    frames = property(lambda self: self._sum("frames"))
    frames_hashed = property(lambda self: self._sum("frames_hashed"))
    reports_received = property(lambda self: self._sum("reports_received"))
    reports_accepted = property(lambda self: self._sum("reports_accepted"))

    def _counted(self, name: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.engines:
            for k, n in getattr(e, name).items():
                out[k] += n
        return dict(out)

    actions_by_kind = property(lambda self: self._counted("actions_by_kind"), doc="Orders sent, by action.")
    shadow_hits = property(lambda self: self._counted("shadow_hits"), doc="Shadow-rule hits.")
    rule_error_counts = property(lambda self: self._counted("rule_error_counts"), doc="Run-time rule errors.")
    rule_errors = property(lambda self: sorted((x for e in self.engines for x in e.rule_errors),
                                               key=lambda x: (x["ts"], x["key"], x["rule"])),
                           doc="Run-time rule errors kept, all partitions, oldest first.")

    @property
    def shadow_subjects(self) -> dict[str, set[str]]:
        """What each shadow rule would have acted on, all partitions."""
        out: dict[str, set[str]] = defaultdict(set)
        for e in self.engines:
            for k, keys in e.shadow_subjects.items():
                out[k] |= keys
        return dict(out)

    @property
    def rings(self):
        """The coordinator's rings (every partition's accounts), else the first partition's."""
        if self.coordinator is not None and self.coordinator.rings is not None:
            return self.coordinator.rings
        return self.engines[0].rings

    @property
    def responder(self) -> _Responders | None:
        """Incident response over every partition (levels as the first partition saw them)."""
        rs = [e.responder for e in self.engines if e.responder is not None]
        return _Responders(rs) if rs else None


class _Responders:
    """The partitions' incident responses as one: one timeline, counts summed, one outbox."""

    def __init__(self, responders: list) -> None:
        self.responders = responders
        self.outbox = responders[0].outbox

    def timeline(self) -> list[dict]:
        """Level changes as the first partition took them (followers all take the coordinator's)."""
        return self.responders[0].timeline()

    def __getattr__(self, name: str) -> int:
        # probation_started, probation_lifted, held_golives, held_registrations: summed
        return sum(getattr(r, name) for r in self.responders)
