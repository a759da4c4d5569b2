"""What the service runs the engine with: clocks, a counting enforcer and store, the embedded loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from floodwall.adapters.store import SqlStore
from floodwall.clock import Clock, WallClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import ActionOrder, DeadLetter, Event, Verdict
from floodwall.service.hub import Hub
from floodwall.service.metrics import Metrics

log = logging.getLogger("floodwall.service")


class EventClock:
    """Event time: the latest ``ts`` seen. A worker's state is then a function of its log alone."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The latest event time seen."""
        return self._now

    def observe(self, events: Sequence[Event]) -> None:
        """Move time to the newest event of a batch (never back)."""
        if events:
            self._now = max(self._now, max(ev.ts for ev in events))


class OutboxEnforcer:
    """The service's enforcer: orders are already in the store's ``actions`` table (the outbox that
    a platform polls or that a webhook relay drains); this keeps the latest few for the API."""

    def __init__(self, metrics: Metrics | None = None, keep: int = 1000) -> None:
        self.recent: deque[ActionOrder] = deque(maxlen=keep)
        self.metrics = metrics
        self.muted = False  # a worker rebuilding its state from the log re-sends nothing
        self.forward = None  # --orders-webhook: OrdersWebhook.submit (queues; never blocks the engine)

    def apply(self, orders: Sequence[ActionOrder]) -> None:
        """Keep the orders (bounded) and count them by kind."""
        if self.muted:
            return
        self.recent.extend(orders)
        if self.forward is not None:
            self.forward(orders)
        if self.metrics is not None:
            for o in orders:
                self.metrics.actions.labels(o.action).inc()


class CountingStore:
    """The engine's store port in the embedded service: counts verdicts, and writes behind.

    ``record`` only buffers (the engine calls it under the Hub's lock, and a go-live gate must not
    wait for a database commit there); ``flush`` writes everything buffered in one transaction, from
    the loop thread after each batch, outside the lock, together with how far the journal was
    processed. A row the database refuses (poison) goes to dead letters; the others are still written.
    ``muted`` (a restart replaying the journal to rebuild state) writes nothing: it was written before.
    """

    def __init__(self, store: SqlStore, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self.muted = False
        self.dead_rows = 0
        self._verdicts: list[Verdict] = []
        self._orders: list[ActionOrder] = []
        self._reports: list[dict] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def record(self, verdicts: Sequence[Verdict], orders: Sequence[ActionOrder]) -> None:
        """Count and buffer."""
        if self.muted:
            return
        for v in verdicts:
            self.metrics.verdicts.labels(v.action, "shadow" if v.shadow else "live").inc()
        with self._lock:
            self._verdicts.extend(verdicts)
            self._orders.extend(orders)

    def record_reports(self, rows: list[dict]) -> None:
        """Buffer reports (written with the next flush)."""
        if self.muted:
            return
        with self._lock:
            self._reports.extend(rows)

    def flush(self, processed: int | None = None) -> int:
        """Write what is buffered (in order) and the journal mark, in one transaction; returns how many verdicts."""
        import sqlalchemy as sa

        with self._flush_lock:
            with self._lock:
                vs, os_, reps = self._verdicts, self._orders, self._reports
                self._verdicts, self._orders, self._reports = [], [], []
            if not (vs or os_ or reps) and processed is None:
                return 0
            st = self.store
            vrows, arows = st.verdict_rows(vs), st.action_rows(os_)
            try:
                with st.engine.begin() as conn:
                    st.write(conn, vrows, arows, reps)
                    if processed is not None:
                        mark_processed(conn, st.run, processed)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("store refused a batch (%s); writing its rows one by one", type(exc).__name__)
                self._one_by_one(vrows, arows, reps, processed)
            return len(vs)

    def _one_by_one(self, vrows: list[dict], arows: list[dict], reps: list[dict], processed: int | None) -> None:
        """Each row in its own transaction: the ones the database refuses become dead letters, with why."""
        import json

        import sqlalchemy as sa

        st = self.store
        dead: list[DeadLetter] = []
        for table, rows in (("verdicts", vrows), ("actions", arows), ("reports", reps)):
            for row in rows:
                try:
                    with st.engine.begin() as conn:
                        st.write(conn, *([row] if t == table else [] for t in ("verdicts", "actions", "reports")))
                except sa.exc.SQLAlchemyError as exc:
                    self.dead_rows += 1
                    dead.append(DeadLetter(raw=json.dumps(row, default=str)[:10_000], field=table,
                                           reason=f"store error: {type(exc).__name__}: {str(exc)[:500]}"))
        with st.engine.begin() as conn:
            if processed is not None:
                mark_processed(conn, st.run, processed)
        if dead:
            st.record_dead(dead)


def mark_processed(conn, run: str, processed: int) -> None:
    """Move the journal's processed mark (in the caller's transaction, with the results it covers)."""
    from floodwall.persistence.tables import journal_marks as m

    conn.execute(m.update().where(m.c.run == run, m.c.processed < processed).values(processed=processed))


def open_store(url: str, run: str, attempts: int = 5) -> SqlStore:
    """SqlStore with every table at the newest schema (``floodwall.persistence``: migrations run under a lock,
    so processes starting together migrate once); retried in case the database is not taking connections yet."""
    import sqlalchemy as sa

    for i in range(attempts):
        try:
            return SqlStore(url, run=run)
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))
    raise AssertionError("unreachable")


