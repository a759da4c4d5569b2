"""Incident response in the engine's loop: feed the surge detector, move the level, carry out the playbook.

The engine calls :meth:`IncidentResponse.after_batch` once per batch, after its rules ran and before
its orders leave. It reads the engine through a read-only :class:`~floodwall.engine.view.BatchView` and
answers with effects (:mod:`floodwall.engine.effects`) that the engine applies one by one as they are
yielded, each order with a verdict naming why.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from floodwall.engine.effects import Effect, Order, Rejudge
from floodwall.events import (
    AccountRegistered,
    ActionOrder,
    Event,
    FrameSampled,
    ReportFiled,
    StreamStarted,
)
from floodwall.response.audit import AuditLog
from floodwall.response.levels import LEVELS, LevelChange, LevelTracker
from floodwall.response.outbox import Outbox
from floodwall.response.playbook import (
    Playbook,
    load_playbook,
    playbook_for,
    without_effects,
)
from floodwall.response.surge import SurgeDetector

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine
    from floodwall.engine.view import BatchView

DAY = 86_400.0
RISKY = 3.0  # gate risk at which a go-live counts as risky for the surge metric (as in cluster shares)
HIJACK_SIGNS = 2  # as the policy's notify-hijacked rule: two signs make an account probably hijacked
KEEP_LIMITED = ("limit", "takedown", "freeze")  # a rule asking for one of these keeps a room limited


class IncidentResponse:
    """Surge detector, level tracker and playbook effects for one engine."""

    def __init__(self, playbook: Playbook, start: float | None, outbox: Outbox | None = None,
                 audit: AuditLog | None = None, follower: bool = False) -> None:
        """``start`` None: the baseline starts with the first batch (a worker on event time)."""
        self.playbook = playbook
        # A follower (one partition of the NATS service) counts and plays, but the level is the
        # coordinator's, judged on every partition's counts (LevelNoticed events).
        self.follower = follower
        self.last_counts: dict[str, float] = {}
        self.outbox = outbox  # notify orders become owner messages here (None: orders only)
        self.audit = audit  # operators' level settings are recorded here (None: in the timeline only)
        self._unapplied: list[LevelChange] = []  # operator changes whose effects wait for the next batch
        self.started = start is not None
        self.detector = SurgeDetector(playbook.surge, start or 0.0)
        self.tracker = LevelTracker(playbook.hold_s, start or 0.0)
        self.probation: dict[str, int] = {}  # stream -> clean frames so far
        self.probation_started = 0
        self.probation_lifted = 0
        self.held_golives = 0
        self.held_accounts: dict[str, int] = {}  # account -> level that held it
        self.held_registrations = 0
        self._clusters = 0
        self._ring_members = 0
        self._last_eval = -1

    @classmethod
    def for_policy(cls, policy_name: str, start: float | None, outbox: Outbox | None = None,
                   playbook: str | None = None, audit: AuditLog | None = None,
                   follower: bool = False) -> IncidentResponse:
        """The response for a policy: its own playbook, or the default detector with no effects."""
        pb = load_playbook(playbook) if playbook else playbook_for(policy_name)
        return cls(pb if pb is not None else without_effects(load_playbook("floodwall")), start, outbox, audit,
                   follower)

    def enqueue_notices(self, engine: Engine | BatchView, orders: Sequence[ActionOrder]) -> None:
        """Put a message for each notify order in the outbox (the owner's number on record)."""
        if self.outbox is not None and any(o.action == "notify" for o in orders):
            self.outbox.enqueue(orders, engine.phone_of)

    @property
    def level(self) -> int:
        """The level in force."""
        return self.tracker.level

    def timeline(self) -> list[dict]:
        """Every level change, oldest first, as JSON-ready dicts."""
        return [c.as_dict() for c in self.tracker.changes]

    # ---- the hook -------------------------------------------------------------------------

    def after_batch(self, view: BatchView, events: Sequence[Event],
                    orders: Sequence[ActionOrder]) -> Iterator[Effect]:
        """Count the batch, re-judge the level once per second, then yield the level's play as effects.

        The engine applies each effect as it is yielded, so what follows reads its result
        (``orders`` grows with the orders applied so far).
        """
        now = view.now
        self._begin(now)
        counts = self.last_counts = self._count(view, events, orders, now)
        if not self.follower:
            self.detector.add(now, counts, learning=self.tracker.level == 0)
        unapplied, self._unapplied = self._unapplied, []
        for change in unapplied:
            yield from self._changed(change)
        if int(now) != self._last_eval and not self.follower:
            self._last_eval = int(now)
            target, why, evidence = self.detector.target(now)
            change = self.tracker.observe(now, target, why, evidence)
            if change is not None:
                yield from self._changed(change)
        yield from self._notify_after_takedowns(view, orders)
        play = self.playbook.play(self.tracker.level)
        for ev in events:
            t = type(ev)
            if t is StreamStarted:
                yield from self._gate(view, ev, play)
            elif t is AccountRegistered and play is not None and play.hold_virtual_registrations:
                yield from self._hold_registration(view, ev, now)
            elif t is FrameSampled and ev.stream in self.probation:
                yield from self._probation_frame(view, ev, play)
        self.enqueue_notices(view, orders)

    def _begin(self, now: float) -> None:
        """Start the baseline now, if it was left to the first batch."""
        if not self.started:
            self.started = True
            self.detector = SurgeDetector(self.playbook.surge, now)
            self.tracker = LevelTracker(self.playbook.hold_s, now)

    def set_level(self, engine: Engine, level: int, operator: str, reason: str) -> LevelChange:
        """An operator pins the level by hand (recorded with who and why)."""
        ch = self.tracker.set_by_operator(engine.clock.now(), level, operator, reason)
        self._unapplied.append(ch)  # orders (releasing holds) go out with the engine's next batch
        if self.audit is not None:
            self.audit.append(ch.t, operator, "level_set", "incident", {"level": LEVELS[level], "reason": reason})
        return ch

    def follow(self, engine: Engine, level: int, why: str, evidence: dict, t: float) -> None:
        """The coordinator's level (a follower's only source); effects go out after the batch's rules."""
        self._begin(t)
        ch = self.tracker.follow(t, level, why, evidence)
        if ch is not None:
            self._unapplied.append(ch)

    def release(self, engine: Engine, operator: str) -> None:
        """An operator hands the level back to the detector."""
        self.tracker.release(engine.clock.now(), operator)
        if self.audit is not None:
            self.audit.append(engine.clock.now(), operator, "level_released", "incident",
                              {"level": LEVELS[self.tracker.level]})

    # ---- metrics --------------------------------------------------------------------------

    def _count(self, view: BatchView, events: Sequence[Event], orders: Sequence[ActionOrder], now: float) -> dict:
        risky_golives = reports = risky_regs = 0
        for ev in events:
            t = type(ev)
            if t is StreamStarted:
                acc = view.accounts.get(ev.account)
                if acc is not None and (acc.phone_virtual or (acc.created is not None and now - acc.created < DAY)):
                    risky_golives += 1
            elif t is ReportFiled:
                reports += 1
            elif t is AccountRegistered and ev.ts > now - 60:  # live, not backfilled
                risky_regs += view.is_virtual(ev.phone)
        takedowns = sum(1 for o in orders if o.action in ("takedown", "freeze") and o.target != "*")
        clusters = view.confirmed_clusters()
        members = view.ring_members()
        out = {
            "risky_golives": risky_golives, "takedowns": takedowns, "reports": reports,
            "cluster_growth": max(0, clusters - self._clusters), "ring_growth": max(0, members - self._ring_members),
            "risky_registrations": risky_regs,
        }
        self._clusters, self._ring_members = clusters, members
        return out

    # ---- effects --------------------------------------------------------------------------

    def _changed(self, change: LevelChange) -> Iterator[Effect]:
        # Holds end when the level that made them falls: held accounts are let go (restore orders).
        for aid, lvl in sorted(self.held_accounts.items()):
            if change.level < lvl:
                del self.held_accounts[aid]
                yield Order("restore", "account", aid, f"hold released: level {LEVELS[change.level]}",
                            {"incident.level": change.level})

    def _gate(self, view: BatchView, ev: StreamStarted, play) -> Iterator[Effect]:
        st = view.streams.get(ev.stream)
        acc = view.accounts.get(ev.account)
        if play is None or st is None or acc is None or not st.live or st.taken_down:
            return
        sig = view.account_signals(acc)
        if sig["trusted"]:
            return
        lvl = LEVELS[self.tracker.level]
        if play.hold_golive_min_risk is not None and sig["risk"] >= play.hold_golive_min_risk:
            self.held_golives += 1
            yield Order("takedown", "stream", st.id, f"held at go-live: level {lvl}, risk {sig['risk']:g}",
                        {"incident.level": self.tracker.level, "account.risk": sig["risk"]})
            if sig["hijack_signs"] >= HIJACK_SIGNS:
                # Held before any content was seen, so no content rule will judge it: its owner is told here.
                yield Order("notify", "account", acc.id, f"held with {sig['hijack_signs']} hijack signs",
                            {"account.hijack_signs": sig["hijack_signs"]})
            return
        if play.probation and not st.limited:
            self.probation[st.id] = 0
            self.probation_started += 1
            yield Order("limit", "stream", st.id, f"probation: level {lvl}, account without trust",
                        {"incident.level": self.tracker.level, "account.trusted": False})

    def _probation_frame(self, view: BatchView, ev: FrameSampled, play) -> Iterator[Effect]:
        st = view.streams.get(ev.stream)
        if st is None or not st.live or not st.limited:
            self.probation.pop(ev.stream, None)
            return
        clean = not st.bank_match and not (st.scores and st.scores[-1] >= 0.5)
        n = self.probation[st.id] = self.probation[st.id] + 1 if clean else 0
        # Once the level no longer calls for probation, the next frame lifts it (if the policy agrees).
        need = play.probation_clean_frames if play is not None and play.probation else 0
        if n < need:
            return
        # Enough clean frames (or the level fell): lift, unless the policy itself wants the room limited.
        fired = view.firing(st)
        del self.probation[st.id]
        if any(r.action in KEEP_LIMITED for r in fired):
            return
        self.probation_lifted += 1
        yield Order("restore", "stream", st.id, f"probation lifted: {n} clean frames",
                    {"stream.frames": st.frames})

    def _hold_registration(self, view: BatchView, ev: AccountRegistered, now: float) -> Iterator[Effect]:
        if ev.ts <= now - 60 or not view.is_virtual(ev.phone) or ev.account in self.held_accounts:
            return
        self.held_accounts[ev.account] = self.tracker.level
        self.held_registrations += 1
        yield Order("freeze", "account", ev.account,
                    f"registration held: level {LEVELS[self.tracker.level]}, virtual-operator number",
                    {"incident.level": self.tracker.level, "account.phone_virtual": True})

    def _notify_after_takedowns(self, view: BatchView, orders: Sequence[ActionOrder]) -> Iterator[Effect]:
        # A takedown is itself a signal (account.takedowns > 0): judge the account again, so that rules
        # such as notify-hijacked see it even when the room was removed by a rule they do not mention.
        accounts = set()
        for o in orders:
            if o.action == "takedown" and o.subject == "stream" and o.target in view.streams:
                accounts.add(view.streams[o.target].account)
        for aid in sorted(accounts):
            acc = view.accounts.get(aid)
            if acc is not None and not acc.notified:
                yield Rejudge(aid)
