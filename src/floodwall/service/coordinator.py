"""`floodwall coordinator`: the coordinator as its own JetStream consumer, into the partitions' logs once.

Design (crash safety, as the workers'):

- It reads every partition's sketches (``fw.<run>.sketch.*``) with an ordered consumer, strictly in
  stream order, so its state (:class:`~floodwall.coordination.coordinator.Coordinator`) is a
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
import gc
import logging
import os
import signal
import threading
import time

import sqlalchemy as sa

from floodwall.adapters.nats_log import (
    decode_sketch,
    encode_batches,
    ensure_stream,
    events_subject,
    sketch_subject,
    stream_name,
)
from floodwall.adapters.store import _insert_ignore
from floodwall.coordination.coordinator import Coordinator
from floodwall.events import Sketch
from floodwall.service.runtime import enqueue_write, open_store, run_async
from floodwall.service.tables import bank_entries, coord_batches

log = logging.getLogger("floodwall.coordinator")

WRITE_AHEAD = 8  # groups of sketches published but not yet committed, at most


def committed_offset(engine: sa.Engine, run: str) -> int:
    """The last sketch sequence whose effects are published and committed (0 if none)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(coord_batches.c.seq)).where(coord_batches.c.run == run)).scalar() or 0


def bank_rows(run: str, sk: Sketch, now: float) -> list[dict]:
    """Rows of ``bank_entries`` for the content a sketch confirmed (or judged fine)."""
    return [{"run": run, "bank": c.bank, "hash": h, "source": c.source, "note": f"{c.stream} in partition {sk.partition}",
             "added_at": now, "removed": False} for c in sk.confirmed for h in c.hashes]


class CoordinatorService:
    """Consumes every partition's sketches; see the module docstring for the exactly-once design."""

    def __init__(self, *, nats_url: str, store_url: str, run: str, partitions: int, policy: str = "floodwall",
                 fetch: int = 64) -> None:
        self.nats_url, self.run, self.partitions = nats_url, run, partitions
        self.store = open_store(store_url, run)
        self.coordinator = Coordinator(partitions, policy=policy)
        self.fetch = fetch
        self.offset = committed_offset(self.store.engine, run)
        self.handled = self.rebuilt = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish the sketches in hand, then exit."""
        self._stop.set()

    async def run_forever(self, idle_exit: float | None = None) -> None:
        """Consume until stopped (or idle for ``idle_exit`` seconds)."""
        import nats
        from nats.js.api import ConsumerConfig, DeliverPolicy

        nc = await nats.connect(self.nats_url, connect_timeout=5, max_reconnect_attempts=-1)
        js = nc.jetstream()
        await ensure_stream(js, self.run)
        sub = await js.subscribe(sketch_subject(self.run, "*"), stream=stream_name(self.run), ordered_consumer=True,
                                 idle_heartbeat=2.0, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
                                 pending_bytes_limit=256 * 1024 * 1024)
        log.info("coordinator run %s over %d partitions: committed offset %d, rebuilding", self.run,
                 self.partitions, self.offset)
        idle_since = time.monotonic()
        writes: asyncio.Queue = asyncio.Queue(maxsize=WRITE_AHEAD)
        writer = asyncio.create_task(self._writer(writes))
        while not self._stop.is_set():
            try:
                msgs = [await sub.next_msg(timeout=0.5)]
            except nats.errors.TimeoutError:
                if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            while len(msgs) < self.fetch and sub.pending_msgs > 0:
                msgs.append(await sub.next_msg(timeout=1.0))
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
                sent = 0
                for q, events in sorted(out.items()):
                    sent += len(events)
                    for k, payload in enumerate(encode_batches(events)):
                        publishes.append(js.publish(events_subject(self.run, q), payload, stream=stream_name(self.run),
                                                    headers={"Nats-Msg-Id": f"co.{seq}.{q}.{k}"}))
                done.append((seq, sk, sent))
            if done:  # committed in a writer thread, in order, once its notices are in the partitions' logs
                acks = [asyncio.ensure_future(p) for p in publishes]
                await enqueue_write(writes, writer, (done, self.coordinator.level, acks))
        await enqueue_write(writes, writer, None)
        await writer
        await nc.close()

    async def _writer(self, writes: asyncio.Queue) -> None:
        """Commit queued sketches in order; those that queued up meanwhile go in one transaction."""
        while (item := await writes.get()) is not None:
            done, level, acks = list(item[0]), item[1], list(item[2])
            last = False
            while not writes.empty():
                more = writes.get_nowait()
                if more is None:
                    last = True
                    break
                done += more[0]
                level = more[1]
                acks += more[2]
            await asyncio.gather(*acks)
            await asyncio.to_thread(self._commit, done, level)
            self.offset = max(self.offset, max(seq for seq, _, _ in done))
            if last:
                break

    def _commit(self, done: list[tuple[int, Sketch, int]], level: int) -> None:
        """Offsets and bank entries of several sketches in one transaction."""
        now = time.time()
        eng = self.store.engine
        rows = [{"run": self.run, "seq": seq, "partition": sk.partition, "sketch": sk.seq, "sent": sent,
                 "level": level, "committed": now} for seq, sk, sent in done]
        banked = [r for _, sk, _ in done for r in bank_rows(self.run, sk, now)]
        withdrawn = [s for _, sk, _ in done for s in sk.withdrawn]
        with eng.begin() as conn:
            if banked:
                conn.execute(_insert_ignore(eng, bank_entries), banked)
            if withdrawn:
                conn.execute(bank_entries.update().where(bank_entries.c.run == self.run,
                                                         bank_entries.c.source.in_(withdrawn)).values(removed=True))
            conn.execute(coord_batches.insert(), rows)


def run_coordinator(*, nats_url: str, store_url: str, run: str, partitions: int, policy: str,
                    idle_exit: float | None = None) -> int:
    """Blocking entry point of `floodwall coordinator`; stops cleanly on SIGTERM or SIGINT."""
    from floodwall.service.logs import setup_json_logging

    setup_json_logging()
    c = CoordinatorService(nats_url=nats_url, store_url=store_url, run=run, partitions=partitions, policy=policy)
    gc.collect()
    gc.freeze()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, c.stop)
        await c.run_forever(idle_exit=idle_exit)

    run_async(main)
    log.info("coordinator exiting: %d sketches handled, %d rebuilt (pid %d)", c.handled, c.rebuilt, os.getpid())
    return 0