def build_engine(policy_name: str, *, clock: Clock, store, enforcer, chat: bool = True, responder=None,
                 image_model: str = "none") -> Engine:
    """An Engine for the service: the named policy, its chat classifier, and the image model it names."""
    from floodwall.content.classifier import image_model as load_image_model

    policy = load_policy(policy_name)
    text = None
    if chat and policy.engine.chat:
        from floodwall.content.chat import default_classifier

        text = default_classifier()
    images = load_image_model(image_model) if policy.engine.classifier else None
    return Engine(policy, clock=clock, enforcer=enforcer, store=store, chat=text, classifier=images,
                  responder=responder)


def notifier_for(url: str):
    """The notifier for a --notify URL: http(s) is a webhook, anything else an Apprise service URL."""
    from floodwall.adapters.notifiers import AppriseNotifier, WebhookNotifier

    if url.startswith(("http://", "https://")):
        return WebhookNotifier(url)
    return AppriseNotifier([url])


class Courier:
    """The notification delivery worker on its own thread: drains the outbox every few seconds."""

    def __init__(self, worker, every: float = 2.0) -> None:
        self.worker = worker
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="floodwall-courier", daemon=True)

    def start(self) -> None:
        """Start draining."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current drain."""
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.worker.drain(time.time())
            except Exception:
                logging.getLogger("floodwall.notify").exception("outbox drain failed; will retry")


class EmbeddedLoop:
    """The embedded loop: a thread runs a batch every tick, of what the journal delivered (or, without
    one, what ingest queued in memory). One event that fails the engine or the store goes to dead
    letters with its error; the rest of its batch proceeds, and the thread keeps running."""

    def __init__(self, hub: Hub, store: SqlStore, metrics: Metrics, *, tick: float = 0.15,
                 after_batch: Callable[[int | None, int], None] | None = None) -> None:
        self.hub = hub
        self.store = store
        self.metrics = metrics
        self.tick = tick
        # Called with (journal seq processed, events) once a batch's results are written: the compactor's hook.
        self.after_batch = after_batch
        self._accepted: deque[tuple[float, int]] = deque()  # (accept time, n events) per ingest call
        self._journaled: list[Event] = []  # delivered by the journal after its commit, in journal order
        self._seq: int | None = None  # the highest journal seq delivered and not yet taken
        self._pending = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_beat = time.monotonic()
        self.batches = 0
        self.errors = 0
        self.died: str | None = None  # why the thread stopped, if it ever did

    def submit(self, events: Sequence[Event]) -> None:
        """Queue events for the next batch, in memory (the path without a journal)."""
        with self._lock:
            self.hub.submit(events)
            self._accepted.append((time.perf_counter(), len(events)))
            self._pending += len(events)

    def deliver(self, seq: int, events: Sequence[Event]) -> None:
        """Queue a committed journal batch for the next batch (called by the journal, in seq order)."""
        with self._lock:
            self._journaled.extend(events)
            self._seq = seq
            self._accepted.append((time.perf_counter(), len(events)))
            self._pending += len(events)

    @property
    def depth(self) -> int:
        """Events waiting for the next batch."""
        return self._pending

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="floodwall-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current batch and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def alive(self) -> bool:
        """True if the loop thread runs and beat recently."""
        return self._thread is not None and self._thread.is_alive() and time.monotonic() - self.last_beat < 30

    def run_once(self) -> int:
        """Handle everything queued as one batch; returns how many events it held."""
        with self._lock:
            events = [*self._journaled, *self.hub.drain()]
            seq, self._journaled, self._seq = self._seq, [], None
            accepted, self._accepted = self._accepted, deque()
            self._pending = 0
        self.last_beat = time.monotonic()
        if not events:
            return 0
        t0 = time.perf_counter()
        self.handle_isolated(events)
        done = time.perf_counter()
        self.flush(seq)
        self.metrics.batch_seconds.observe(done - t0)
        self.metrics.batch_events.observe(len(events))
        for t_acc, n in accepted:
            self.metrics.event_to_verdict.observe(done - t_acc)
        self.batches += 1
        if self.after_batch is not None:
            self.after_batch(seq, len(events))
        return len(events)

    def handle_isolated(self, events: Sequence[Event], keep_dead: bool = True) -> None:
        """Run a batch; if the engine fails on it, run its events one by one and dead-letter the failing ones."""
        from floodwall.service.poison import dead_event, handle_isolated

        failed = handle_isolated(self.hub.handle, self.hub.engine, events)
        if not failed:
            return
        self.errors += len(failed)
        self.metrics.engine_errors.inc(len(failed))
        if keep_dead:
            try:
                self.store.record_dead([dead_event(ev, why) for ev, why in failed])
            except Exception:  # noqa: BLE001  (the log line is all that is left)
                log.exception("could not store %d dead letters", len(failed))

    def flush(self, processed: int | None = None) -> None:
        """Write the engine's buffered verdicts and actions (write-behind store), if it buffers."""
        flush = getattr(self.hub.engine.store, "flush", None)
        if flush is None:
            return
        if processed is None:
            flush()
        else:
            flush(processed)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                try:
                    self.run_once()
                    self.flush()  # also what gate calls decided between batches
                except Exception:  # noqa: BLE001  (e.g. the store down for a moment: retry next tick)
                    self.errors += 1
                    log.exception("embedded loop iteration failed; continuing")
                self._stop.wait(max(0.0, self.tick - (time.monotonic() - t0)))
            self.run_once()
        except BaseException as exc:
            self.died = f"{type(exc).__name__}: {exc}"[:500]
            log.critical("the embedded loop stopped: %s", self.died)  # /readyz and ingest now answer 503


def run_async(main: Callable[[], Awaitable[None]]) -> None:
    """Run a process's main coroutine on uvloop where it is installed (asyncio's own loop elsewhere)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
        return
    uvloop.run(main())


def wall_clock() -> Clock:
    """The clock the embedded service runs on by default."""
    return WallClock()
