"""`floodwall worker`: one partition of the JetStream log through the engine, exactly once into the store.

Design (crash safety):

- Each log message (a batch of events for one partition) is one engine batch, on event time
  (:class:`EventClock`). The engine's state is therefore a function of the partition's messages.
- The partition is read with an ordered consumer: strictly in stream order, from the start
  (``service/consumer.py``, shared with the coordinator).
- The verdicts and actions of the messages taken together, their rows in ``log_batches`` (the
  partition's committed offset) and the mirror of review cases are written in ONE store
  transaction (group commit), by a writer thread while the next messages are handled. Action keys
  are primary keys, so an order is stored once. The committed offset is the acknowledgement: no
  JetStream acks are needed.
- On start the worker reads its committed offset O and replays messages 1..O with the store and
  enforcer muted (rebuilding state, re-sending nothing), then handles O+1.. live. A crash between
  the engine and the commit just means those messages are handled again after the restart, on the
  same state, with the same result. Events are also deduplicated by id.
- With more than one partition the engine runs as one partition of many: after each live message
  it publishes a sketch of it (frame hashes, keys, confirmations) to ``fw.<run>.sketch.<p>`` for the
  coordinator, and awaits the ack *before* the commit, with a ``Nats-Msg-Id`` naming the message. A
  sketch is therefore never lost (a crash before the commit re-sends it under the same id, which
  JetStream, or else the coordinator, drops). What the coordinator answers arrives in this
  partition's own log, like any event.
- A second worker must not own the same partition at the same time (no fencing is built).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import zlib
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa

from floodwall.adapters.nats_log import (
    case_id,
    decode_batch,
    encode_sketch,
    events_subject,
    sketch_subject,
    stream_name,
)
from floodwall.events import ActionOrder, DeadLetter, FrameSampled, Sketch, StreamStarted, Verdict
from floodwall.persistence import tables
from floodwall.persistence.dml import insert_ignore
from floodwall.response.incident import IncidentResponse
from floodwall.response.outbox import message_rows
from floodwall.service.consumer import LogConsumer, run_process
from floodwall.service.metrics import Metrics
from floodwall.service.poison import dead_event, handle_isolated, insert_isolated
from floodwall.service.runtime import (
    EventClock,
    OutboxEnforcer,
    build_engine,
    open_store,
)

__all__ = ["CaptureStore", "Worker", "committed_offset", "run_worker"]

log = logging.getLogger("floodwall.worker")

class CaptureStore:
    """The engine's store port, buffering one batch for the worker's single transaction."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []
        self.orders: list[ActionOrder] = []
        self.reports: list[dict] = []  # kept until the commit that carries their batch's offset

    def record_reports(self, rows: list[dict]) -> None:
        """Buffer reports (the worker commits them with the batch)."""
        self.reports.extend(rows)

    def record(self, verdicts: Sequence[Verdict], orders: Sequence[ActionOrder]) -> None:
        """Buffer (the worker commits)."""
        self.verdicts.extend(verdicts)
        self.orders.extend(orders)

    def take(self) -> tuple[list[Verdict], list[ActionOrder]]:
        """What the last batch produced; clears the buffer."""
        out = (self.verdicts, self.orders)
        self.verdicts, self.orders = [], []
        return out


def committed_offset(engine: sa.Engine, run: str, partition: int) -> int:
    """The last log sequence whose results are in the store (0 if none)."""
    with engine.connect() as conn:
        lb = tables.log_batches
        q = sa.select(sa.func.max(lb.c.seq)).where(lb.c.run == run, lb.c.partition == partition)
        return conn.execute(q).scalar() or 0


