"""Where the API's calls go: the embedded engine behind a Hub, or NATS JetStream and its workers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import anyio
import msgspec
import sqlalchemy as sa

from floodwall.adapters import store as store_tables
from floodwall.adapters.nats_log import JetStreamLog, parse_case_id
from floodwall.adapters.store import SqlStore, _insert_ignore
from floodwall.content.bank import HashBank
from floodwall.events import (
    BankChanged,
    DeadLetter,
    Event,
    ReviewDecided,
    ReviewReversed,
    StreamStarted,
)
from floodwall.service.auth import ApiError
from floodwall.service.hub import Hub
from floodwall.service.journal import Journal, JournalError
from floodwall.service.metrics import Metrics
from floodwall.service.runtime import EmbeddedLoop
from floodwall.service.tables import (
    BUILT_IN_BANKS,
    bank_entries,
    banks,
    create_tables,
    log_batches,
)
from floodwall.service.tables import cases as cases_table


def gate_answer(ev: StreamStarted, verdict: dict | None, orders: list[dict], duplicate: bool = False) -> dict:
    """The gate's reply: may the stream go live, and why."""
    action = verdict["action"] if verdict else "allow"
    return {
        "stream": ev.stream, "account": ev.account, "event": ev.id,
        "allow": action not in ("takedown", "freeze"), "action": action,
        "rules": verdict["rules"] if verdict else [], "evidence": verdict.get("evidence", {}) if verdict else {},
        "verdict": verdict["id"] if verdict else None, "orders": orders, "duplicate": duplicate,
    }


