"""The engine: events in, verdicts and action orders out. No I/O of its own: ports do that.

The same code runs a replay (virtual clock, simulated platform) and the service (wall clock).
It sees only events; the simulator's ground truth never reaches it.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Protocol

import cel
import numpy as np

from floodwall.adapters.enforcer import Enforcer
from floodwall.clock import Clock
from floodwall.content.bank import BankSet, HashBank
from floodwall.content.matching import FrameMatcher
from floodwall.content.pdq import hash_frames, to_hex_many
from floodwall.content.robust import RobustMatcher
from floodwall.coordination.clusters import ContentClusters
from floodwall.coordination.partition import RemoteView, SketchBuffer, count_within
from floodwall.coordination.rings import RingDetector
from floodwall.engine.policy import Policy, Rule
from floodwall.engine.signals import (
    NEVER,
    STREAM_SIGNALS,
    PhoneRanges,
    WindowCounter,
    network_block,
    phone_block,
    risk_score,
)
from floodwall.engine.state import Account, Stream
from floodwall.events import (
    AccountRegistered,
    AccountSeen,
    AccountsNoticed,
    ActionOrder,
    ApiCall,
    BankChanged,
    ChatPosted,
    ClusterNoticed,
    Confirmed,
    Event,
    FrameSampled,
    KeysNoticed,
    LevelNoticed,
    Login,
    ProfileChanged,
    ReportFiled,
    ReviewDecided,
    ReviewReversed,
    RingNoticed,
    StreamEnded,
    StreamStarted,
    Verdict,
    ViewerCount,
)
from floodwall.review.queue import ReviewQueue

QUALITY_MIN = 50  # PDQ hashes of quality 49 or less are discarded (Meta's guidance)
DAY = 86_400.0
CHAT_WINDOW = 300.0
FRESH_REPORT_CAP = 1.0  # the most report weight accounts younger than a week can add to one room
RESTRICTED_PREFIXES = ("/internal/", "/admin/", "/whitelist/")
MAX_ROUNDS = 16  # decision rounds per batch (a confirmed takedown dirties its cluster for the next round)
RULE_ERRORS_KEPT = 100  # run-time rule errors kept with their subject (all are counted)
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


_REF = re.compile(r"\b(account|stream|incident)\.([a-z_]+)")


class Engine:
    """Keeps per-entity state, runs the policy on changes, and sends actions through its ports."""

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
        self.accounts: dict[str, Account] = {}
        self.streams: dict[str, Stream] = {}
        self.device_accounts: dict[str, set[str]] = defaultdict(set)
        self.net_accounts: dict[str, set[str]] = defaultdict(set)
        self.net_fresh: dict[str, list[float]] = defaultdict(list)  # registration times of fresh accounts, sorted
        self.block_accounts: dict[str, set[str]] = defaultdict(set)
        self.device_regs = WindowCounter(3600)
        self.block_regs = WindowCounter(3600)
        self.net_regs = WindowCounter(600)
        self.net_golives = WindowCounter(600)
        self.api_seen: dict[str, set[str]] = defaultdict(set)
        self.report_counts = WindowCounter(600)
        self.reputation: dict[str, float] = {}
        self.confirmed_clusters: set[str] = set()
        self.incident_level = 0
        self._account_cache: dict[str, dict] = {}  # account signals, computed once per evaluation
        self.events = 0
        self.frames = 0
        self.frames_hashed = 0
        self.reports_received = 0
        self.reports_accepted = 0
        self.verdicts = 0
        self.shadow_hits: dict[str, int] = defaultdict(int)
        self.shadow_subjects: dict[str, set[str]] = defaultdict(set)  # what each shadow rule would have acted on
        self.actions_by_kind: dict[str, int] = defaultdict(int)
        self._vseq = 0
        self.verdict_prefix = policy.name
        self._sent: set[str] = set()
        # Idempotency by event id: ids seen within DEDUP_WINDOW seconds of event time are skipped, so a
        # client's retry or a redelivered log message changes nothing. Bounded, so memory stays flat.
        self._seen_ids: dict[str, float] = {}
        self._seen_order: deque[tuple[float, str]] = deque()
        self.duplicates = 0
        self.round_limit_hits = 0
        # Rules that raised at run time: skipped for that subject, counted by rule, the first few kept.
        self.rule_error_counts: dict[str, int] = defaultdict(int)
        self.rule_errors: list[dict] = []  # batches that still had dirty rooms after MAX_ROUNDS rounds
        self._refs = {r.name: sorted(set(_REF.findall(r.when))) for r in policy.rules}
        self._handlers = {
            AccountRegistered: self._on_registered,
            Login: self._on_login,
            ProfileChanged: self._on_profile,
            StreamStarted: self._on_started,
            StreamEnded: self._on_ended,
            ChatPosted: self._on_chat,
            ViewerCount: self._on_viewers,
            ReportFiled: self._on_report,
            ApiCall: self._on_api,
            ReviewDecided: self._on_review,
            ReviewReversed: self._on_reversed,
            BankChanged: self._on_bank_changed,
            ClusterNoticed: self._on_cluster_noticed,
            RingNoticed: self._on_ring_noticed,
            KeysNoticed: self._on_keys_noticed,
            AccountsNoticed: self._on_accounts_noticed,
            LevelNoticed: self._on_level_noticed,
        }
        # One partition of many (the NATS service): sketches for the coordinator, and its view back.
        self.sketch: SketchBuffer | None = None
        self.remote: RemoteView | None = None
        self.decision_effects: dict[str, dict] = {}  # what each review decision did, so it can be undone
        self._report_rows: list[dict] = []

    # ---- the loop -------------------------------------------------------------------------

    def handle(self, events: Sequence[Event]) -> list[ActionOrder]:
        """Process one batch of events; returns the action orders sent for it."""
        now = self.clock.now()
        self._now = now
        self._dirty: set[str] = set()
        self._dirty_accounts: set[str] = set()
        self._verdicts: list[Verdict] = []
        self._orders: list[ActionOrder] = []
        frames: list[FrameSampled] = []
        self._chats: list[ChatPosted] = []
        handlers = self._handlers
        seen, order = self._seen_ids, self._seen_order
        while order and order[0][0] < now - DEDUP_WINDOW:
            _, old = order.popleft()
            seen.pop(old, None)
        for ev in events:
            if ev.id in seen:
                self.duplicates += 1
                continue
            seen[ev.id] = ev.ts
            order.append((ev.ts, ev.id))
            self.events += 1
            if type(ev) is FrameSampled:
                frames.append(ev)
            else:
                handlers[type(ev)](ev)
        if self._chats:
            self._on_chats(self._chats)
        if frames:
            self._on_frames(frames)
        judged = self._decide_rounds()
        for aid in sorted(self._dirty_accounts - {self.streams[s].account for s in judged if s in self.streams}):
            self._evaluate_account(self.accounts[aid])
        if self.responder is not None:  # incident response: feed the surge detector, carry out the playbook
            self.responder.after_batch(self, events, self._orders)
            if self.sketch is not None:  # the coordinator sets the level from every partition's counts
                self.sketch.counts = self.responder.last_counts
        if self._orders:
            self.enforcer.apply(self._orders)
        if self.store is not None and (self._verdicts or self._orders):
            self.store.record(self._verdicts, self._orders)
        if self._report_rows:
            if self.store is not None:
                self.store.record_reports(self._report_rows)  # every report is kept, whatever it weighed
            self._report_rows = []
        return self._orders

    def seen(self, event_id: str) -> bool:
        """True if an event with this id was handled within the idempotency window (a repeat is skipped)."""
        return event_id in self._seen_ids

    def gate(self, ev: StreamStarted) -> tuple[Verdict | None, list[ActionOrder]]:
        """Go-live gate: handle one StreamStarted now; the stream's verdict (None for a duplicate id) and orders."""
        orders = self.handle([ev])
        verdict = next((v for v in reversed(self._verdicts) if v.subject == "stream" and v.key == ev.stream), None)
        return verdict, orders

    # ---- accounts -------------------------------------------------------------------------

    def _account(self, aid: str) -> Account:
        acc = self.accounts.get(aid)
        if acc is None:
            acc = self.accounts[aid] = Account(id=aid)
        return acc

    def _on_registered(self, ev: AccountRegistered) -> None:
        acc = self._account(ev.account)
        acc.created = ev.ts
        acc.phone = ev.phone
        acc.phone_virtual = self.phones.is_virtual(ev.phone)
        acc.block = phone_block(ev.phone)
        net = network_block(ev.ip)
        acc.devices.add(ev.device)
        acc.nets.add(net)
        acc.device, acc.net = ev.device, net
        self.device_accounts[ev.device].add(acc.id)
        self._join_net(acc, net, registering=True)
        self.block_accounts[acc.block].add(acc.id)
        live = ev.ts > self._now - 3600  # a live registration, not a backfilled one
        if live:
            self.device_regs.add(ev.device, ev.ts)
            self.block_regs.add(acc.block, ev.ts)
            self.net_regs.add(net, ev.ts)
            if self.rings is not None:
                self._ring_news(self.rings.on_registration(acc.id, acc.block, ev.ts))
                self._ring_news(self.rings.on_device(acc.id, ev.device, ev.ts))
        if self.sketch is not None:
            self.sketch.seen.append(AccountSeen(acc.id, ev.ts, "registered", ev.device, net, acc.block, ev.ts, live))

    def _join_net(self, acc: Account, net: str, registering: bool = False) -> None:
        """Record an account on a network; a fresh one also by its registration time (for the fresh share)."""
        ids = self.net_accounts[net]
        new = acc.id not in ids
        ids.add(acc.id)
        # Fresh now or never: time only moves on, so an account not fresh when it joins never counts.
        if (new or registering) and acc.created is not None and self._now - acc.created < DAY:
            bisect.insort(self.net_fresh[net], acc.created)

    def _on_login(self, ev: Login) -> None:
        acc = self._account(ev.account)
        if not ev.ok:
            return
        net = network_block(ev.ip)
        if acc.devices and ev.device not in acc.devices and net not in acc.nets:
            acc.new_device_login = ev.ts
        if ev.credential_change:
            acc.credential_change = ev.ts
        acc.devices.add(ev.device)
        acc.nets.add(net)
        acc.device, acc.net = ev.device, net
        self.device_accounts[ev.device].add(acc.id)
        self._join_net(acc, net)
        live, trusted = ev.ts > self._now - 3600, self._trusted(acc)
        if self.rings is not None and live and not trusted:
            self._ring_news(self.rings.on_device(acc.id, ev.device, ev.ts))
        if self.sketch is not None:
            self.sketch.seen.append(AccountSeen(acc.id, ev.ts, "login", ev.device, net, live=live, trusted=trusted))

    def _on_profile(self, ev: ProfileChanged) -> None:
        acc = self._account(ev.account)
        if ev.avatar is not None:
            acc.has_avatar = ev.avatar
        if ev.title is not None:
            acc.title = ev.title

    def _on_api(self, ev: ApiCall) -> None:
        restricted = ev.endpoint.startswith(RESTRICTED_PREFIXES) or ev.scope.startswith("whitelist")
        key = f"{ev.endpoint}|{ev.scope}"
        seen = self.api_seen[ev.principal]
        if restricted and key not in seen and ev.ts > self._now - 3600:
            acc = self._account(ev.account or ev.principal)
            # First-ever use by a principal with a history of calls is the tell; a new integration's
            # very first call is not.
            if seen:
                acc.restricted_api_new = True
                self._mark_account(acc)
        seen.add(key)

    def _trusted(self, acc: Account) -> bool:
        age = self._now - acc.created if acc.created is not None else 10 * 365 * DAY
        hijack = self._hijack_signs(acc) > 0
        return age >= 30 * DAY and acc.has_avatar and acc.takedowns == 0 and not hijack and not acc.frozen

    def _hijack_signs(self, acc: Account) -> int:
        n = 0
        if acc.new_device_login is not None and self._now - acc.new_device_login < 7 * DAY:
            n += 1
            if acc.credential_change is not None and acc.credential_change >= acc.new_device_login:
                n += 1
            if acc.golive_after_hijack:
                n += 1
        return n

    def account_signals(self, acc: Account) -> dict[str, object]:
        """Every account signal, computed now."""
        now = self._now
        age = now - acc.created if acc.created is not None else 10 * 365 * DAY
        net_ids = self.net_accounts.get(acc.net, ())
        n_net = len(net_ids)
        fresh = 0
        if 0 < n_net <= 2000:  # carrier NAT blocks hold many thousands: their fresh share is noise
            created = self.net_fresh.get(acc.net)
            if created:
                old = bisect.bisect_right(created, now - DAY)  # no longer fresh, and never again
                if old:
                    del created[:old]
                fresh = len(created)
        ring = self.rings.ring_of(acc.id) if self.rings is not None else None
        s = {
            "age_s": age,
            "has_avatar": acc.has_avatar,
            "has_title": bool(acc.title),
            "phone_virtual": acc.phone_virtual,
            "phone_block_accounts": len(self.block_accounts.get(acc.block, ())),
            "phone_block_regs_1h": self.block_regs.count(acc.block, now),
            "device_accounts": len(self.device_accounts.get(acc.device, ())),
            "device_regs_1h": self.device_regs.count(acc.device, now),
            "net_accounts": n_net,
            "net_fresh_share": fresh / n_net if n_net and n_net <= 2000 else 0.0,
            "net_regs_10m": self.net_regs.count(acc.net, now),
            "net_golives_10m": self.net_golives.count(acc.net, now),
            "new_device_login_s": now - acc.new_device_login if acc.new_device_login is not None else NEVER,
            "credential_change_s": now - acc.credential_change if acc.credential_change is not None else NEVER,
            "hijack_signs": self._hijack_signs(acc),
            "restricted_api_new": acc.restricted_api_new,
            "clean_streams": acc.clean_streams,
            "takedowns": acc.takedowns,
            "trusted": self._trusted(acc),
            "risk": 0.0,
            "in_ring": ring is not None,
            "ring_size": len(ring.members) if ring else 0,
            "ring_confirmed": bool(ring and ring.confirmed),
            "frozen": acc.frozen,
        }
        if self.remote is not None:
            self._merge_account(acc, s)
        s["risk"] = risk_score(s)
        return s

    def _merge_account(self, acc: Account, s: dict[str, object]) -> None:
        """Add what the coordinator sees across partitions: a count is the larger view, a flag either."""
        now, remote = self._now, self.remote
        ring = remote.ring_of.get(acc.id)  # type: ignore[union-attr]
        if ring is not None:
            s["in_ring"] = True
            s["ring_size"] = max(s["ring_size"], ring.size)  # type: ignore[call-overload]
            s["ring_confirmed"] = bool(s["ring_confirmed"]) or ring.confirmed
        keys = remote.keys  # type: ignore[union-attr]
        dev = keys.get(("device", acc.device))
        if dev is not None:
            s["device_accounts"] = max(s["device_accounts"], dev.accounts)  # type: ignore[call-overload]
            s["device_regs_1h"] = max(s["device_regs_1h"], count_within(dev.regs, now, 3600))  # type: ignore[call-overload]
        blk = keys.get(("block", acc.block))
        if blk is not None:
            s["phone_block_accounts"] = max(s["phone_block_accounts"], blk.accounts)  # type: ignore[call-overload]
            s["phone_block_regs_1h"] = max(s["phone_block_regs_1h"], count_within(blk.regs, now, 3600))  # type: ignore[call-overload]
        net = keys.get(("net", acc.net))
        if net is not None:
            if net.accounts > s["net_accounts"]:  # type: ignore[operator]
                s["net_accounts"] = net.accounts
                s["net_fresh_share"] = net.fresh / net.accounts if net.accounts <= 2000 else 0.0
            s["net_regs_10m"] = max(s["net_regs_10m"], count_within(net.regs, now, 600))  # type: ignore[call-overload]
            s["net_golives_10m"] = max(s["net_golives_10m"], count_within(net.golives, now, 600))  # type: ignore[call-overload]

    # ---- streams --------------------------------------------------------------------------

    def _on_started(self, ev: StreamStarted) -> None:
        acc = self._account(ev.account)
        net = network_block(ev.ip)
        if acc.new_device_login is not None and ev.ts - acc.new_device_login < DAY:
            acc.golive_after_hijack = True
        acc.device, acc.net = ev.device, net
        acc.devices.add(ev.device)
        self.device_accounts[ev.device].add(acc.id)
        self._join_net(acc, net)
        self.net_golives.add(net, ev.ts)
        if self.sketch is not None:
            self.sketch.seen.append(AccountSeen(acc.id, ev.ts, "golive", ev.device, net, live=True))
        st = Stream(id=ev.stream, account=acc.id, started=ev.ts, title=ev.title,
                    sample_every=self.settings.sample_every)
        if self.chat is not None and ev.title:
            st.title_diversion = self.chat.score(ev.title)
        self.streams[st.id] = st
        acc.live.add(st.id)
        self._dirty.add(st.id)

    def _on_ended(self, ev: StreamEnded) -> None:
        st = self.streams.get(ev.stream)
        if st is None or st.ended is not None:
            return
        st.ended = ev.ts
        acc = self._account(st.account)
        acc.live.discard(st.id)
        if not st.enforced:
            acc.clean_streams += 1
        if st.case is None:
            st.last_frame = None  # no reviewer will ask for it
        self._dirty.discard(st.id)
        if self.sketch is not None:
            self.sketch.closed.append(st.id)
            self.remote.stream_ended(st.id)  # type: ignore[union-attr]

    def _on_viewers(self, ev: ViewerCount) -> None:
        st = self.streams.get(ev.stream)
        if st is not None:
            st.viewers = ev.viewers
            if st.case is not None:
                item = self.review.items[st.case]
                if item.status == "open":
                    self.review.reprioritise(item.id, self._case_harm(item.streams))

    def _on_chat(self, ev: ChatPosted) -> None:
        st = self.streams.get(ev.stream)
        if self.chat is not None and st is not None and st.live:
            self._chats.append(ev)

    def _on_chats(self, chats: list[ChatPosted]) -> None:
        scores = self.chat.score_many([c.text for c in chats]).tolist()  # type: ignore[union-attr]
        for ev, score in zip(chats, scores):
            if score >= self.chat.threshold:  # type: ignore[union-attr]
                st = self.streams[ev.stream]
                st.chat_hits.append(ev.ts)
                st.chat_max = max(st.chat_max, score)
                self._dirty.add(st.id)

    def _on_report(self, ev: ReportFiled) -> None:
        # Every report is counted and stored, in both modes; in aggregate mode only its weight can be zero.
        self.reports_received += 1
        self.reports_accepted += 1
        if self.settings.reports == "queue":
            self.review.push_report(ev.stream, ev.reporter, self._now, ev.reason)
            weight = 1.0
        else:
            weight = self._weigh_report(ev)
        self._report_rows.append({"id": ev.id, "ts": ev.ts, "stream": ev.stream, "reporter": ev.reporter,
                                  "reason": ev.reason, "weight": round(weight, 4)})

    def _weigh_report(self, ev: ReportFiled) -> float:
        """Add a report to its room's pressure; the weight it was given."""
        st = self.streams.get(ev.stream)
        if st is None or not st.live or ev.reporter in st.reporters:  # one voice per reporter per room
            return 0.0
        st.reporters.add(ev.reporter)
        # Rate-limit per reporter: past 20 reports in 10 minutes a reporter's reports weigh nothing.
        if self.report_counts.add(ev.reporter, ev.ts) > 20:
            return 0.0
        weight = self._reporter_weight(ev.reporter)
        if ev.reporter not in self.reputation and self._fresh(ev.reporter):
            # Fresh accounts together count for at most FRESH_REPORT_CAP per room: a flood of them
            # cannot open a case on its own, however many there are.
            weight = min(weight, max(0.0, FRESH_REPORT_CAP - st.fresh_report_weight))
            st.fresh_report_weight += weight
        old = st.report_weight
        st.report_weight += weight
        # Re-evaluate when the pressure crosses the review bar or doubles, not on every report:
        # a room with a million reports is evaluated a few dozen times, not a million.
        bar = self.settings.report_review_threshold
        if weight > 0 and st.report_weight >= bar and (
                old < bar or math.frexp(st.report_weight)[1] > math.frexp(old)[1]):
            self._dirty.add(st.id)
        return weight

    def _created(self, account: str) -> float | None:
        """When an account registered, as this engine saw it or as the coordinator told it (None: unknown)."""
        acc = self.accounts.get(account)
        if acc is not None and acc.created is not None:
            return acc.created
        return self.remote.created.get(account) if self.remote is not None else None

    def _fresh(self, account: str) -> bool:
        """Registered less than a week ago (in what the engine saw)."""
        created = self._created(account)
        return created is not None and self._now - created < 7 * DAY

    def _reporter_weight(self, reporter: str) -> float:
        rep = self.reputation.get(reporter)
        if rep is not None:
            return rep
        created = self._created(reporter)
        if created is None:
            return 1.0
        age = self._now - created
        # Fresh accounts reporting is what a report-flooding ring looks like: they count for little.
        return 1.0 if age >= 7 * DAY else (0.2 if age >= DAY else 0.02)

    def stream_signals(self, st: Stream) -> dict[str, object]:
        """Every stream signal, computed now."""
        now = self._now
        while st.chat_hits and st.chat_hits[0] <= now - CHAT_WINDOW:
            st.chat_hits.popleft()
        s = {
            "age_s": now - st.started,
            "frames": st.frames,
            "sample_every": st.sample_every,
            "classifier": max(st.scores) if st.scores else 0.0,
            "classifier_hits": sum(1 for x in st.scores if x >= 0.5),
            "classifier_model": st.classifier_model,
            "bank_match": st.bank_match,
            "bank": st.bank,
            "bank_distance": st.bank_distance,
            "allow_match": st.allow_match,
            "cluster_rooms": 1,
            "cluster_accounts": 1,
            "cluster_risky_share": 0.0,
            "cluster_trusted_share": 0.0,
            "cluster_confirmed": False,
            "chat_diversion": len(st.chat_hits),
            "chat_max": st.chat_max,
            "title_diversion": st.title_diversion,
            "reports": len(st.reporters),
            "report_weight": st.report_weight,
            "viewers": st.viewers,
            "limited": st.limited,
            "reviewed_benign": st.reviewed_benign,
        }
        if self.clusters is not None:
            root = self.clusters.root(st.id)
            rooms = self.clusters.members.get(root)
            if rooms:
                live = [self.streams[r] for r in rooms if r in self.streams and self.streams[r].live]
                accounts = {x.account for x in live} | {st.account}
                risky = trusted = 0
                for a in accounts:
                    sig = self._account_cache.get(a) or self.account_signals(self.accounts[a])
                    self._account_cache[a] = sig
                    risky += sig["risk"] >= 3  # type: ignore[operator]
                    trusted += bool(sig["trusted"])
                s["cluster_rooms"] = max(1, len(live))
                s["cluster_accounts"] = len(accounts)
                s["cluster_risky_share"] = risky / len(accounts)
                s["cluster_trusted_share"] = trusted / len(accounts)
                s["cluster_confirmed"] = root in self.confirmed_clusters
        view = self.remote.cluster_of.get(st.id) if self.remote is not None else None
        if view is not None:  # the cluster across every partition, as the coordinator last saw it
            if view.rooms >= s["cluster_rooms"]:  # type: ignore[operator]
                s["cluster_rooms"], s["cluster_accounts"] = view.rooms, max(view.accounts, s["cluster_accounts"])  # type: ignore[call-overload]
                s["cluster_risky_share"], s["cluster_trusted_share"] = view.risky_share, view.trusted_share
            s["cluster_confirmed"] = bool(s["cluster_confirmed"]) or view.confirmed
        return s

    # ---- content --------------------------------------------------------------------------

    def _on_frames(self, frames: list[FrameSampled]) -> None:
        self.frames += len(frames)
        for f in frames:
            st = self.streams.get(f.stream)
            if st is not None:
                st.frames += 1
                if st.live:
                    st.last_frame = f
        if not self.settings.content:
            return
        # Every frame is hashed, also one whose room ended in this batch: its hash is evidence too.
        by_size: dict[tuple[int, int], list[FrameSampled]] = defaultdict(list)
        for f in frames:
            by_size[(f.height, f.width)].append(f)
        for (h, w), group in by_size.items():
            self.frames_hashed += len(group)
            pixels = np.frombuffer(b"".join(f.pixels for f in group), dtype=np.uint8).reshape(len(group), h, w, 3)
            hashes, quality, mirrored = hash_frames(pixels, with_mirror=True)
            live = np.fromiter((f.stream in self.streams and self.streams[f.stream].live for f in group),
                               dtype=bool, count=len(group))
            if not live.any():
                continue
            if not live.all():
                idx = np.flatnonzero(live)
                group = [group[i] for i in idx]
                pixels, hashes, quality, mirrored = pixels[idx], hashes[idx], quality[idx], mirrored[idx]
            scores = self.classifier.score(group, pixels) if self.classifier is not None else None
            self._content(group, pixels, hashes, mirrored, quality, scores)

    def _content(self, group, pixels, hashes, mirrored, quality, scores) -> None:
        good = quality >= QUALITY_MIN
        # A frame matches if one of its views does (itself and its mirror image; robust: trimmed boxes too).
        m = self.matcher.match_frames(pixels, hashes, mirrored, quality)
        allowed = m.allowed.tolist()  # lists, not numpy scalars, in the loop
        hit_idx = set(np.flatnonzero(m.matched).tolist())
        dist = m.distance
        good_l = good.tolist()
        score_l = scores.tolist() if scores is not None else None
        streams = self.streams
        for i, f in enumerate(group):
            st = streams[f.stream]
            notable = st.frames == 1
            if score_l is not None:
                sc = score_l[i]
                notable |= sc >= 0.3 or bool(st.scores and max(st.scores) >= 0.3)
                st.scores.append(sc)
                st.classifier_model = self.classifier.name  # type: ignore[union-attr]
            if good_l[i]:
                st.hashes.append(hashes[i])
                if allowed[i]:
                    st.allow_match = True
                if i in hit_idx:
                    d = int(dist[i])
                    if not st.bank_match or d < st.bank_distance:
                        st.bank_match, st.bank, st.bank_distance = True, m.bank[i], d
                    notable = True
            if notable:
                self._dirty.add(st.id)
        if self.clusters is not None and good.any():
            idx = np.flatnonzero(good)
            streams = [group[i].stream for i in idx]
            before = {s: self.clusters.root(s) for s in set(streams)}
            changed = self.clusters.observe(streams, hashes[idx], mirrored[idx], self._now)
            for root in sorted(changed):
                rooms = sorted(self.clusters.members.get(root, ()))
                live_rooms = [r for r in rooms if r in self.streams and self.streams[r].live]
                self._dirty.update(live_rooms)
                if root not in self.confirmed_clusters and any(
                    before.get(r, r) in self.confirmed_clusters for r in rooms
                ):
                    self.confirmed_clusters.add(root)
                if self.rings is not None:
                    self._link_cluster_accounts(live_rooms)
        if self.sketch is not None and good.any():
            self._sketch_frames(group, hashes, mirrored, good)

    def _sketch_frames(self, group: list[FrameSampled], hashes: np.ndarray, mirrored: np.ndarray,
                       good: np.ndarray) -> None:
        """Tell the coordinator each room's good frame hashes, with its owner's standing now."""
        rows: dict[str, list[int]] = defaultdict(list)
        for i in np.flatnonzero(good).tolist():
            rows[group[i].stream].append(i)
        standing: dict[str, dict] = {}
        for sid, idx in rows.items():
            st = self.streams[sid]
            sig = standing.get(st.account)
            if sig is None:
                sig = standing[st.account] = self.account_signals(self.accounts[st.account])
            self.sketch.add_frames(sid, st.account, self._now, hashes[idx], mirrored[idx],  # type: ignore[union-attr]
                                   float(sig["risk"]), bool(sig["trusted"]))  # type: ignore[arg-type]

    def _link_cluster_accounts(self, rooms: list[str]) -> None:
        untrusted = [self.streams[r].account for r in rooms]
        untrusted = [a for a in dict.fromkeys(untrusted) if not self._trusted(self.accounts[a])]
        for a, b in zip(untrusted, untrusted[1:]):
            self._ring_news(self.rings.on_content(a, b, self._now))  # type: ignore[union-attr]

    def _ring_news(self, accounts: set[str]) -> None:
        for aid in sorted(accounts):
            acc = self.accounts.get(aid)
            if acc is None:
                continue
            self._dirty.update(s for s in acc.live)
            self._dirty_accounts.add(aid)

    def _mark_account(self, acc: Account) -> None:
        self._dirty_accounts.add(acc.id)
        self._dirty.update(acc.live)

    # ---- policy ---------------------------------------------------------------------------

    def _decide_rounds(self) -> set[str]:
        """Judge dirty rooms in rounds until none is left; every room judged this batch.

        A decision can dirty other rooms (a confirmed takedown marks its cluster, a confirmed ring its
        members' rooms): they are judged in the next round of the same batch, not left for a later one.
        """
        judged: set[str] = set()
        for _ in range(MAX_ROUNDS):
            if not self._dirty:
                break
            todo, self._dirty = sorted(self._dirty), set()
            judged.update(todo)
            for sid in todo:
                self._evaluate_stream(self.streams[sid])
        else:
            # Each round needs a new confirmation, and a room is confirmed once, so this is not reached
            # in practice; if it is, the rest wait for their next event rather than loop without end.
            self.round_limit_hits += 1
        self._dirty = judged  # the batch's dirty set, as later steps (and respond_now) expect it
        return judged

    def _evaluate_stream(self, st: Stream) -> None:
        if not st.live:
            return
        self._account_cache = {}
        acc = self.accounts[st.account]
        a = self.account_signals(acc)
        self._account_cache[acc.id] = a
        s = self.stream_signals(st)
        self._decide("stream", st.id, acc, st, {"account": a, "stream": s, "incident": {"level": self.incident_level}})

    def _evaluate_account(self, acc: Account) -> None:
        if acc.frozen:
            return
        self._account_cache = {}
        a = self.account_signals(acc)
        s = dict(STREAM_SIGNALS)
        self._decide("account", acc.id, acc, None, {"account": a, "stream": s, "incident": {"level": self.incident_level}})

    def _decide(self, subject: str, key: str, acc: Account, st: Stream | None, ctx: dict) -> None:
        fired, shadow = self.policy.evaluate(cel.Context(ctx), self.rule_error_recorder(subject, key))
        if st is not None:
            outcome = (tuple(r.name for r in fired), tuple(r.name for r in shadow))
            if outcome == st.last_eval_key:
                return  # same rules as last time: already decided and on record
            st.last_eval_key = outcome
        for r in shadow:
            self.shadow_hits[r.name] += 1
            self.shadow_subjects[r.name].add(key)
        vid = self._next_vid()
        main = fired[0].action if fired else "allow"
        evidence = self._evidence(fired or shadow, ctx)
        sample_every = min((r.sample_every for r in fired if r.action == "sample" and r.sample_every), default=None)
        v = Verdict(
            id=vid, ts=self._now, subject=subject, key=key, action=main,  # type: ignore[arg-type]
            rules=[r.name for r in fired], evidence=evidence, shadow=not fired and bool(shadow),
            policy=self.policy.name, shadow_rules=[r.name for r in shadow], sample_every=sample_every,
        )
        self.verdicts += 1
        self._verdicts.append(v)
        for action in dict.fromkeys(r.action for r in fired):
            self._act(action, v, acc, st, [r for r in fired if r.action == action])

    def rule_error_recorder(self, subject: str, key: str):
        """A callback for Policy.evaluate that records a rule's run-time error on this subject."""
        def record(rule: Rule, exc: Exception) -> None:
            self.rule_error_counts[rule.name] += 1
            if len(self.rule_errors) < RULE_ERRORS_KEPT:
                self.rule_errors.append({"ts": self._now, "rule": rule.name, "subject": subject, "key": key,
                                         "error": f"{type(exc).__name__}: {exc}"[:300]})
        return record

    def _evidence(self, rules: list[Rule], ctx: dict) -> dict[str, object]:
        ev: dict[str, object] = {}
        for r in rules:
            for ns, name in self._refs.get(r.name, ()):
                ev[f"{ns}.{name}"] = ctx[ns].get(name)
                if name.startswith("classifier"):  # a score is evidence only with the model that gave it
                    ev["stream.classifier_model"] = ctx["stream"].get("classifier_model")
        return ev

    def _next_vid(self) -> str:
        """A new verdict id, unique within this engine (and across partitions: the prefix names one)."""
        self._vseq += 1
        return f"{self.verdict_prefix}-v{self._vseq}"

    def _order(self, action: str, subject: str, target: str, v: Verdict, reason: str,
               sample_every: float | None = None, once: bool = True, suffix: str = "") -> None:
        key = f"{action}:{subject}:{target}" + ("" if once else f":{sample_every}") + suffix
        if key in self._sent:
            return
        self._sent.add(key)
        self.actions_by_kind[action] += 1
        self._orders.append(ActionOrder(key=key, ts=self._now, action=action, subject=subject,  # type: ignore[arg-type]
                                        target=target, verdict=v.id, reason=reason, sample_every=sample_every))

    def _act(self, action: str, v: Verdict, acc: Account, st: Stream | None, rules: list[Rule]) -> None:
        reason = ", ".join(r.name for r in rules)
        if action == "takedown" and st is not None:
            self._takedown(st, v, reason, confirm=any(r.confirm for r in rules))
        elif action == "freeze":
            if not acc.frozen:
                acc.frozen = True
                acc.frozen_at = self._now
                self._order("freeze", "account", acc.id, v, reason)
                for sid in list(acc.live):
                    self._takedown(self.streams[sid], v, reason, confirm=False)
        elif action == "notify":
            if not acc.notified:
                acc.notified = True
                self._order("notify", "account", acc.id, v, reason)
        elif action == "limit" and st is not None and not st.limited:
            st.limited = True
            st.enforced = True
            self._order("limit", "stream", st.id, v, reason)
        elif action == "sample" and st is not None and v.sample_every and v.sample_every != st.sample_every:
            st.sample_every = v.sample_every
            self._order("sample", "stream", st.id, v, reason, sample_every=v.sample_every, once=False)
        elif action == "review" and st is not None and not st.taken_down:
            self._open_case(st, v, reason)  # a room the machine just took down needs no person

    def _takedown(self, st: Stream, v: Verdict, reason: str, confirm: bool) -> None:
        if st.taken_down or not st.live:
            return
        st.taken_down = st.enforced = True
        if self.sketch is not None:
            self.sketch.closed.append(st.id)
        acc = self.accounts[st.account]
        acc.takedowns += 1
        # After an undo, a new takedown of the same room is a new order (idempotency keys stay unique).
        self._order("takedown", "stream", st.id, v, reason, suffix=f":{st.restores}" if st.restores else "")
        if confirm:
            self._confirm_content(st, "confirmed", v.id)

    def _confirm_content(self, st: Stream, bank: str, source: str) -> None:
        """Bank a stream's frames and mark its cluster and ring: one decision acts everywhere."""
        banked = np.zeros((0, 4), dtype=np.uint64)
        if self.settings.confirm_banks and self.settings.content:
            banked = st.recent_hashes()
            if len(banked):
                self.banks[bank].add(banked, source=source, added_at=self._now)
            f = st.last_frame
            if self.matcher.robust is not None and f is not None:
                # Derived views (crops, rotations) of the latest frame, under the same source so an undo withdraws them.
                px = np.frombuffer(f.pixels, dtype=np.uint8).reshape(f.height, f.width, 3)
                derived, notes = self.matcher.bank_views(px)
                self.banks[bank].add(derived, source=source, added_at=self._now, note=notes)
                banked = np.concatenate([banked, np.asarray(derived, dtype=np.uint64).reshape(-1, 4)])
        if self.sketch is not None:  # other partitions: the same bank entries (derived views too), cluster and ring
            self.sketch.confirmed.append(Confirmed(st.id, st.account, bank, source, to_hex_many(banked)))
        if self.clusters is not None:
            root = self.clusters.root(st.id)
            self.confirmed_clusters.add(root)
            for r in self.clusters.members.get(root, ()):
                if r in self.streams and self.streams[r].live:
                    self._dirty.add(r)
        if self.rings is not None:
            ring = self.rings.ring_of(st.account)
            if ring is not None and not ring.confirmed:
                self.rings.confirm(st.account, source)
                for aid in sorted(ring.members):
                    self._mark_account(self.accounts[aid])

    def _harm(self, st: Stream) -> float:
        """Expected harm of leaving a stream up: probability x viewers x expected seconds left live."""
        if not st.live or st.taken_down:
            return 0.0
        p = max(max(st.scores) if st.scores else 0.0, min(1.0, st.report_weight / 10.0), 0.2)
        # A room that has lasted longer is expected to last longer (Lindy), within 1 and 30 minutes.
        left = min(max(self._now - st.started, 60.0), 1800.0)
        return p * max(st.viewers, 1) * left

    def _case_harm(self, rooms: set[str]) -> float:
        """A case's expected harm: the sum over the rooms it covers."""
        streams = self.streams
        return sum(self._harm(streams[r]) for r in rooms if r in streams)

    def _open_case(self, st: Stream, v: Verdict, reason: str) -> None:
        if st.reviewed_benign:
            return
        if self.clusters is not None and len(self.clusters.rooms(st.id)) > 1:
            kind, key = "cluster", self.clusters.root(st.id)
            rooms = {r for r in self.clusters.rooms(st.id) if self.streams[r].live}
        else:
            kind, key, rooms = "stream", st.id, {st.id}
        item, created = self.review.open_case(kind, key, rooms, self._now, self._case_harm(rooms | {st.id}),
                                              {"rules": v.rules, **v.evidence})
        st.case = item.id
        if created:
            self._order("review", "stream", st.id, v, reason)

    def _on_review(self, ev: ReviewDecided) -> None:
        item = self.review.items.get(ev.item)
        if item is None or item.status == "decided":
            return
        rooms = set(item.streams)
        if item.kind == "cluster" and self.clusters is not None:
            rooms |= self.clusters.rooms(item.key)
        self.review.close(item.id, self._now, ev.violating, ev.reviewer, ev.note, sorted(rooms))
        v = Verdict(id=self._next_vid(), ts=self._now, subject="stream", key=item.key,
                    action="takedown" if ev.violating else "allow", rules=[f"review:{ev.reviewer}"],
                    evidence={"item": item.id, "note": ev.note, "rooms": len(rooms)}, policy=self.policy.name)
        self._verdicts.append(v)
        # What this decision does is written down as it happens, so that an undo can reverse exactly it.
        done: dict = {"verdict": v.id, "ts": self._now, "violating": ev.violating, "taken_down": [], "benign": [],
                      "clusters": [], "rings": [], "reputation": {}}
        clusters_before = set(self.confirmed_clusters)
        for sid in sorted(rooms):
            st = self.streams.get(sid)
            if st is None:
                continue
            if ev.violating:
                if st.live and not st.taken_down:
                    self._takedown(st, v, f"review {item.id}", confirm=False)
                    done["taken_down"].append(sid)
                if self.settings.review == "case":
                    ring = self.rings.ring_of(st.account) if self.rings is not None else None
                    was = bool(ring and ring.confirmed)
                    self._confirm_content(st, "reviewed", v.id)
                    if ring is not None and not was and ring.confirmed:
                        done["rings"].append(st.account)
            elif not st.reviewed_benign:
                st.reviewed_benign = True
                done["benign"].append(sid)
        done["clusters"] = sorted(self.confirmed_clusters - clusters_before)
        if not ev.violating and item.kind == "cluster" and self.settings.content:
            # One allow entry stops the same honest content from flooding reviewers again.
            for sid in rooms:
                st = self.streams.get(sid)
                if st is not None and len(st.hashes):
                    allow = st.recent_hashes()[-1:]
                    self.banks["honest"].add(allow, source=v.id, added_at=self._now)
                    if self.sketch is not None:
                        self.sketch.confirmed.append(Confirmed(sid, st.account, "honest", v.id, to_hex_many(allow),
                                                               violating=False))
                    break
        for reporter in self._reporters_of(rooms):
            old = self.reputation.get(reporter, 1.0)
            done["reputation"][reporter] = self.reputation.get(reporter)
            self.reputation[reporter] = min(3.0, old * 1.2) if ev.violating else max(0.05, old * 0.5)
        self.decision_effects[item.id] = done

    def _on_reversed(self, ev: ReviewReversed) -> None:
        """Undo a decision: restore the rooms it took down, withdraw its bank entries and confirmations."""
        item = self.review.items.get(ev.item)
        done = self.decision_effects.pop(ev.item, None)
        if item is None or done is None or item.status != "decided":
            return
        self.review.reopen(item.id, self._now, ev.reviewer)
        v = Verdict(id=self._next_vid(), ts=self._now, subject="stream", key=item.key,
                    action="restore", rules=[f"undo:{ev.reviewer}"],
                    evidence={"item": item.id, "note": ev.note, "undoes": done["verdict"],
                              "rooms": len(done["taken_down"])}, policy=self.policy.name)
        self._verdicts.append(v)
        for bank in ("reviewed", "honest"):
            self.banks[bank].remove_source(done["verdict"])
        if self.sketch is not None:
            self.sketch.withdrawn.append(done["verdict"])
        for root in done["clusters"]:
            self.confirmed_clusters.discard(root)
        if self.rings is not None:
            for aid in done["rings"]:
                ring = self.rings.unconfirm(aid, done["verdict"])
                # Members frozen since the decision were frozen for the ring it confirmed: thaw them, then
                # judge them again on what else is known (a rule may freeze one again on its own evidence).
                for member in sorted(ring.members if ring is not None else ()):
                    acc = self.accounts.get(member)
                    if acc is not None and acc.frozen and acc.frozen_at is not None and acc.frozen_at >= done["ts"]:
                        self.response_order("restore", "account", member, f"undo of review {item.id}",
                                            {"item": item.id, "undoes": done["verdict"]})
                        self._mark_account(acc)
        for sid in done["taken_down"]:
            st = self.streams[sid]
            st.taken_down = False
            st.restored_at = self._now
            acc = self.accounts[st.account]
            acc.takedowns = max(0, acc.takedowns - 1)
            st.restores += 1  # the room may be judged again on its own merits
            self._order("restore", "stream", sid, v, f"undo of review {item.id}", suffix=f":{v.id}")
        for sid in done["benign"]:
            self.streams[sid].reviewed_benign = False
        for reporter, old in done["reputation"].items():
            if old is None:
                self.reputation.pop(reporter, None)
            else:
                self.reputation[reporter] = old

    def _reporters_of(self, rooms: set[str]) -> set[str]:
        out: set[str] = set()
        for sid in rooms:
            st = self.streams.get(sid)
            if st is not None:
                out |= st.reporters
        return out

    # ---- coordination (one partition of the NATS service) ---------------------------------

    def partitioned(self) -> None:
        """Run as one partition of many: sketch each batch for the coordinator, merge what it notices."""
        self.sketch = SketchBuffer()
        self.remote = RemoteView()

    def _on_bank_changed(self, ev: BankChanged) -> None:
        names = {b.name for b in self.banks.banks}
        if ev.op == "create":
            if ev.bank not in names:
                self.banks.add_bank(HashBank(ev.bank, kind=ev.kind))
            return
        if ev.bank not in names:  # an edit of a bank this engine never heard of: make it, as the edit says
            self.banks.add_bank(HashBank(ev.bank, kind=ev.kind))
        bank = self.banks[ev.bank]
        if ev.op == "add":
            bank.add(ev.hashes, source=ev.source, added_at=ev.ts, note=ev.note)
        elif ev.op == "remove":
            for h in ev.hashes:
                bank.remove(h)
        else:
            bank.remove_source(ev.source)

    def _on_cluster_noticed(self, ev: ClusterNoticed) -> None:
        for sid in self.remote.on_cluster(ev):  # type: ignore[union-attr]
            st = self.streams.get(sid)
            if st is not None and st.live:
                self._dirty.add(sid)

    def _on_ring_noticed(self, ev: RingNoticed) -> None:
        for aid in sorted(self.remote.on_ring(ev)):  # type: ignore[union-attr]
            acc = self.accounts.get(aid)
            if acc is not None:
                self._mark_account(acc)

    def _on_keys_noticed(self, ev: KeysNoticed) -> None:
        self.remote.on_keys(ev)  # type: ignore[union-attr]  # read at the next evaluation, as local counts are

    def _on_accounts_noticed(self, ev: AccountsNoticed) -> None:
        self.remote.on_created(ev.created, self._now)  # type: ignore[union-attr]

    def _on_level_noticed(self, ev: LevelNoticed) -> None:
        if self.responder is not None:
            self.responder.follow(self, ev.level, ev.why, ev.evidence, ev.ts)
        else:
            self.incident_level = ev.level

    # ---- summaries ------------------------------------------------------------------------

    def reevaluate_account(self, acc: Account) -> None:
        """Judge an account again within the current batch (incident response asks after a takedown)."""
        self._evaluate_account(acc)

    def response_order(self, action: str, subject: str, target: str, reason: str, evidence: dict) -> None:
        """An order from incident response (playbook effect, mass action) within a batch, with its verdict."""
        v = Verdict(id=self._next_vid(), ts=self._now, subject=subject, key=target,  # type: ignore[arg-type]
                    action=action, rules=[f"response: {reason}"], evidence=evidence, policy=self.policy.name)  # type: ignore[arg-type]
        self._verdicts.append(v)
        st = self.streams.get(target) if subject == "stream" else None
        acc = self.accounts.get(target) if subject == "account" else None
        if st is not None and action == "limit" and st.live and not st.limited:
            st.limited = True
            self._order("limit", "stream", st.id, v, reason)
        elif st is not None and action == "takedown" and st.live and not st.taken_down:
            # A hold, not a judgement of the account: its takedown count is left alone.
            st.taken_down = st.enforced = True
            if self.sketch is not None:
                self.sketch.closed.append(st.id)
            self._order("takedown", "stream", st.id, v, reason)
        elif st is not None and action == "restore" and st.limited and not st.taken_down:
            st.limited = False  # probation lifted
            self._order("restore", "stream", st.id, v, reason, suffix=f":{v.id}")
        elif acc is not None and action == "freeze" and not acc.frozen:
            acc.frozen = True
            self._sent.discard(f"freeze:account:{acc.id}")
            self._order("freeze", "account", acc.id, v, reason, suffix=f":{v.id}")
            for sid in sorted(acc.live):
                self._takedown(self.streams[sid], v, reason, confirm=False)
        elif acc is not None and action == "restore" and acc.frozen:
            acc.frozen = False
            self._sent.discard(f"freeze:account:{acc.id}")  # a later rule may freeze it again
            self._order("restore", "account", acc.id, v, reason, suffix=f":{v.id}")
        elif acc is not None and action == "notify" and not acc.notified:
            acc.notified = True
            self._order("notify", "account", acc.id, v, reason)
        elif subject == "stream" and target == "*" and action in ("takedown", "restore"):
            self._order(action, "stream", "*", v, reason, suffix=f":{v.id}")

    def respond_now(self, effects: Sequence[tuple[str, str, str]], reason: str, evidence: dict) -> list[ActionOrder]:
        """Carry out incident-response orders now, outside an event batch (an executed or undone mass action)."""
        self._now = self.clock.now()
        self._dirty, self._dirty_accounts = set(), set()
        self._verdicts, self._orders = [], []
        for action, subject, target in effects:
            self.response_order(action, subject, target, reason, evidence)
        if self._orders:
            self.enforcer.apply(self._orders)
        if self.store is not None and (self._verdicts or self._orders):
            self.store.record(self._verdicts, self._orders)
        return self._orders

    def pause_all(self, reason: str) -> None:
        """Baseline response: the platform switches off all live streaming (an order, audited)."""
        v = Verdict(id=self._next_vid(), ts=self.clock.now(), subject="stream", key="*",
                    action="takedown", rules=[reason], policy=self.policy.name)
        order = ActionOrder(key=f"pause_all:{self.clock.now()}", ts=self.clock.now(), action="takedown",
                            subject="stream", target="*", verdict=v.id, reason=reason)
        self.enforcer.apply([order])
        if self.store is not None:
            self.store.record([v], [order])