class Worker(LogConsumer):
    """Consumes one partition; see the module docstring for the exactly-once design."""

    def __init__(self, *, nats_url: str, store_url: str, run: str, partition: int, partitions: int,
                 policy: str = "floodwall", fetch: int = 32, image_model: str = "none") -> None:
        if not 0 <= partition < partitions:
            raise ValueError(f"partition must be in 0..{partitions - 1}")
        super().__init__(nats_url, run, Metrics())
        self.subject = events_subject(run, partition)
        self.partition, self.partitions = partition, partitions
        self.store = open_store(store_url, run)
        self.clock = EventClock()
        self.capture = CaptureStore()
        self.enforcer = OutboxEnforcer(self.metrics)
        # Incident response plays the playbook in every partition; with several partitions the level is
        # the coordinator's (a follower), judged on every partition's counts. Owner messages go into the
        # outbox table with the batch's commit (not through the responder), so they are written once.
        self.coordinated = partitions > 1
        responder = IncidentResponse.for_policy(policy, None, follower=self.coordinated)
        self.engine = build_engine(policy, clock=self.clock, store=self.capture, enforcer=self.enforcer,
                                   responder=responder, image_model=image_model)
        if self.coordinated:
            self.engine.partitioned()
        self.fetch = fetch
        # Verdict ids restart at v1 in every engine: prefix them per run and partition (they are keys).
        self.vprefix = f"{zlib.crc32(run.encode()):08x}.p{partition}."
        self.offset = committed_offset(self.store.engine, run, partition)
        self._open_cases: set[str] = set()
        self._decided_cases: set[str] = set()  # mirrored as decided: an undo reopens them
        self._cases_seen = 0
        self.handled = self.rebuilt = 0
        self.beat_name = f"worker.{partition}"  # the API answers 503 while a partition's worker is silent

    def _beat_info(self) -> dict:
        """The partition and how far it committed."""
        return {"partition": self.partition, "offset": self.offset}

    def _started(self) -> None:
        log.info("worker p%d/%d run %s: committed offset %d, rebuilding", self.partition, self.partitions,
                 self.run, self.offset)

    async def _group(self, nc, js, msgs: list) -> tuple | None:
        """Handle the messages; sketches go out now, and the rows to commit once JetStream has them."""
        pending = [row for m in msgs if (row := await self._handle(nc, m)) is not None]
        if not pending:
            return None
        return self._prepare(pending), pending, self._send_sketches(js, pending)

    async def _commit(self, nc, items: list[tuple]) -> None:
        """One transaction for the groups, after their sketches' acks (a sketch is never lost)."""
        batch = {k: [x for it in items for x in it[0][k]] for k in items[0][0]}
        rows = [r for it in items for r in it[1]]
        await asyncio.gather(*(a for it in items for a in it[2]))
        await asyncio.to_thread(self._write, batch)
        self.offset = max(self.offset, max(r[0] for r in rows))
        committed = time.time()
        for r in rows:
            published = float(r[4].get("Fw-Published", 0) or 0)
            if published:
                self.metrics.event_to_verdict.observe(max(0.0, committed - published))
        self.metrics.incident_level.set(self.engine.incident_level)
        await self._progress(nc, rows)

    async def _handle(self, nc, m) -> tuple | None:
        """Run one message through the engine; its rows to commit (None when rebuilding)."""
        seq = m.metadata.sequence.stream
        headers = m.headers or {}
        try:
            events = decode_batch(m.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # poison: keep it, move the offset on
            if seq <= self.offset:
                return None
            log.error("worker p%d: log message %d does not decode: %s", self.partition, seq, exc)
            why = f"log message {seq} does not decode: {exc}"[:2000]
            return (seq, [], [], [], headers, None,
                    [DeadLetter(raw=bytes(m.data[:10_000]).decode("utf-8", "replace"), field="", reason=why)])
        self.clock.observe(events)
        if seq <= self.offset:  # already in the store: rebuild state only
            self.enforcer.muted = True
            try:
                handle_isolated(self.engine.handle, self.engine, events)  # its poison was dead-lettered then
            finally:
                self.enforcer.muted = False
            self.capture.take()
            self.capture.reports.clear()  # stored before the crash, with this offset
            if self.engine.sketch is not None:
                self.engine.sketch.take()  # sent before the crash (sketches go out before the commit)
            self.rebuilt += 1
            return None
        t0 = time.perf_counter()
        self.metrics.log_lag.observe(max(0.0, time.time() - m.metadata.timestamp.timestamp()))
        reply = headers.get("Fw-Reply")
        repeats = {ev.id for ev in events if type(ev) is StreamStarted and self.engine.seen(ev.id)} if reply else set()
        failed = handle_isolated(self.engine.handle, self.engine, events)
        dead = [dead_event(ev, why) for ev, why in failed]
        verdicts, orders = self.capture.take()
        if reply:
            # The go-live gate waits on this. Answering before the commit is safe: if this worker dies
            # before committing, the message is handled again after the restart on the same state and
            # gives the same verdict (the engine is deterministic on the log).
            for ev in events:
                if type(ev) is StreamStarted:
                    v = next((x for x in reversed(verdicts) if x.subject == "stream" and x.key == ev.stream), None)
                    vd = msgspec.to_builtins(v) if v is not None else None
                    if vd is not None:
                        vd["id"] = self.vprefix + vd["id"]  # as stored
                    body = {"event": ev.id, "stream": ev.stream, "account": ev.account, "verdict": vd,
                            "orders": [msgspec.to_builtins(o) for o in orders if o.target in (ev.stream, ev.account)],
                            "duplicate": ev.id in repeats}
                    await nc.publish(reply, msgspec.json.encode(body))
        self.handled += 1
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        got = self.engine.sketch.take() if self.engine.sketch is not None else None
        sketch = Sketch(partition=self.partition, seq=seq, ts=self.clock.now(), **got) if got else None
        return (seq, events, verdicts, orders, headers, sketch, dead)

    def _send_sketches(self, js, rows: list[tuple]) -> list[asyncio.Task]:
        """Publish the messages' sketches for the coordinator; the acks to await before their commit."""
        subject, stream = sketch_subject(self.run, self.partition), stream_name(self.run)
        return [asyncio.ensure_future(js.publish(subject, encode_sketch(r[5]), stream=stream,
                                                 headers={"Nats-Msg-Id": f"sk.{self.partition}.{r[0]}"}))
                for r in rows if r[5] is not None]

    async def _progress(self, nc, rows) -> None:
        """Progress of a committed group for dashboards (core NATS: fire and forget)."""
        await nc.publish(f"fw.{self.run}.done.{self.partition}", msgspec.json.encode({
            "seq": max(r[0] for r in rows), "messages": len(rows), "events": sum(len(r[1]) for r in rows),
            "verdicts": sum(len(r[2]) for r in rows), "done": time.time(),
            "frames": sum(type(e) is FrameSampled for r in rows for e in r[1])}))

    def _prepare(self, rows: list[tuple]) -> dict:
        """The rows a group of messages writes, read off the engine now (the write may run in a thread)."""
        p = self.vprefix
        vrows, arows, brows = [], [], []
        now = time.time()
        outbox_rows: list[dict] = []
        accounts = self.engine.accounts

        def phone(aid: str) -> str:
            return accounts[aid].phone if aid in accounts else ""

        dead: list[dict] = []
        for seq, events, verdicts, orders, headers, _sk, poison in rows:
            dead += [{"run": self.run, "field": d.field, "reason": d.reason, "line": None, "raw": d.raw} for d in poison]
            vrows += [{"id": p + v.id, "run": self.run, "ts": v.ts, "subject": v.subject, "key": v.key,
                       "action": v.action, "shadow": v.shadow, "policy": v.policy, "rules": v.rules,
                       "shadow_rules": v.shadow_rules, "evidence": msgspec.to_builtins(v.evidence)} for v in verdicts]
            arows += [{"key": o.key, "run": self.run, "ts": o.ts, "action": o.action, "subject": o.subject,
                       "target": o.target, "verdict": p + o.verdict, "reason": o.reason} for o in orders]
            brows.append({"run": self.run, "partition": self.partition, "seq": seq, "events": len(events),
                          "verdicts": len(verdicts), "incident_level": int(self.engine.incident_level),
                          "published": float(headers.get("Fw-Published", 0) or 0) or None, "committed": now})
            for v in verdicts:
                self.metrics.verdicts.labels(v.action, "shadow" if v.shadow else "live").inc()
            outbox_rows += message_rows(self.run, orders, phone)
        reports, self.capture.reports = [{**r, "run": self.run} for r in self.capture.reports], []
        decided, new_cases = self._mirror_cases()
        return {"reports": reports, "outbox": outbox_rows, "verdicts": vrows, "actions": arows,
                "decided": decided, "cases": new_cases, "batches": brows, "dead": dead,
                "reopened": self._reopened()}

    def _write(self, w: dict) -> None:
        """One transaction: everything a group of messages produced, and their offsets.

        If the database refuses a row (poison), the same transaction is written again row by row in
        savepoints: the refused rows become dead letters and the offset still moves on, so a restart
        never meets the same row again.
        """
        try:
            self._write_all(w)
        except sa.exc.SQLAlchemyError as exc:
            log.error("worker p%d: the store refused a group (%s); writing it row by row", self.partition,
                      type(exc).__name__)
            self._write_isolated(w)

    def _write_isolated(self, w: dict) -> None:
        """Everything but the rows the database refuses, and those as dead letters, in one transaction."""
        eng = self.store.engine
        dead = []
        with eng.begin() as conn:
            for name, stmt in (("reports", insert_ignore(eng, tables.reports)),
                               ("outbox", insert_ignore(eng, tables.outbox)),
                               ("verdicts", tables.verdicts.insert()),
                               ("actions", insert_ignore(eng, tables.actions)),
                               ("cases", insert_ignore(eng, tables.cases))):
                dead += insert_isolated(conn, stmt, w[name], name)
            self._update_cases(conn, w)
            rows = w["dead"] + [{"run": self.run, "field": d.field, "reason": d.reason, "line": None, "raw": d.raw}
                                for d in dead]
            if rows:
                conn.execute(tables.dead_letters.insert(), rows)
            conn.execute(tables.log_batches.insert(), w["batches"])

    def _write_all(self, w: dict) -> None:
        eng = self.store.engine
        with eng.begin() as conn:
            if w["dead"]:
                conn.execute(tables.dead_letters.insert(), w["dead"])
            if w["reports"]:
                conn.execute(insert_ignore(eng, tables.reports), w["reports"])
            if w["outbox"]:  # owner messages, once: the courier of `floodwall serve --notify` delivers them
                conn.execute(insert_ignore(eng, tables.outbox), w["outbox"])
            if w["verdicts"]:
                conn.execute(tables.verdicts.insert(), w["verdicts"])
            if w["actions"]:
                conn.execute(insert_ignore(eng, tables.actions), w["actions"])
            self._update_cases(conn, w)
            if w["cases"]:
                conn.execute(insert_ignore(eng, tables.cases), w["cases"])
            conn.execute(tables.log_batches.insert(), w["batches"])

    def _update_cases(self, conn: sa.Connection, w: dict) -> None:
        """Mirror decisions and undos onto the cases the API lists (in the group's transaction)."""
        cs = tables.cases
        for cid, violating, reviewer in w["decided"]:
            conn.execute(cs.update().where(cs.c.run == self.run, cs.c.id == cid)
                         .values(status="decided", violating=violating, reviewer=reviewer))
        for cid in w.get("reopened", ()):
            conn.execute(cs.update().where(cs.c.run == self.run, cs.c.id == cid).values(status="open"))

    def _mirror_cases(self) -> tuple[list[tuple], list[dict]]:
        """Review items that changed status, and new ones, so the API can list and route them."""
        q = self.engine.review
        items = q.items
        changed = [items[i] for i in self._open_cases if items[i].status == "decided"]
        new = [items[f"rv-{n}"] for n in range(self._cases_seen + 1, q.created + 1) if f"rv-{n}" in items]
        self._cases_seen = q.created
        decided = []
        for it in changed:
            self._open_cases.discard(it.id)
            self._decided_cases.add(it.id)
            decided.append((case_id(self.partition, it.id), it.violating, it.reviewer))
        rows = []
        for it in new:
            (self._open_cases if it.status != "decided" else self._decided_cases).add(it.id)
            rows.append({"id": case_id(self.partition, it.id), "run": self.run, "kind": it.kind, "key": it.key,
                         "status": "open" if it.status != "decided" else "decided", "priority": it.priority,
                         "created": it.created, "streams": len(it.streams),
                         "evidence": msgspec.to_builtins(it.evidence) if it.evidence else {},
                         "violating": it.violating, "reviewer": it.reviewer})
        return decided, rows


    def _reopened(self) -> list[str]:
        """Decided cases an undo (review_reversed) reopened since the last batch, as the API names them."""
        items = self.engine.review.items
        back = [i for i in self._decided_cases if items[i].status != "decided"]
        for i in back:
            self._decided_cases.discard(i)
            self._open_cases.add(i)
        return [case_id(self.partition, i) for i in back]


def run_worker(*, nats_url: str, store_url: str, run: str, partition: int, partitions: int, policy: str,
               idle_exit: float | None = None, image_model: str = "none", metrics_port: int | None = None) -> int:
    """Blocking entry point of `floodwall worker`; stops cleanly on SIGTERM or SIGINT."""
    from floodwall.service.logs import setup_json_logging

    setup_json_logging()
    w = Worker(nats_url=nats_url, store_url=store_url, run=run, partition=partition, partitions=partitions,
               policy=policy, image_model=image_model)
    run_process(w, metrics_port=metrics_port, idle_exit=idle_exit)
    log.info("worker p%d exiting: %d messages handled, %d rebuilt (pid %d)", partition, w.handled, w.rebuilt,
             os.getpid())
    return 0