class Backend:
    """What both modes offer the API."""

    mode = "base"
    durable = False

    def __init__(self, store: SqlStore, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        create_tables(store.engine)

    async def start(self) -> None:
        """Connect or start threads."""

    async def stop(self) -> None:
        """Disconnect or stop threads."""

    async def ingest(self, events: Sequence[Event]) -> dict:
        """Accept events for processing; returns what the client may rely on."""
        raise NotImplementedError

    async def dead(self, items: Sequence[DeadLetter]) -> None:
        """Keep malformed input with its reason."""
        await anyio.to_thread.run_sync(self.store.record_dead, items)

    async def gate(self, ev: StreamStarted) -> dict:
        """The go-live decision for one stream."""
        raise NotImplementedError

    @staticmethod
    def decision_event(case: str, status: str | None, violating: bool, note: str, reviewer: str) -> ReviewDecided:
        """The ReviewDecided event for an open case; ApiError if the case is unknown or already decided."""
        if status is None:
            raise ApiError(404, "not_found", f"no review case {case!r}")
        if status == "decided":
            raise ApiError(409, "already_decided", f"case {case!r} is already decided")
        return ReviewDecided(id=f"rd-{uuid.uuid4().hex}", ts=time.time(), item=case, reviewer=reviewer,
                             violating=violating, note=note)

    @staticmethod
    def undo_event(case: str, known: bool, undoable: bool, note: str, reviewer: str) -> ReviewReversed:
        """The ReviewReversed event for a decided case; ApiError if it is unknown or has nothing to undo."""
        if not known:
            raise ApiError(404, "not_found", f"no review case {case!r}")
        if not undoable:
            raise ApiError(409, "nothing_to_undo", f"case {case!r} has no decision to undo")
        return ReviewReversed(id=f"rr-{uuid.uuid4().hex}", ts=time.time(), item=case, reviewer=reviewer, note=note)

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency."""
        def ping() -> bool:
            try:
                with self.store.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return True
            except (sa.exc.SQLAlchemyError, OSError):
                return False
        return {"store": await anyio.to_thread.run_sync(ping)}

    def dead_letters(self, limit: int) -> list[dict]:
        """The newest dead letters with their reasons."""
        t = store_tables.dead_letters
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run == self.store.run).order_by(t.c.id.desc()).limit(limit))
            return [{"id": r.id, "index": r.line, "field": r.field, "reason": r.reason, "raw": r.raw[:2000]}
                    for r in rows]

    # Hash banks: the embedded engine holds them; with NATS every worker does, fed through the log.

    async def bank_list(self) -> list[dict]:
        """Every bank: name, kind, live entries."""
        raise NotImplementedError

    async def bank_create(self, name: str, kind: str) -> None:
        """Create an empty bank (409 if the name is taken)."""
        raise NotImplementedError

    async def bank_add(self, name: str, hexes: list[str], source: str, note: str = "") -> int:
        """Add PDQ hex hashes to a bank (404 if none); how many were new."""
        raise NotImplementedError

    async def bank_remove(self, name: str, hex_hash: str) -> bool:
        """Remove one hash (404 if no bank); False if the bank does not hold it."""
        raise NotImplementedError

    async def bank_export(self, name: str) -> str:
        """The bank's live hashes, PDQ hex one a line (404 if no bank)."""
        raise NotImplementedError

    def decisions(self, key: str) -> dict:
        """Every verdict about a stream or account, and the actions sent for it."""
        t = store_tables.actions
        with self.store.engine.connect() as conn:
            acts = conn.execute(sa.select(t).where(t.c.run == self.store.run, t.c.target == key).order_by(t.c.ts))
            actions = [dict(r._mapping) for r in acts]
        return {"key": key, "verdicts": self.store.decisions_for(key), "actions": actions}


class EmbeddedBackend(Backend):
    """One process: the engine behind the Hub, fed by a loop thread every tick.

    With a ``journal`` (the default on a database file) every accepted batch is committed to disk
    before the reply and a restart replays it (service/journal.py, service/recovery.py); without
    one (an in-memory store) the log lives in memory.
    """

    mode = "embedded"

    def __init__(self, hub: Hub, store: SqlStore, metrics: Metrics, tick: float = 0.15,
                 journal: Journal | None = None, audit=None) -> None:
        super().__init__(store, metrics)
        self.hub = hub
        self.loop = EmbeddedLoop(hub, store, metrics, tick=tick)
        self.journal = journal
        self.audit = audit  # the ops chain, where a restart finds the operator's level pin
        self.recovered: dict = {}
        if journal is not None:
            self.durable = True
            journal.deliver = self.loop.deliver
            hub.sink = lambda events: journal.enqueue(events)  # console decisions are journaled too
        metrics.queue_depth.labels("inbox").set_function(lambda: self.loop.depth)
        metrics.queue_depth.labels("review").set_function(lambda: hub.engine.review.depth)

    async def start(self) -> None:
        """Replay the journal (if any), then start the committer and the loop thread."""
        if self.journal is not None:
            from floodwall.service.recovery import recover

            self.recovered = await anyio.to_thread.run_sync(lambda: recover(self.journal, self.loop, audit=self.audit))
            self.journal.start()
        self.loop.start()

    async def stop(self) -> None:
        """Stop the loop thread after a last batch, then the committer."""
        await anyio.to_thread.run_sync(self.loop.stop)
        if self.journal is not None:
            await anyio.to_thread.run_sync(self.journal.stop)

    def _check_up(self) -> None:
        """503 instead of a 202 that nothing would ever process."""
        if not self.loop.alive():
            raise ApiError(503, "engine_down", "the engine loop is not running; events are not accepted "
                           f"({self.loop.died or 'not started or stalled'})")
        if self.journal is not None and not self.journal.alive():
            raise ApiError(503, "journal_down", f"the event journal cannot commit ({self.journal.failed or 'stopped'})")

    async def ingest(self, events: Sequence[Event]) -> dict:
        """Commit to the journal, then answer (durable); without a journal, queue in memory (not durable)."""
        self._check_up()
        if self.journal is None:
            self.loop.submit(events)
            return {"durable": False}
        try:
            seq = await self.journal.append(events)
        except JournalError as exc:
            raise ApiError(503, "journal_down", str(exc)) from None
        return {"durable": True, "seq": seq}

    async def gate(self, ev: StreamStarted) -> dict:
        """Decide now, under the Hub's lock, between loop batches; a retried event id gets the first answer."""
        j = self.journal
        if j is not None:
            self._check_up()
            first = j.cached_answer(ev.id)
            if first is None and self.hub.engine.seen(ev.id):  # seen before this boot's memory: on disk
                first = await anyio.to_thread.run_sync(j.answer, ev.id)
            if first is not None:
                return {**msgspec.json.decode(first), "duplicate": True}
            answer = await self._gate_decide(ev)
            body = msgspec.json.encode(answer)
            j.remember(ev.id, body)
            try:  # on disk before the reply: a retry, even after a restart, answers the same
                await j.append([ev], "done", (ev.id, body))
            except JournalError as exc:
                raise ApiError(503, "journal_down", str(exc)) from None
            return answer
        return await self._gate_decide(ev)

    async def _gate_decide(self, ev: StreamStarted) -> dict:
        """The engine's gate decision (the path without a journal)."""
        def decide(blocking: bool = True):
            t0 = time.perf_counter()
            if not self.hub.lock.acquire(blocking=blocking):
                return None
            try:
                v, orders = self.hub.engine.gate(ev)
                self.hub.seq += 1
            finally:
                self.hub.lock.release()
            self.metrics.gate_seconds.observe(time.perf_counter() - t0)
            return v, orders
        # One gate decision takes about a millisecond: take it right here when the engine is free (a
        # thread hop per call costs more and lets dozens of threads convoy on the lock); when the loop
        # thread holds the engine for a batch, wait for it in a worker thread, not on the event loop.
        got = decide(blocking=False)
        if got is None:
            got = await anyio.to_thread.run_sync(decide)
        v, orders = got
        if v is None:  # a retried gate call: answer with what was decided the first time
            await anyio.to_thread.run_sync(self.loop.flush)
            past = [d for d in self.store.decisions_for(ev.stream) if d["subject"] == "stream"]
            return gate_answer(ev, past[0] if past else None, [], duplicate=True)
        return gate_answer(ev, msgspec.to_builtins(v), [msgspec.to_builtins(o) for o in orders])

    def decisions(self, key: str) -> dict:
        """As stored, after writing what the engine decided since the last batch."""
        self.loop.flush()
        return super().decisions(key)

    async def ready(self) -> dict[str, bool]:
        """Store reachable, the loop beating, the journal committing."""
        out = {**await super().ready(), "loop": self.loop.alive()}
        if self.journal is not None:
            out["journal"] = self.journal.alive()
        return out

    def cases(self, limit: int) -> list[dict]:
        """Open review items, highest expected harm first."""
        with self.hub.lock:
            items = self.hub.engine.review.open_items()[:limit]
            return [{"id": i.id, "kind": i.kind, "key": i.key, "status": i.status, "priority": i.priority,
                     "created": i.created, "streams": len(i.streams), "evidence": msgspec.to_builtins(i.evidence)}
                    for i in items]

    async def decide(self, case: str, violating: bool, note: str, reviewer: str) -> dict:
        """A reviewer's decision becomes a ReviewDecided event in the next batch."""
        with self.hub.lock:
            item = self.hub.engine.review.items.get(case)
            status = item.status if item is not None else None
        ev = self.decision_event(case, status, violating, note, reviewer)
        await self.ingest([ev])
        return {"event": ev.id, "case": case, "queued": True}

    async def undo(self, case: str, note: str, reviewer: str) -> dict:
        """Undo a case's decision: a ReviewReversed event in the next batch (409 if nothing to undo)."""
        with self.hub.lock:
            known = case in self.hub.engine.review.items
            undoable = case in self.hub.engine.decision_effects
        ev = self.undo_event(case, known, undoable, note, reviewer)
        self.loop.submit([ev])
        return {"event": ev.id, "case": case, "queued": True}

    def incident(self) -> dict:
        """The incident level the engine holds now."""
        e = self.hub.engine
        return {"level": int(e.incident_level), "mode": self.mode, "review_depth": e.review.depth,
                "events": e.events, "verdicts": e.verdicts, "actions": dict(e.actions_by_kind),
                "rule_errors": dict(e.rule_error_counts)}

    def _bank(self, name: str) -> HashBank:
        try:
            return self.hub.engine.banks[name]
        except KeyError:
            raise ApiError(404, "not_found", f"no bank {name!r}") from None

    async def bank_list(self) -> list[dict]:
        """Every bank of the engine: name, kind, live entries."""
        with self.hub.lock:
            return [{"name": b.name, "kind": b.kind, "size": len(b)} for b in self.hub.engine.banks.banks]

    async def bank_create(self, name: str, kind: str) -> None:
        """Create an empty bank in the engine."""
        with self.hub.lock:
            try:
                self.hub.engine.banks.add_bank(HashBank(name, kind=kind))  # type: ignore[arg-type]
            except ValueError as exc:
                raise ApiError(409, "exists", str(exc)) from None
        await self._journal_bank(name, "create", kind=kind)

    async def bank_add(self, name: str, hexes: list[str], source: str, note: str = "") -> int:
        """Add to the engine's bank; the next frames are matched against it."""
        with self.hub.lock:
            bank = self._bank(name)
            added = bank.add(hexes, source=source, note=note)
            kind = bank.kind
        if added:
            await self._journal_bank(name, "add", kind=kind, hashes=hexes, source=source, note=note)
        return added

    async def bank_remove(self, name: str, hex_hash: str) -> bool:
        """Remove from the engine's bank."""
        with self.hub.lock:
            bank = self._bank(name)
            removed = bank.remove(hex_hash)
            kind = bank.kind
        if removed:
            await self._journal_bank(name, "remove", kind=kind, hashes=[hex_hash.lower()])
        return removed

    async def _journal_bank(self, name: str, op: str, **fields) -> None:
        """Keep an applied bank edit in the journal, so that a restart applies it again."""
        if self.journal is None:
            return
        fields["source"] = fields.get("source", "")[:128]
        fields["note"] = fields.get("note", "")[:500]
        ev = BankChanged(id=f"bk-{uuid.uuid4().hex}", ts=time.time(), bank=name, op=op, **fields)  # type: ignore[arg-type]
        try:
            await self.journal.append([ev], "done")
        except JournalError as exc:
            raise ApiError(503, "journal_down", f"the edit is applied but not on disk: {exc}") from None

    async def bank_export(self, name: str) -> str:
        """The engine's bank as PDQ hex."""
        with self.hub.lock:
            return self._bank(name).export_text()


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
        import os

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
                conn.execute(_insert_ignore(self.store.engine, banks), [
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
        t = cases_table
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run == self.run, t.c.status == "open")
                                .order_by(t.c.priority.desc(), t.c.created).limit(limit))
            return [{"id": r.id, "kind": r.kind, "key": r.key, "status": r.status, "priority": r.priority,
                     "created": r.created, "streams": r.streams, "evidence": r.evidence} for r in rows]

    async def decide(self, case: str, violating: bool, note: str, reviewer: str) -> dict:
        """Route the decision to the case's partition through the log."""
        if parse_case_id(case) is None:
            raise ApiError(404, "not_found", f"no review case {case!r} (ids look like p0:rv-1)")
        t = cases_table
        with self.store.engine.connect() as conn:
            status = conn.execute(sa.select(t.c.status).where(t.c.run == self.run, t.c.id == case)).scalar()
        ev = self.decision_event(case, status, violating, note, reviewer)
        out = await self.ingest([ev])
        return {"event": ev.id, "case": case, "queued": True, **out}

    async def undo(self, case: str, note: str, reviewer: str) -> dict:
        """Route the undo to the case's partition through the log (the worker undoes what it did)."""
        if parse_case_id(case) is None:
            raise ApiError(404, "not_found", f"no review case {case!r} (ids look like p0:rv-1)")
        t = cases_table
        with self.store.engine.connect() as conn:
            status = conn.execute(sa.select(t.c.status).where(t.c.run == self.run, t.c.id == case)).scalar()
        ev = self.undo_event(case, status is not None, status == "decided", note, reviewer)
        out = await self.ingest([ev])
        return {"event": ev.id, "case": case, "queued": True, **out}

    def incident(self) -> dict:
        """Highest incident level any partition reported last (no coordinator consumer yet)."""
        t = log_batches
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
            kind = conn.execute(sa.select(banks.c.kind).where(banks.c.run == self.run, banks.c.name == name)).scalar()
        if kind is None:
            raise ApiError(404, "not_found", f"no bank {name!r}")
        return kind

    async def _broadcast(self, ev: BankChanged) -> None:
        await self.log.broadcast([ev])

    async def bank_list(self) -> list[dict]:
        """Every bank, as the banks tables hold them."""
        def read() -> list[dict]:
            e = bank_entries
            with self.store.engine.connect() as conn:
                sizes = dict(conn.execute(sa.select(e.c.bank, sa.func.count()).where(
                    e.c.run == self.run, e.c.removed.is_(False)).group_by(e.c.bank)).all())
                rows = conn.execute(sa.select(banks).where(banks.c.run == self.run).order_by(banks.c.created)).all()
            return [{"name": r.name, "kind": r.kind, "size": sizes.get(r.name, 0)} for r in rows]
        return await anyio.to_thread.run_sync(read)

    async def bank_create(self, name: str, kind: str) -> None:
        """Create the bank in every partition."""
        def insert() -> None:
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(banks.insert().values(run=self.run, name=name, kind=kind, created=time.time()))
            except sa.exc.IntegrityError:
                raise ApiError(409, "exists", f"a bank named {name!r} already exists") from None
        await anyio.to_thread.run_sync(insert)
        await self._broadcast(BankChanged(id=f"bk-{uuid.uuid4().hex}", ts=time.time(), bank=name, op="create",
                                          kind=kind))  # type: ignore[arg-type]

    async def bank_add(self, name: str, hexes: list[str], source: str, note: str = "") -> int:
        """Send the new hashes to every partition, then record them."""
        kind = await anyio.to_thread.run_sync(self._bank_kind, name)
        e = bank_entries

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
                conn.execute(_insert_ignore(self.store.engine, e), [
                    {"run": self.run, "bank": name, "hash": h, "source": source, "note": note, "added_at": now,
                     "removed": False} for h in new])
        await anyio.to_thread.run_sync(record)
        return len(new)

    async def bank_remove(self, name: str, hex_hash: str) -> bool:
        """Send the removal to every partition, then record it."""
        kind = await anyio.to_thread.run_sync(self._bank_kind, name)
        e = bank_entries
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
        e = bank_entries

        def read() -> str:
            with self.store.engine.connect() as conn:
                rows = conn.execute(sa.select(e.c.hash).where(e.c.run == self.run, e.c.bank == name,
                                                             e.c.removed.is_(False)).order_by(e.c.added_at, e.c.hash))
                return "".join(h + "\n" for h in rows.scalars())
        return await anyio.to_thread.run_sync(read)
