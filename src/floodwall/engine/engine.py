"""The engine's facade: events in, verdicts and action orders out, through a pipeline of stages.

One batch runs ingest (ingest.py) -> content (content.py) -> decide in rounds (decide.py) -> incident
response's effects (act.py) -> out to the ports, carrying a Batch value (batch.py) through them.
No I/O of its own: ports do that. The same code runs a replay (virtual clock, simulated platform)
and the service (wall clock). It sees only events; the simulator's ground truth never reaches it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np

from floodwall.clock import Clock
from floodwall.content.bank import BankSet, HashBank
from floodwall.content.matching import FrameMatcher
from floodwall.content.robust import RobustMatcher
from floodwall.coordination.clusters import ContentClusters
from floodwall.coordination.partition import RemoteView, SketchBuffer
from floodwall.coordination.rings import RingDetector
from floodwall.engine import cases, decide
from floodwall.engine.act import next_vid, respond
from floodwall.engine.batch import Batch
from floodwall.engine.content import QUALITY_MIN, handle_frames
from floodwall.engine.derive import account_signals, stream_signals
from floodwall.engine.effects import Effect, Order, Rejudge
from floodwall.engine.ingest import HANDLERS, score_chats
from floodwall.engine.policy import Policy, Rule
from floodwall.engine.signals import PhoneRanges
from floodwall.engine.state import Account, Indexes, Stream
from floodwall.engine.view import BatchView
from floodwall.events import (
    ActionOrder,
    Event,
    FrameSampled,
    ReviewDecided,
    ReviewReversed,
    StreamStarted,
    Verdict,
)
from floodwall.engine.queue import ReviewQueue

DEDUP_WINDOW = 3600.0  # seconds of event time an event id is remembered for idempotency


class FrameClassifier(Protocol):
    """Classifier port: a violation score in [0, 1] per frame."""

    name: str

    def score(self, frames: Sequence[FrameSampled], pixels: np.ndarray) -> np.ndarray: ...


class TextClassifier(Protocol):
    """Chat and title classifier port: a diversion score in [0, 1] per line."""

    name: str
    threshold: float

    def score(self, text: str) -> float: ...

    def score_many(self, texts: Sequence[str]) -> np.ndarray: ...


class Store(Protocol):
    """Store port: where verdicts, actions and every report received are kept."""

    def record(self, verdicts: Sequence[Verdict], orders: Sequence[ActionOrder]) -> None: ...

    def record_reports(self, rows: list[dict]) -> None: ...


class Enforcer(Protocol):
    """Enforcer port: carries action orders to the platform (takes down, freezes, limits)."""

    def apply(self, orders: Sequence[ActionOrder]) -> None: ...


class Engine:
    """Keeps per-entity state, runs the stages on each batch, and sends actions through its ports."""

    def __init__(
        self,
        policy: Policy,
        *,
        clock: Clock,
        enforcer: Enforcer,
        store: Store | None = None,
        review: ReviewQueue | None = None,
        classifier: FrameClassifier | None = None,
        chat: TextClassifier | None = None,
        banks: BankSet | None = None,
        phone_ranges: PhoneRanges | None = None,
        responder=None,
    ) -> None:
        self.policy = policy
        self.responder = responder  # incident response (response/incident.py): surge, levels, playbook
        self.settings = policy.engine
        self.clock = clock
        self.enforcer = enforcer
        self.store = store
        self.review = review or ReviewQueue(policy.engine.review if policy.engine.review == "fifo" else "case")
        self.classifier = classifier if policy.engine.classifier else None
        self.chat = chat if policy.engine.chat else None
        self.banks = banks if banks is not None else BankSet()
        names = {b.name for b in self.banks.banks}
        for name, kind in (("confirmed", "block"), ("reviewed", "block"), ("honest", "allow")):
            if name not in names:
                self.banks.add_bank(HashBank(name, kind=kind))
        robust = RobustMatcher() if policy.engine.robust else None
        self.matcher = FrameMatcher(self.banks, robust, min_quality=QUALITY_MIN)
        self.phones = phone_ranges or PhoneRanges()
        self.clusters = ContentClusters() if policy.engine.clusters else None
        self.rings = RingDetector() if policy.engine.rings else None
        # Lasting state (state.py): entities, the indexes over them, and what decisions left behind.
        self.accounts: dict[str, Account] = {}
        self.streams: dict[str, Stream] = {}
        self.idx = Indexes()
        self.reputation: dict[str, float] = {}  # reporter -> weight, learned from review decisions
        self.confirmed_clusters: set[str] = set()
        self.flagged_principals: set[str] = set()  # API keys that fanned out or began using a privileged scope
        self.decision_effects: dict[str, dict] = {}  # what each review decision did, so it can be undone
        self._level = 0  # the incident level when no responder keeps one
        self.sent: set[str] = set()  # idempotency keys of the orders sent
        self.vseq = 0
        self.verdict_prefix = policy.name
        self.refs = decide.rule_refs(policy)
        # Counters.
        self.events = 0
        self.frames = 0
        self.frames_hashed = 0
        self.frames_undecodable = 0  # image frames left out: the image did not decode
        self.reports_received = 0
        self.reports_accepted = 0
        self.verdicts = 0
        self.shadow_hits: dict[str, int] = defaultdict(int)
        self.shadow_subjects: dict[str, set[str]] = defaultdict(set)  # what each shadow rule would have acted on
        self.actions_by_kind: dict[str, int] = defaultdict(int)
        self.round_limit_hits = 0  # batches that still had dirty rooms after decide.MAX_ROUNDS rounds
        # Rules that raised at run time: skipped for that subject, counted by rule, the first few kept.
        self.rule_error_counts: dict[str, int] = defaultdict(int)
        self.rule_errors: list[dict] = []
        # Idempotency by event id: ids seen within DEDUP_WINDOW seconds of event time are skipped, so a
        # client's retry or a redelivered log message changes nothing. Bounded, so memory stays flat.
        self._seen_ids: dict[str, float] = {}
        self._seen_order: deque[tuple[float, str]] = deque()
        self.duplicates = 0
        # One partition of many (the NATS service): sketches for the coordinator, and its view back.
        self.sketch: SketchBuffer | None = None
        self.remote: RemoteView | None = None

    @property
    def incident_level(self) -> int:
        """The incident level in force: incident response's, else the last one noticed."""
        return self.responder.level if self.responder is not None else self._level

    @incident_level.setter
    def incident_level(self, level: int) -> None:
        self._level = level

    # ---- the loop -------------------------------------------------------------------------

    def handle(self, events: Sequence[Event]) -> list[ActionOrder]:
        """Process one batch of events; returns the action orders sent for it."""
        return self._run(events).orders

    def _run(self, events: Sequence[Event]) -> Batch:
        b = Batch(now=self.clock.now())
        self._ingest(b, events)
        if b.chats:
            score_chats(self, b)
        if b.frames:
            handle_frames(self, b, b.frames)
        judged = decide.decide_rounds(self, b)
        decide.decide_accounts(self, b, judged)
        if self.responder is not None:  # incident response: feed the surge detector, carry out the playbook
            self._apply(b, self.responder.after_batch(BatchView(self, b), events, b.orders))
            if self.sketch is not None:  # the coordinator sets the level from every partition's counts
                self.sketch.counts = self.responder.last_counts
        self._send(b)
        return b

    def _ingest(self, b: Batch, events: Sequence[Event]) -> None:
        seen, order = self._seen_ids, self._seen_order
        while order and order[0][0] < b.now - DEDUP_WINDOW:
            _, old = order.popleft()
            seen.pop(old, None)
        for ev in events:
            if ev.id in seen:
                self.duplicates += 1
                continue
            seen[ev.id] = ev.ts
            order.append((ev.ts, ev.id))
            self.events += 1
            t = type(ev)
            if t is FrameSampled:
                b.frames.append(ev)
            elif t is ReviewDecided:
                cases.decided(self, b, ev)
            elif t is ReviewReversed:
                cases.reversed_(self, b, ev)
            else:
                HANDLERS[t](self, b, ev)

    def _apply(self, b: Batch, effects: Iterable[Effect]) -> None:
        """Apply effects one by one, as they come: a later one may depend on what an earlier one did."""
        for eff in effects:
            if type(eff) is Rejudge:
                acc = self.accounts.get(eff.account)
                if acc is not None:
                    decide.evaluate_account(self, b, acc)
            else:
                respond(self, b, eff)

    def _send(self, b: Batch) -> None:
        if b.orders:
            self.enforcer.apply(b.orders)
        if self.store is not None and (b.verdicts or b.orders):
            self.store.record(b.verdicts, b.orders)
        if b.report_rows and self.store is not None:
            self.store.record_reports(b.report_rows)  # every report is kept, whatever it weighed

    def seen(self, event_id: str) -> bool:
        """True if an event with this id was handled within the idempotency window (a repeat is skipped)."""
        return event_id in self._seen_ids

    def gate(self, ev: StreamStarted) -> tuple[Verdict | None, list[ActionOrder]]:
        """Go-live gate: handle one StreamStarted now; the stream's verdict (None for a duplicate id) and orders."""
        b = self._run([ev])
        verdict = next((v for v in reversed(b.verdicts) if v.subject == "stream" and v.key == ev.stream), None)
        return verdict, b.orders

    # ---- views and effects from outside the engine ----------------------------------------

    def account_signals(self, acc: Account, now: float | None = None) -> dict[str, object]:
        """Every account signal of one account, at ``now`` (default: the clock's now)."""
        return account_signals(self, acc, self.clock.now() if now is None else now)

    def stream_signals(self, st: Stream, now: float | None = None) -> dict[str, object]:
        """Every stream signal of one room, at ``now`` (default: the clock's now)."""
        return stream_signals(self, st, self.clock.now() if now is None else now, {})

    def phone_of(self, account: str) -> str:
        """The phone number on record for an account ("" if unknown): where a notice goes."""
        acc = self.accounts.get(account)
        return acc.phone if acc is not None else ""

    def rule_error_recorder(self, subject: str, key: str, now: float | None = None) -> Callable[[Rule, Exception], None]:
        """A callback for Policy.evaluate that records a rule's run-time error on this subject."""
        return decide.error_recorder(self, Batch(now=self.clock.now() if now is None else now), subject, key)

    def respond_now(self, effects: Sequence[tuple[str, str, str]], reason: str, evidence: dict) -> list[ActionOrder]:
        """Carry out incident-response orders now, outside an event batch (an executed or undone mass action)."""
        b = Batch(now=self.clock.now())
        self._apply(b, (Order(action, subject, target, reason, evidence) for action, subject, target in effects))
        self._send(b)
        return b.orders

    def pause_all(self, reason: str) -> None:
        """Baseline response: the platform switches off all live streaming (an order, audited)."""
        now = self.clock.now()
        v = Verdict(id=next_vid(self), ts=now, subject="stream", key="*", action="takedown", rules=[reason],
                    policy=self.policy.name)
        order = ActionOrder(key=f"pause_all:{now}", ts=now, action="takedown", subject="stream", target="*",
                            verdict=v.id, reason=reason)
        self.enforcer.apply([order])
        if self.store is not None:
            self.store.record([v], [order])

    def partitioned(self) -> None:
        """Run as one partition of many: sketch each batch for the coordinator, merge what it notices."""
        self.sketch = SketchBuffer()
        self.remote = RemoteView()
