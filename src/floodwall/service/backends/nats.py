"""The NATS backend: ingest publishes to JetStream, the partitions' workers decide, reads come from the store."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence

import anyio
import msgspec
import sqlalchemy as sa

from floodwall.adapters.nats_log import JetStreamLog, parse_case_id
from floodwall.adapters.store import SqlStore
from floodwall.events import BankChanged, DeadLetter, Event, StreamStarted
from floodwall.persistence import tables
from floodwall.persistence.dml import insert_ignore
from floodwall.service.auth import ApiError
from floodwall.service.backends.base import Backend, gate_answer
from floodwall.service.metrics import Metrics

BUILT_IN_BANKS = (("confirmed", "block"), ("reviewed", "block"), ("honest", "allow"))  # every engine has them


class NatsBackend(Backend):
    """Ingest publishes to JetStream and returns after the ack; workers decide; reads come from the store."""

    mode = "nats"
    durable = True

    def __init__(self, url: str, run: str, partitions: int, store: SqlStore, metrics: Metrics,
                 gate_timeout: float = 5.0) -> None:
        super().__init__(store, metrics)
        self.log = JetStreamLog(url, run, partitions)
        self.run = run
        self.gate_timeout = gate_timeout
        self.reply_subject = f"fw.{run}.gate.{uuid.uuid4().hex[:12]}"
        self._waiting: dict[str, asyncio.Future] = {}
        self._gates: dict[int, list[StreamStarted]] = {}  # gate events waiting for their partition's next message
        self._gate_busy: set[int] = set()
        self._publishing = 0
        metrics.queue_depth.labels("publishing").set_function(lambda: self._publishing)
        # A worker that has not beaten for this long counts as dead (503 on ingest); at start, every
        # worker gets twice as long to appear.
        self.worker_timeout = float(os.environ.get("FLOODWALL_WORKER_TIMEOUT", "15"))
        self._beats: dict[int, float] = {}
        self._started_at = time.monotonic()

    async def start(self) -> None:
        """Connect, make the stream, listen for gate replies; the engines' built-in banks are listed."""
        await self.log.connect()

        def built_in() -> None:
            with self.store.engine.begin() as conn:
                conn.execute(insert_ignore(self.store.engine, tables.banks), [
                    {"run": self.run, "name": n, "kind": k, "created": 0.0} for n, k in BUILT_IN_BANKS])
        await anyio.to_thread.run_sync(built_in)

        async def on_reply(msg) -> None:
            body = msgspec.json.decode(msg.data)
            fut = self._waiting.pop(body.get("event"), None)
            if fut is not None and not fut.done():
                fut.set_result(body)

        await self.log.nc.subscribe(self.reply_subject, cb=on_reply)

        async def on_beat(msg) -> None:
            try:
                self._beats[int(msg.subject.rsplit(".", 1)[1])] = time.monotonic()
            except ValueError:
                pass

        self._started_at = time.monotonic()
        await self.log.nc.subscribe(f"fw.{self.run}.beat.worker.*", cb=on_beat)

    def silent_workers(self) -> list[int]:
        """Partitions whose worker has not beaten within the timeout (after the start-up grace)."""
        now = time.monotonic()
        out = []
        for p in range(self.log.partitioner.partitions):
            last = self._beats.get(p)
            if last is None:
                if now - self._started_at > 2 * self.worker_timeout:
                    out.append(p)
            elif now - last > self.worker_timeout:
                out.append(p)
        return out

    async def stop(self) -> None:
        """Drain the connection."""
        await self.log.close()

    async def ingest(self, events: Sequence[Event]) -> dict:
        """Publish by partition; return once JetStream has acked every message (durable)."""
        silent = self.silent_workers()
        if silent:
            raise ApiError(503, "worker_down", f"no heartbeat from the worker of partition(s) {silent} for over "
                           f"{self.worker_timeout:g} s; events are not accepted until it is back", partitions=silent)
        t0 = time.perf_counter()
        self._publishing += len(events)
        try:
            seqs = await self.log.publish(events, headers={"Fw-Published": repr(time.time())})
        except ValueError as exc:  # e.g. a review decision naming no partition
            raise ApiError(422, "invalid_event", str(exc)) from None
        finally:
            self._publishing -= len(events)
        self.metrics.publish_seconds.observe(time.perf_counter() - t0)
        return {"durable": True, "seq": {str(p): s for p, s in seqs.items()}}

    async def dead(self, items: Sequence[DeadLetter]) -> None:
        """Store and publish to the dead-letter subject."""
        await super().dead(items)
        await self.log.publish_dead(items)

    async def gate(self, ev: StreamStarted) -> dict:
        """Publish the StreamStarted (with the partition's other gates waiting) and wait for its worker's verdict."""
        t0 = time.perf_counter()
        fut = asyncio.get_running_loop().create_future()
        self._waiting[ev.id] = fut
        try:
            p = self.log.partitioner.partition(ev)
            self._gates.setdefault(p, []).append(ev)
            if p not in self._gate_busy:
                self._gate_busy.add(p)
                asyncio.ensure_future(self._send_gates(p))
            body = await asyncio.wait_for(fut, self.gate_timeout)
        except TimeoutError:
            raise ApiError(504, "gate_timeout", f"no worker answered within {self.gate_timeout:g} s; the event "
                           "is durable and will be decided when its worker runs") from None
        finally:
            self._waiting.pop(ev.id, None)
        self.metrics.gate_seconds.observe(time.perf_counter() - t0)
        if body.get("error"):
            raise ApiError(503, "log_unavailable", body["error"])
        if body.get("duplicate"):  # a retried gate call: answer with what was decided the first time
            past = [d for d in await anyio.to_thread.run_sync(self.store.decisions_for, ev.stream)
                    if d["subject"] == "stream"]
            return gate_answer(ev, past[0] if past else None, [], duplicate=True)
        return gate_answer(ev, body.get("verdict"), body.get("orders", []))

    async def _send_gates(self, partition: int) -> None:
        """One message per partition at a time: gates that arrive while one is in flight go in the next."""
        try:
            while self._gates.get(partition):
                batch, self._gates[partition] = self._gates[partition], []
                try:
                    await self.log.publish_to(partition, batch, headers={"Fw-Reply": self.reply_subject,
                                                                         "Fw-Published": repr(time.time())})
                except Exception as exc:  # noqa: BLE001  (every waiting caller hears why)
                    for ev in batch:
                        fut = self._waiting.get(ev.id)
                        if fut is not None and not fut.done():
                            fut.set_result({"error": f"the event log refused the gate event: {exc}"})
        finally:
            self._gate_busy.discard(partition)

    async def ready(self) -> dict[str, bool]:
        """Store reachable, NATS connected, every partition's worker beating."""
        return {**await super().ready(), "nats": self.log.connected, "workers": not self.silent_workers()}

    def cases(self, limit: int) -> list[dict]:
        """Open cases as the workers mirrored them, highest expected harm first."""
        t = tables.cases
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run == self.run, t.c.status == "open")
                                .order_by(t.c.priority.desc(), t.c.created).limit(limit))
            return [{"id": r.id, "kind": r.kind, "key": r.key, "status": r.status, "priority": r.priority,
                     "created": r.created, "streams": r.streams, "evidence": r.evidence} for r in rows]

    async def decide(self, case: str, violating: bool, note: str, reviewer: str) -> dict:
        """Route the decision to the case's partition through the log."""
        if parse_case_id(case) is None:
            raise ApiError(404, "not_found", f"no review case {case!r} (ids look like p0:rv-1)")
        t = tables.cases
        with self.store.engine.connect() as conn:
            status = conn.execute(sa.select(t.c.status).where(t.c.run == self.run, t.c.id == case)).scalar()
        ev = self.decision_event(case, status, violating, note, reviewer)
        out = await self.ingest([ev])
        return {"event": ev.id, "case": case, "queued": True, **out}

    async def undo(self, case: str, note: str, reviewer: str) -> dict:
        """Route the undo to the case's partition through the log (the worker undoes what it did)."""
        if parse_case_id(case) is None:
            raise ApiError(404, "not_found", f"no review case {case!r} (ids look like p0:rv-1)")
        t = tables.cases
        with self.store.engine.connect() as conn:
            status = conn.execute(sa.select(t.c.status).where(t.c.run == self.run, t.c.id == case)).scalar()
        ev = self.undo_event(case, status is not None, status == "decided", note, reviewer)
        out = await self.ingest([ev])
        return {"event": ev.id, "case": case, "queued": True, **out}

    def incident(self) -> dict:
        """Highest incident level any partition reported last (no coordinator consumer yet)."""
        t = tables.log_batches
        with self.store.engine.connect() as conn:
            last = (sa.select(t.c.partition, sa.func.max(t.c.seq).label("seq")).where(t.c.run == self.run)
                    .group_by(t.c.partition).subquery())
            rows = conn.execute(sa.select(t.c.partition, t.c.incident_level, t.c.seq).join(
                last, sa.and_(t.c.partition == last.c.partition, t.c.seq == last.c.seq)).where(t.c.run == self.run))
            parts = {r.partition: {"level": r.incident_level, "seq": r.seq} for r in rows}
        return {"level": max((p["level"] for p in parts.values()), default=0), "mode": self.mode,
                "partitions": parts}

    # Banks: an edit goes to every partition's log (a BankChanged event each worker applies in log
    # order), then into the banks tables, which the reads use. The coordinator adds what the engines
    # confirm (the built-in banks) to the same tables.

    def _bank_kind(self, name: str) -> str:
        with self.store.engine.connect() as conn:
            b = tables.banks
            kind = conn.execute(sa.select(b.c.kind).where(b.c.run == self.run, b.c.name == name)).scalar()
        if kind is None:
            raise ApiError(404, "not_found", f"no bank {name!r}")
        return kind

    async def _broadcast(self, ev: BankChanged) -> None:
        await self.log.broadcast([ev])

    async def bank_list(self) -> list[dict]:
        """Every bank, as the banks tables hold them."""
        def read() -> list[dict]:
            e = tables.bank_entries
            with self.store.engine.connect() as conn:
                sizes = dict(conn.execute(sa.select(e.c.bank, sa.func.count()).where(
                    e.c.run == self.run, e.c.removed.is_(False)).group_by(e.c.bank)).all())
                b = tables.banks
                rows = conn.execute(sa.select(b).where(b.c.run == self.run).order_by(b.c.created)).all()
            return [{"name": r.name, "kind": r.kind, "size": sizes.get(r.name, 0)} for r in rows]
        return await anyio.to_thread.run_sync(read)

    async def bank_create(self, name: str, kind: str) -> None:
        """Create the bank in every partition."""
        def insert() -> None:
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(tables.banks.insert().values(run=self.run, name=name, kind=kind, created=time.time()))
            except sa.exc.IntegrityError:
                raise ApiError(409, "exists", f"a bank named {name!r} already exists") from None
        await anyio.to_thread.run_sync(insert)
        await self._broadcast(BankChanged(id=f"bk-{uuid.uuid4().hex}", ts=time.time(), bank=name, op="create",
                                          kind=kind))  # type: ignore[arg-type]

    async def bank_add(self, name: str, hexes: list[str], source: str, note: str = "") -> int:
        """Send the new hashes to every partition, then record them."""
        kind = await anyio.to_thread.run_sync(self._bank_kind, name)
        e = tables.bank_entries

        def live() -> set[str]:
            with self.store.engine.connect() as conn:
                return set(conn.execute(sa.select(e.c.hash).where(e.c.run == self.run, e.c.bank == name,
                                                                  e.c.removed.is_(False), e.c.hash.in_(hexes))).scalars())
        held = await anyio.to_thread.run_sync(live)
        new = list(dict.fromkeys(h for h in hexes if h not in held))
        if not new:
            return 0
        await self._broadcast(BankChanged(id=f"bk-{uuid.uuid4().hex}", ts=time.time(), bank=name, op="add",
                                          kind=kind, hashes=new, source=source, note=note))  # type: ignore[arg-type]

        def record() -> None:
            now = time.time()
            with self.store.engine.begin() as conn:
                conn.execute(e.update().where(e.c.run == self.run, e.c.bank == name, e.c.hash.in_(new))
                             .values(removed=False, source=source, note=note, added_at=now))
                conn.execute(insert_ignore(self.store.engine, e), [
                    {"run": self.run, "bank": name, "hash": h, "source": source, "note": note, "added_at": now,
                     "removed": False} for h in new])
        await anyio.to_thread.run_sync(record)
        return len(new)

    async def bank_remove(self, name: str, hex_hash: str) -> bool:
        """Send the removal to every partition, then record it."""
        kind = await anyio.to_thread.run_sync(self._bank_kind, name)
        e = tables.bank_entries
        hex_hash = hex_hash.lower()
        where = sa.and_(e.c.run == self.run, e.c.bank == name, e.c.hash == hex_hash, e.c.removed.is_(False))

        def held() -> bool:
            with self.store.engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(e).where(where)).scalar() > 0
        if not await anyio.to_thread.run_sync(held):
            return False
        await self._broadcast(BankChanged(id=f"bk-{uuid.uuid4().hex}", ts=time.time(), bank=name, op="remove",
                                          kind=kind, hashes=[hex_hash]))  # type: ignore[arg-type]

        def record() -> None:
            with self.store.engine.begin() as conn:
                conn.execute(e.update().where(where).values(removed=True))
        await anyio.to_thread.run_sync(record)
        return True

    async def bank_export(self, name: str) -> str:
        """The bank's live hashes as the tables hold them (operators' edits and confirmed content)."""
        await anyio.to_thread.run_sync(self._bank_kind, name)
        e = tables.bank_entries

        def read() -> str:
            with self.store.engine.connect() as conn:
                rows = conn.execute(sa.select(e.c.hash).where(e.c.run == self.run, e.c.bank == name,
                                                             e.c.removed.is_(False)).order_by(e.c.added_at, e.c.hash))
                return "".join(h + "\n" for h in rows.scalars())
        return await anyio.to_thread.run_sync(read)
