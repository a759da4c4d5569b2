"""The embedded backend: one process, the engine behind a Hub, fed by a loop thread; a journal makes 202 durable."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import anyio
import msgspec

from floodwall.adapters.store import SqlStore
from floodwall.content.bank import HashBank
from floodwall.events import BankChanged, Event, StreamStarted
from floodwall.service.auth import ApiError
from floodwall.service.backends.base import Backend, gate_answer
from floodwall.service.compaction import Compactor
from floodwall.service.gatelog import GateLog
from floodwall.service.hub import Hub
from floodwall.service.journal import Journal, JournalError
from floodwall.service.metrics import Metrics
from floodwall.service.runtime import EmbeddedLoop


class EmbeddedBackend(Backend):
    """One process: the engine behind the Hub, fed by a loop thread every tick.

    With a ``journal`` (the default on a database file) every accepted batch is committed to disk
    before the reply and a restart replays it (service/journal.py, service/recovery.py); without
    one (an in-memory store) the log lives in memory.
    """

    mode = "embedded"

    def __init__(self, hub: Hub, store: SqlStore, metrics: Metrics, tick: float = 0.15,
                 journal: Journal | None = None, audit=None, gatelog: GateLog | None = None,
                 compactor: Compactor | None = None) -> None:
        super().__init__(store, metrics)
        self.hub = hub
        self.loop = EmbeddedLoop(hub, store, metrics, tick=tick)
        self.journal = journal
        self.audit = audit  # the ops chain, where a restart finds the operator's level pin
        self.gatelog = gatelog  # gate answers on disk in one write; the journal's copy follows (SQLite file stores)
        self.compactor = compactor  # snapshots the engine and cuts the journal every so many events
        if compactor is not None:
            self.loop.after_batch = compactor.after_batch
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

            self.recovered = await anyio.to_thread.run_sync(lambda: recover(
                self.journal, self.loop, audit=self.audit, gatelog=self.gatelog,
                snapshot_key=self.compactor.key if self.compactor is not None else None))
            self.journal.start()
        self.loop.start()

    async def stop(self) -> None:
        """Stop the loop thread after a last batch, then the committer."""
        await anyio.to_thread.run_sync(self.loop.stop)
        if self.journal is not None:
            await anyio.to_thread.run_sync(self.journal.stop)
        if self.gatelog is not None:
            self.gatelog.close()

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
            # On disk before the reply: a retry, even after a restart, answers the same.
            if self.gatelog is None:
                try:
                    await j.append([ev], "done", (ev.id, body))
                except JournalError as exc:
                    raise ApiError(503, "journal_down", str(exc)) from None
                return answer
            try:  # one write here; the journal's copy is committed behind the reply (service/gatelog.py)
                self.gatelog.write(ev, body)
            except OSError as exc:
                raise ApiError(503, "journal_down", f"the gate log cannot write: {exc}") from None
            j.enqueue_behind([ev], (ev.id, body)).add_done_callback(self.gatelog.on_journaled)
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
