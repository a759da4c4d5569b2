"""The embedded service's event log on disk: what a 202 rests on, and what a restart replays.

Each accepted batch is one row of ``journal`` (msgpack), committed in the store's database (SQLite in
WAL mode by default) before the API answers. On a SQLite file the batch's bytes go to a segment file
beside it first and the row points to them (service/segments.py): they are written once, not into the
WAL and again into the database. A committer thread groups the batches that arrive while
the previous commit runs into one transaction (group commit: one fsync for many requests, never on
the event loop). The committer keeps one connection and leaves WAL checkpoints to a thread of their
own, so no commit (a gate answer's least of all) waits for a checkpoint's copy and fsync. After the
commit the batches go to the loop in journal order; the loop writes its results and the highest
journal sequence it processed (``journal_marks.processed``) in one transaction, so a restart
processes exactly what was accepted and not yet processed.

Once the engine's state is snapshotted at a processed position (service/compaction.py), the rows up to
it are cut: a restart loads the snapshot and replays only what follows.

Rows of kind ``done`` were applied before they were journaled (gate calls, bank edits): a restart
replays them, with everything processed, only to rebuild the engine's state (muted: nothing is sent or
stored twice; one applied before a snapshot and journaled after it is skipped, its id seen). Gate
answers are kept by event id, so a retried gate call answers the first decision.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import msgspec
import sqlalchemy as sa

from floodwall.events import LogEvent
from floodwall.persistence.dml import insert_ignore
from floodwall.persistence.schema import ensure
from floodwall.persistence.sqlite import (checkpoint, no_autocheckpoint, set_synchronous, sqlite_file, sync_level,
                                         tune_sqlite)
from floodwall.persistence.tables import gate_answers, journal, journal_marks, journal_snapshots
from floodwall.service.segments import SegmentError, Segments, is_ref, segment_folder

__all__ = ["Journal", "JournalError", "gate_answers", "journal", "journal_marks", "sqlite_file", "tune_sqlite"]

log = logging.getLogger("floodwall.journal")

CHECKPOINT_EVERY = 0.5  # seconds between background WAL checkpoints (SQLite), when something was committed
SNAPSHOT_PART = 16 << 20  # bytes of an engine snapshot a row
GATE_ANSWERS_KEEP = 7 * 86_400.0  # seconds a gate answer is kept for retries (a cut drops older ones)
_WAKE = object()  # a queue item that only wakes the committer: batches were queued behind a reply

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[LogEvent])


class JournalError(RuntimeError):
    """The journal could not commit: the events were not accepted."""


class Journal:
    """Batches of events committed to the store's database by one committer thread (group commit)."""

    def __init__(self, engine: sa.Engine, run: str, deliver: Callable[[int, list], None]) -> None:
        self.engine = engine
        self.run = run
        self.deliver = deliver  # called with (seq, events) for "event" rows, in journal order, after the commit
        ensure(engine)
        self._queue: queue.Queue = queue.Queue()
        self._behind: list = []  # applied batches whose callers already have their answer (enqueue_behind)
        self._behind_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.boot = 0
        self.processed = 0
        self.failed: str | None = None  # why the last commit failed (None: healthy)
        self.commits = 0
        self.sqlite = engine.dialect.name == "sqlite"
        self.sync = sync_level() if self.sqlite else "FULL"  # a bad FLOODWALL_SYNC fails here, naming it
        self._answers: dict[str, bytes] = {}  # recent gate answers by event id (the table holds GATE_ANSWERS_KEEP)
        self._conn: sa.Connection | None = None  # the committer's own connection
        self._level: str | None = None  # the fsync level set on it
        self._stopped = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # On a SQLite file, event batches' bytes go to segment files beside it (service/segments.py).
        self.segments = (Segments(segment_folder(engine.url.database, run), fsync=self.sync == "FULL")
                         if sqlite_file(engine) else None)

    # ---- start and recovery ------------------------------------------------------------------

    def open(self) -> None:
        """Count this boot and read where processing stopped."""
        m = journal_marks
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(m).where(m.c.run == self.run)).first()
            if row is None:
                conn.execute(m.insert().values(run=self.run, processed=0, boots=1))
                self.boot, self.processed = 1, 0
            else:
                self.boot, self.processed = row.boots + 1, row.processed
                conn.execute(m.update().where(m.c.run == self.run).values(boots=self.boot))
            top = conn.execute(sa.select(sa.func.max(journal.c.seq)).where(journal.c.run == self.run)).scalar()
            cut = conn.execute(sa.select(sa.func.max(journal_snapshots.c.seq))
                               .where(journal_snapshots.c.run == self.run)).scalar()
        if self.segments is not None:
            self.segments.open(self.boot)
        # A cut can leave no rows: seqs go on after the processed mark and the snapshot, never again from 1
        # (a reused seq at or below the mark would count as processed at the next start, and be skipped).
        self._seq = max(int(top or 0), self.processed, int(cut or 0))

    def rows(self, chunk: int = 500) -> Iterator[tuple[int, str, list]]:
        """Every journal row in order: (seq, kind, events)."""
        after = 0
        while True:
            with self.engine.connect() as conn:
                got = conn.execute(sa.select(journal.c.seq, journal.c.kind, journal.c.body).where(
                    journal.c.run == self.run, journal.c.seq > after).order_by(journal.c.seq).limit(chunk)).all()
            if not got:
                return
            for seq, kind, body in got:
                yield seq, kind, _decoder.decode(self._body(seq, body))
            after = got[-1][0]

    def snapshot(self) -> tuple[int, bytes, str] | None:
        """The newest engine snapshot: (the journal seq it was taken at, its bytes, its MAC), or None."""
        t = journal_snapshots
        with self.engine.connect() as conn:
            seq = conn.execute(sa.select(sa.func.max(t.c.seq)).where(t.c.run == self.run)).scalar()
            if seq is None:
                return None
            parts = conn.execute(sa.select(t.c.body, t.c.mac).where(t.c.run == self.run, t.c.seq == seq)
                                 .order_by(t.c.part)).all()
        return int(seq), b"".join(p.body for p in parts), parts[0].mac

    def cut(self, seq: int, data: bytes, mac: str, part: int = SNAPSHOT_PART) -> int:
        """Keep a snapshot taken at ``seq`` and drop every journal row (and older snapshot) up to it, in one
        transaction; returns how many journal rows went."""
        t = journal_snapshots
        rows = [{"run": self.run, "seq": seq, "part": k, "body": data[i:i + part], "mac": mac, "ts": time.time()}
                for k, i in enumerate(range(0, max(len(data), 1), part))]
        with self.engine.begin() as conn:
            conn.execute(t.insert(), rows)
            conn.execute(t.delete().where(t.c.run == self.run, t.c.seq < seq))
            gone = conn.execute(journal.delete().where(journal.c.run == self.run, journal.c.seq <= seq)).rowcount
            g = gate_answers  # a retry this late is a new call: the table does not grow with every call forever
            conn.execute(g.delete().where(g.c.run == self.run, g.c.ts < time.time() - GATE_ANSWERS_KEEP))
        if self.segments is not None:  # the segments only cut rows (or no row) point into
            try:
                with self.engine.connect() as conn:
                    refs = conn.execute(sa.select(journal.c.body).where(
                        journal.c.run == self.run, journal.c.kind == "event", journal.c.seq > seq)).scalars().all()
                self.segments.keep_only(refs)
            except Exception:  # noqa: BLE001  (the files wait for the next cut; nothing is lost)
                log.exception("could not remove the journal segments the cut freed")
        return gone

    def start(self) -> None:
        """Start the committer thread (and, on SQLite, the checkpointer)."""
        self._thread = threading.Thread(target=self._run, name="floodwall-journal", daemon=True)
        self._thread.start()
        if self.sqlite:
            self._checkpointer = threading.Thread(target=self._checkpoints, name="floodwall-checkpoint", daemon=True)
            self._checkpointer.start()

    def stop(self) -> None:
        """Commit what is queued, then stop."""
        self._stopped.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
        if self._checkpointer is not None:
            self._checkpointer.join(10)
        if self.segments is not None:
            self.segments.close()

    def alive(self) -> bool:
        """True while the committer runs and its last commit worked."""
        return self._thread is not None and self._thread.is_alive() and self.failed is None

    # ---- appending ---------------------------------------------------------------------------

    def enqueue(self, events: Sequence, kind: str = "event", answer: tuple[str, bytes] | None = None
                ) -> concurrent.futures.Future:
        """Queue a batch for the next group commit; the future resolves to its seq once it is on disk."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((list(events), kind, answer, fut))
        return fut

    def enqueue_behind(self, events: Sequence, answer: tuple[str, bytes] | None = None) -> concurrent.futures.Future:
        """Queue an applied batch (kind ``done``) that no caller waits for, ahead of the next group commit."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._behind_lock:
            self._behind.append((list(events), "done", answer, fut))
        # Committed at once rather than held for a larger group: a small commit is a short stall for the
        # gate calls behind it, where one held 50 ms was the gate's p99 (bench/RESULTS-service.md, stop 28).
        # Those that queue while a commit runs still share the next one.
        self._queue.put(_WAKE)
        return fut

    async def append(self, events: Sequence, kind: str = "event", answer: tuple[str, bytes] | None = None) -> int:
        """Commit a batch (grouped with others) and return its seq; JournalError if it is not on disk."""
        return await asyncio.wrap_future(self.enqueue(events, kind, answer))

    def commit_now(self, batches: Sequence[tuple[Sequence, str, tuple[str, bytes] | None]]) -> None:
        """Commit batches on the caller's thread, before the committer starts (recovery); JournalError if not."""
        group = [(list(events), kind, answer, concurrent.futures.Future()) for events, kind, answer in batches]
        self._commit(group)
        for *_, fut in group:
            fut.result()  # raises the JournalError the failed commit set

    def remember(self, event_id: str, answer: bytes) -> None:
        """Keep a gate answer in memory until its row is committed (a concurrent retry finds it)."""
        if len(self._answers) > 100_000:
            self._answers.clear()  # bounded: the table still has every answer
        self._answers[event_id] = answer

    def cached_answer(self, event_id: str) -> bytes | None:
        """A gate answer given since this boot (memory only: no database read on the gate's path)."""
        return self._answers.get(event_id)

    def answer(self, event_id: str) -> bytes | None:
        """The first answer given to a gate event id, if any (memory, then the table)."""
        got = self._answers.get(event_id)
        if got is not None:
            return got
        g = gate_answers
        with self.engine.connect() as conn:
            return conn.execute(sa.select(g.c.answer).where(g.c.run == self.run, g.c.id == event_id)).scalar()

    def _body(self, seq: int, body: bytes) -> bytes:
        """A row's batch: its body, or the segment record the body points to (JournalError if unreadable)."""
        if not is_ref(body):
            return body
        if self.segments is None:
            raise JournalError(f"journal batch {seq} is in a segment file, and this store is not a SQLite file")
        try:
            return self.segments.read(seq, body)
        except (SegmentError, OSError) as exc:
            raise JournalError(str(exc)) from exc

    def _insert(self, conn, rows: list[dict], answers: list[dict]) -> None:
        conn.execute(journal.insert(), rows)
        if answers:
            conn.execute(insert_ignore(self.engine, gate_answers), answers)

    def _take_behind(self) -> list:
        with self._behind_lock:
            out, self._behind = self._behind, []
        return out

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:  # everything that queued while the last commit ran goes in this one
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # Batches queued behind a reply go first: they were applied before anything queued now was delivered.
            group = self._take_behind() + [it for it in items if it is not None and it is not _WAKE]
            if group:  # a wake whose batches an earlier commit took finds none
                self._commit(group)
            if any(it is None for it in items):
                self._close()
                return

    def _connection(self) -> sa.Connection:
        """The committer's connection, opened on first use and after a failure."""
        if self._conn is None:
            self._conn = self.engine.connect()
            self._level = None
            if self.sqlite:
                no_autocheckpoint(self._conn)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _checkpoints(self) -> None:
        done = -1
        while not self._stopped.wait(CHECKPOINT_EVERY):
            if self.commits == done:
                continue
            done = self.commits
            try:
                with self.engine.connect() as conn:
                    checkpoint(conn)
            except Exception:  # noqa: BLE001  (the next round tries again; the WAL only grows meanwhile)
                log.exception("WAL checkpoint failed")

    def _commit(self, group: list) -> None:
        now = time.time()
        rows, answers, kept = [], [], []
        seq = self._seq
        for events, kind, answer, fut in group:
            try:
                body = _encoder.encode(events)
            except Exception as exc:  # noqa: BLE001  (a batch that cannot be written fails alone, and the thread goes on)
                log.exception("a journal batch of %d events cannot be encoded; its caller is told", len(events))
                fut.set_exception(JournalError(f"the journal could not encode the batch: {type(exc).__name__}: {exc}"))
                continue
            seq += 1
            kept.append((events, kind, answer, fut))
            rows.append({"run": self.run, "seq": seq, "kind": kind, "events": len(events), "body": body, "ts": now})
            if answer is not None:
                answers.append({"run": self.run, "id": answer[0], "answer": answer[1], "ts": now})
        group = kept
        if not group:
            return
        # Accepted events wait for an fsync (FULL, unless FLOODWALL_SYNC=normal). A group of gate answers and
        # bank edits only: written to the WAL without the fsync (NORMAL), which a killed process keeps and
        # only a power loss could take back; the gate's latency then has no fsync in it.
        lazy = self.sqlite and all(kind == "done" for _e, kind, _a, _f in group)
        try:
            batches = [r for r in rows if r["kind"] == "event"] if self.segments is not None else []
            if batches:  # their bytes to a segment first (one write, one fdatasync); the rows point to them
                refs = self.segments.write([(r["seq"], r["body"]) for r in batches])  # type: ignore[union-attr]
                for r, ref in zip(batches, refs, strict=True):
                    r["body"] = ref
            conn = self._connection()
            level = "NORMAL" if lazy else self.sync
            if self.sqlite and level != self._level:
                set_synchronous(conn, level)
                self._level = level
            with conn.begin():
                self._insert(conn, rows, answers)
        except Exception as exc:  # noqa: BLE001  (every waiting caller hears why; the next group retries)
            self._close()  # a fresh connection for the next group
            self.failed = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("journal commit failed for %d batches", len(group))
            for *_, fut in group:
                fut.set_exception(JournalError(f"the journal could not commit: {self.failed}"))
            return
        self.failed = None
        self._seq = seq
        self.commits += 1
        for row, (events, kind, _answer, fut) in zip(rows, group, strict=True):
            if kind == "event":
                self.deliver(row["seq"], events)
            fut.set_result(row["seq"])
