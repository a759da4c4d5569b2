"""`floodwall coordinator`: the coordinator as its own JetStream consumer, into the partitions' logs once.

Design (crash safety, as the workers'):

- It reads every partition's sketches (``fw.<run>.sketch.*``) with an ordered consumer, strictly in
  stream order, so its state (:class:`~floodwall.partitions.coordinator.Coordinator`) is a
  function of the sketch stream.
- For each sketch it publishes what each partition must hear as one message per partition, with a
  ``Nats-Msg-Id`` naming the sketch and the partition, and awaits JetStream's acks. Then it commits
  the sketch's offset (``coord_batches``), with the bank entries the sketch confirmed or withdrew
  (``bank_entries``: what ``GET /v1/banks/{name}/export`` serves), in one transaction.
- On start it reads its committed offset O and re-handles sketches 1..O with nothing published,
  rebuilding its state. A crash between publishing and committing re-publishes the same messages:
  JetStream drops them within its duplicate window, and the engines drop their events by id after it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import sqlalchemy as sa

from floodwall.adapters.nats_log import (
    decode_sketch,
    encode_batches,
    events_subject,
    sketch_subject,
    stream_name,
)
from floodwall.partitions.coordinator import Coordinator
from floodwall.events import Sketch
from floodwall.persistence.dml import insert_ignore
from floodwall.persistence.tables import bank_entries, coord_batches
from floodwall.service.consumer import LogConsumer, run_process
from floodwall.service.metrics import Metrics
from floodwall.service.runtime import open_store

log = logging.getLogger("floodwall.coordinator")


def committed_offset(engine: sa.Engine, run: str) -> int:
    """The last sketch sequence whose effects are published and committed (0 if none)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(coord_batches.c.seq)).where(coord_batches.c.run == run)).scalar() or 0


def bank_rows(run: str, sk: Sketch, now: float) -> list[dict]:
    """Rows of ``bank_entries`` for the content a sketch confirmed (or judged fine)."""
    return [{"run": run, "bank": c.bank, "hash": h, "source": c.source, "note": f"{c.stream} in partition {sk.partition}",
             "added_at": now, "removed": False} for c in sk.confirmed for h in c.hashes]


class CoordinatorService(LogConsumer):
    """Consumes every partition's sketches; see the module docstring for the exactly-once design."""

    def __init__(self, *, nats_url: str, store_url: str, run: str, partitions: int, policy: str = "floodwall",
                 fetch: int = 64) -> None:
        super().__init__(nats_url, run, Metrics())
        self.subject = sketch_subject(run, "*")
        self.partitions = partitions
        self.store = open_store(store_url, run)
        self.coordinator = Coordinator(partitions, policy=policy)
        self.fetch = fetch
        self.offset = committed_offset(self.store.engine, run)
        self.handled = self.rebuilt = 0
        self.metrics.incident_level.set_function(lambda: self.coordinator.level)

    def _started(self) -> None:
        log.info("coordinator run %s over %d partitions: committed offset %d, rebuilding", self.run,
                 self.partitions, self.offset)

    async def _group(self, nc, js, msgs: list) -> tuple | None:
        """Fold the sketches in and publish their notices; what to commit once JetStream has them."""
        done: list[tuple[int, Sketch, int]] = []
        publishes = []
        for m in msgs:
            seq = m.metadata.sequence.stream
            sk = decode_sketch(m.data)
            out = self.coordinator.handle(sk)
            if seq <= self.offset:  # published and committed before a restart: rebuild only
                self.rebuilt += 1
                continue
            self.handled += 1
            self.metrics.log_lag.observe(max(0.0, time.time() - m.metadata.timestamp.timestamp()))
            sent = 0
            for q, events in sorted(out.items()):
                sent += len(events)
                for ev in events:
                    self.metrics.notices.labels(type(ev).__name__).inc()
                for k, payload in enumerate(encode_batches(events)):
                    publishes.append(asyncio.ensure_future(js.publish(
                        events_subject(self.run, q), payload, stream=stream_name(self.run),
                        headers={"Nats-Msg-Id": f"co.{seq}.{q}.{k}"})))
            done.append((seq, sk, sent))
        return (done, self.coordinator.level, publishes) if done else None

    async def _commit(self, nc, items: list[tuple]) -> None:
        """One transaction for the sketches, after their notices' acks."""
        done = [d for it in items for d in it[0]]
        await asyncio.gather(*(a for it in items for a in it[2]))
        await asyncio.to_thread(self._write, done, items[-1][1])
        self.offset = max(self.offset, max(seq for seq, _, _ in done))

    def _write(self, done: list[tuple[int, Sketch, int]], level: int) -> None:
        """Offsets and bank entries of several sketches in one transaction."""
        now = time.time()
        eng = self.store.engine
        rows = [{"run": self.run, "seq": seq, "partition": sk.partition, "sketch": sk.seq, "sent": sent,
                 "level": level, "committed": now} for seq, sk, sent in done]
        banked = [r for _, sk, _ in done for r in bank_rows(self.run, sk, now)]
        withdrawn = [s for _, sk, _ in done for s in sk.withdrawn]
        with eng.begin() as conn:
            if banked:
                conn.execute(insert_ignore(eng, bank_entries), banked)
            if withdrawn:
                conn.execute(bank_entries.update().where(bank_entries.c.run == self.run,
                                                         bank_entries.c.source.in_(withdrawn)).values(removed=True))
            conn.execute(coord_batches.insert(), rows)


def run_coordinator(*, nats_url: str, store_url: str, run: str, partitions: int, policy: str,
                    idle_exit: float | None = None, metrics_port: int | None = None) -> int:
    """Blocking entry point of `floodwall coordinator`; stops cleanly on SIGTERM or SIGINT."""
    from floodwall.service.logs import setup_json_logging

    setup_json_logging()
    c = CoordinatorService(nats_url=nats_url, store_url=store_url, run=run, partitions=partitions, policy=policy)
    run_process(c, metrics_port=metrics_port, idle_exit=idle_exit)
    log.info("coordinator exiting: %d sketches handled, %d rebuilt (pid %d)", c.handled, c.rebuilt, os.getpid())
    return 0
