"""The simulated platform: plays a scenario's plan as events and applies Floodwall's action orders.

The plan (who exists, who goes live when, which clip each attack room plays) is drawn once from
the seed by :mod:`floodwall.sim.crowd` (honest traffic) and :mod:`floodwall.sim.attacker` (the
attack); the platform then plays it against a policy. A room taken down stops sending events, as
on a real platform, so each policy sees the same plan and its own consequences. Ids in events are
opaque (:class:`~floodwall.sim.simtypes.Ids`); ground truth (which accounts, streams and frames are
attack) stays in this package and in `Truth`; events carry none of it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from floodwall.events import (
    AccountRegistered,
    ActionOrder,
    ChatPosted,
    Event,
    FrameSampled,
    Login,
    ProfileChanged,
    ReportFiled,
    StreamEnded,
    StreamStarted,
    ViewerCount,
)
from floodwall.sim import attacker, chatgen
from floodwall.sim.crowd import Networks, build_crowd, report_storms
from floodwall.sim.render import Renderer
from floodwall.sim.render.ahead import FramePlan, RenderAhead, frame_key
from floodwall.sim.scenario import Scenario
from floodwall.sim.simtypes import (
    CHATLINE,
    DAY,
    END,
    FRAME,
    GOLIVE,
    REPORT,
    START,
    VIEWERS,
    Ids,
    SimAccount,
    SimStream,
    lognormal,
)
from floodwall.sim.truth import Truth

__all__ = ["SimAccount", "SimPlatform", "SimStream"]
VIEW_TAU = 180.0  # seconds for a recommended room to reach most of its audience
LIMITED_SHARE = 0.03  # audience of a room kept off recommendation and nearby pages
REPORT_STEP = 10.0  # seconds between draws of an attack room's reports
_GO_LIVE = -1  # a FramePlan entry for a room's go-live, whose keyframe can be drawn ahead too


class SimPlatform:
    """Plays a scenario's plan as events and applies Floodwall's action orders (the enforcer port)."""

    def __init__(self, scenario: Scenario, seed: int, scale: float) -> None:
        self.sc = scenario
        self.seed = seed
        self.scale = scale
        self.rng = np.random.default_rng([seed, 1])
        self.ids = Ids(seed)
        self.t0 = scenario.start.timestamp()
        self.t_end = scenario.end.timestamp()
        self.renderer = Renderer(size=scenario.frame_size)
        self.ahead: RenderAhead | None = None  # a second process drawing the next tick's frames (draw_ahead)
        self._plan = FramePlan()  # the scheduled frames, while drawing ahead
        self.truth = Truth()
        self.accounts: dict[str, SimAccount] = {}
        self.streams: dict[str, SimStream] = {}
        self.live: set[str] = set()
        self.heap: list[tuple[float, int, int, str, int]] = []
        self._seq = 0
        self._eid = 0
        self.pending: list[Event] = []  # events to send in the next tick (stream ends after orders)
        self.backfill: list[Event] = []
        self.timed: list[tuple[float, int, Event]] = []  # registrations, logins, API calls: a heap by time
        self.violating_frames: set[str] = set()
        self.paused_until: float | None = None
        self.paused_from: float | None = None
        self.reports_sent = 0
        self.notified: set[str] = set()
        self.notified_at: dict[str, float] = {}
        self.blocked_starts = 0
        self.false_report_targets: set[str] = set()
        self.storm_reports: list[tuple[str, str]] = []  # (reporter, reason) of each scheduled ring report
        self.frames_sent = 0
        self.pool: deque[SimAccount] = deque()
        self.attack_end = scenario.attack.start.timestamp() + scenario.attack.minutes * 60
        self.attack_proxies: list[str] = []
        self.insider_keys: list[str] = []
        self.principals_ordered: set[str] = set()  # principals an order named (subject "principal")
        self._tick_start = self.t0
        self.tactic = attacker.Tactic(self)
        self._build()

    # ---- plan -----------------------------------------------------------------------------

    def eid(self, prefix: str) -> str:
        """A fresh event id."""
        self._eid += 1
        return f"{prefix}{self._eid}"

    _id = eid

    def push(self, t: float, what: int, key: str, ver: int = 0) -> None:
        """Schedule a stream's (or slot's) next happening."""
        self._seq += 1
        heapq.heappush(self.heap, (t, self._seq, what, key, ver))
        if self.ahead is not None:
            self._plan_frame(t, what, key, ver)

    _push = push

    def n(self, x: float) -> int:
        """A count at scale 1, scaled: zero stays zero, anything else is at least one."""
        if x <= 0:
            return 0
        return max(1, int(round(x * self.scale)))

    _n = n

    def _build(self) -> None:
        timed: list[Event] = []
        self.net = Networks(self)
        build_crowd(self, timed, self.net)
        attacker.build_attack(self, timed, self.net)
        report_storms(self, timed, self.net)
        hist = [e for e in timed if e.ts < self.t0]
        now = [e for e in timed if e.ts >= self.t0]
        self.backfill = sorted(hist, key=lambda e: e.ts)
        for e in now:
            self.timed_insert(e)

    def add_account(self, acc: SimAccount, out: list[Event], attack: bool = False, login: bool = True) -> None:
        """Register an account (and its truth): registration, profile and, for an aged one, a recent login."""
        self.accounts[acc.id] = acc
        if attack:
            self.truth.attack_accounts.add(acc.id)
            if acc.hijacked:
                self.truth.hijacked_accounts.add(acc.id)
        out.append(AccountRegistered(id=self.eid("e"), ts=acc.registered, account=acc.id, phone=acc.phone,
                                     device=acc.device, ip=acc.ip, user_agent="app/12.3"))
        if acc.avatar or acc.title:
            out.append(ProfileChanged(id=self.eid("e"), ts=acc.registered + 60, account=acc.id,
                                      avatar=acc.avatar, title=acc.title or None))
        if login and acc.registered < self.t0 - DAY:
            out.append(Login(id=self.eid("e"), ts=self.t0 - float(self.rng.uniform(3600, 5 * DAY)),
                             account=acc.id, device=acc.device, ip=acc.ip))

    def add_stream(self, st: SimStream) -> None:
        """Add a planned room (and its truth)."""
        self.streams[st.id] = st
        (self.truth.attack_streams if st.attack else self.truth.legit_streams)[st.id] = st
        if not st.attack:
            self.push(st.start, START, st.id)

    # ---- the tick -------------------------------------------------------------------------

    def initial_events(self) -> list[Event]:
        """The account table a platform backfills before going live with Floodwall."""
        return self.backfill

    def tick(self, t: float, dt: float) -> list[Event]:
        """Every event of the interval [t, t+dt), in time order."""
        end = t + dt
        self._tick_start = t
        out: list[Event] = self.pending
        self.pending = []
        while self.timed and self.timed[0][0] < end:
            out.append(heapq.heappop(self.timed)[2])
        frames: list[tuple[SimStream, float]] = []
        heap = self.heap
        while heap and heap[0][0] < end:
            when, _, what, key, ver = heapq.heappop(heap)
            if what == GOLIVE:
                attacker.golive(self, int(key), when, out)
                continue
            st = self.streams[key]
            if what == START:
                self._start(st, when, out)
                continue
            if st.ended is not None or st.start > when:
                continue
            if what == FRAME:
                if ver == st.frame_ver:
                    frames.append((st, when))
                    self.push(when + st.sample_every, FRAME, key, st.frame_ver)
            elif what == CHATLINE:
                self._chat(st, when, out)
            elif what == VIEWERS:
                out.append(ViewerCount(id=self.eid("e"), ts=when, stream=st.id, viewers=int(self.viewers(st, when))))
                self.push(when + 60, VIEWERS, key)
            elif what == REPORT:
                self._report(st, when, ver, out)
            elif what == END:
                self._end(st, when, "ended", out)
        if frames:
            out.extend(self._frames(frames))
        self.violating_frames = {f.id for f in out if type(f) is FrameSampled and self.streams[f.stream].attack}
        return out

    def _start(self, st: SimStream, when: float, out: list[Event]) -> None:
        acc = st.account
        if acc.frozen:
            self.blocked_starts += 1
            st.ended, st.end_reason = when, "blocked"
            return
        if self.paused_until is not None and when < self.paused_until:
            self.push(self.paused_until, START, st.id)  # the platform is off: wait for it
            return
        if not st.planned_start:
            st.planned_start = st.start
        st.start = when
        if st.planned_end <= when:
            st.ended, st.end_reason = when, "expired"
            return
        acc.live = st.id
        st.went_live = True
        self.live.add(st.id)
        out.append(StreamStarted(id=self.eid("e"), ts=when, stream=st.id, account=acc.id, device=st.device,
                                 ip=st.ip, title=st.title))
        st.sample_every = self.sc.sample_every
        # A room already live when the window opened sends its first frame now, not its history.
        when = max(when, self._tick_start)
        self.push(when, FRAME, st.id, st.frame_ver)  # a keyframe at go-live
        rng = self.rng
        cpm = self.sc.attack.chat_per_minute if st.attack else self.sc.platform.chat_per_minute
        if cpm > 0:
            self.push(when + float(rng.exponential(60 / cpm)), CHATLINE, st.id)
        self.push(when + 30, VIEWERS, st.id)
        self._schedule_report(st, when)
        if not st.attack:
            self.push(st.planned_end, END, st.id)

    def _schedule_report(self, st: SimStream, when: float) -> None:
        if st.attack:
            # The audience grows, so the report rate does: draw reports every 10 s at the current rate.
            self.push(when + REPORT_STEP, REPORT, st.id, 0)
            return
        rate = self.sc.platform.honest_reports_per_hour / 3600.0
        if rate > 0:
            self.push(when + float(self.rng.exponential(1.0 / rate)), REPORT, st.id, 0)

    def _report(self, st: SimStream, when: float, ver: int, out: list[Event]) -> None:
        reason = "illegal_content" if st.attack else "other"
        if ver < 0:  # a report ring's scheduled report
            reporter, reason = self.storm_reports[-ver - 1]
            reporters = [reporter]
        elif st.attack:
            rate = self.sc.attack.report_rate * self.viewers(st, when) / 60.0
            n = int(self.rng.poisson(rate * REPORT_STEP))
            reporters = [self.ids.viewer(int(x)) for x in self.rng.integers(0, 10**7, n)]
            self._schedule_report(st, when)
        else:
            reporters = [self.ids.viewer(int(self.rng.integers(0, 10**7)))]
            self._schedule_report(st, when)
        for reporter in reporters:
            self.reports_sent += 1
            st.reports += 1
            out.append(ReportFiled(id=self.eid("e"), ts=when, stream=st.id, reporter=reporter, reason=reason))

    def _chat(self, st: SimStream, when: float, out: list[Event]) -> None:
        rng = self.rng
        if st.attack and rng.random() < self.sc.attack.coded_share:
            line = chatgen.coded_line(rng)
            share = self.tactic.obfuscated_share
            if share > 0 and rng.random() < share:
                line = chatgen.obfuscated(rng, line)
            out.append(ChatPosted(id=self.eid("e"), ts=when, stream=st.id, account=st.account.id, text=line))
        else:
            out.append(ChatPosted(id=self.eid("e"), ts=when, stream=st.id, account=self.ids.viewer(int(rng.integers(0, 10**7))),
                                  text=chatgen.honest_line(rng)))
        cpm = self.sc.attack.chat_per_minute if st.attack else self.sc.platform.chat_per_minute
        self.push(when + float(rng.exponential(60 / cpm)), CHATLINE, st.id)

    def timed_insert(self, ev: Event) -> None:
        """Send ``ev`` when the clock reaches its time."""
        self._seq += 1
        heapq.heappush(self.timed, (ev.ts, self._seq, ev))

    def _frames(self, due: list[tuple[SimStream, float]]) -> list[Event]:
        kinds = np.fromiter((st.kind for st, _ in due), dtype=np.int64, count=len(due))
        seeds = np.fromiter((st.seed for st, _ in due), dtype=np.int64, count=len(due))
        ts = np.fromiter((_source_t(st, w) for st, w in due), dtype=np.float64, count=len(due))
        pixels = self._pixels(kinds, seeds, ts, [st.look for st, _ in due])
        size = self.renderer.size
        out = []
        for (st, w), px in zip(due, pixels):
            st.frames += 1
            if st.first_frame is None:
                st.first_frame = w
            out.append(FrameSampled(id=self.eid("f"), ts=w, stream=st.id, account=st.account.id,
                                    width=size, height=size, pixels=px.tobytes()))
        self.frames_sent += len(out)
        return out

    def _pixels(self, kinds: np.ndarray, seeds: np.ndarray, ts: np.ndarray, looks: list) -> list[np.ndarray]:
        """Each frame's pixels: drawn ahead by the other process where it was, drawn here otherwise."""
        if self.ahead is None:
            return list(self.renderer.render(kinds, seeds, ts, looks))
        keys = [frame_key(*k) for k in zip(kinds.tolist(), seeds.tolist(), ts.tolist(), looks)]
        got = self.ahead.take(self._tick_start, keys)
        miss = [i for i, px in enumerate(got) if px is None]
        if miss:
            drawn = self.renderer.render(kinds[miss], seeds[miss], ts[miss], [looks[i] for i in miss])
            for i, px in zip(miss, drawn):
                got[i] = px
        return got  # type: ignore[return-value]

    def draw_ahead(self, t: float, dt: float) -> None:
        """Have the other process draw the frames the schedule now holds for [t, t + dt) (start_drawing_ahead).

        First, as a batch of its own for the next tick, those scheduled since their tick was asked for (a room
        the engine now samples every second): the other process draws batches in the order they come.
        """
        if self.ahead is None:
            return
        nxt = self._tick_start + dt
        late, todo = self._plan.due(t, dt, nxt)
        self.ahead.submit(nxt, self._frame_keys(late))
        self.ahead.submit(t, self._frame_keys(todo))

    def _frame_keys(self, due: list[tuple[float, str, int]]) -> list:
        """The render keys of scheduled frames whose room is still live and sampled on that schedule."""
        keys = []
        for w, key, ver in due:
            st = self.streams[key]
            if ver == _GO_LIVE:  # the keyframe, if the room does go live then: at the start of its source
                if st.ended is None and not st.went_live:
                    keys.append(frame_key(st.kind, st.seed, st.source_t0, st.look))
            elif ver == st.frame_ver and st.ended is None and st.start <= w:
                keys.append(frame_key(st.kind, st.seed, _source_t(st, w), st.look))
        return keys

    def start_drawing_ahead(self) -> None:
        """Draw each next tick's frames in a second process while the engine works (sim/render/ahead.py)."""
        if self.ahead is None:
            self.ahead = RenderAhead(self.renderer.size)
            for w, _, what, key, ver in self.heap:  # what is already scheduled
                self._plan_frame(w, what, key, ver)

    def _plan_frame(self, t: float, what: int, key: str, ver: int) -> None:
        """Note a scheduled frame, or a go-live (it sends a keyframe then), for drawing ahead."""
        if what == FRAME or what == START:
            self._plan.add(t, key, ver if what == FRAME else _GO_LIVE)

    def stop_drawing_ahead(self) -> None:
        """Stop the second process; frames are drawn here again."""
        if self.ahead is not None:
            self.ahead.close()
            self.ahead = None
            self._plan = FramePlan()

    # ---- viewers --------------------------------------------------------------------------

    def viewers(self, st: SimStream, t: float) -> float:
        """Audience of a room at time t."""
        if st.attack:
            v = st.peak * (1.0 - math.exp(-(t - st.start) / VIEW_TAU))
        else:
            v = st.peak
        if st.limited_at is not None and t >= st.limited_at and (st.unlimited_at is None or t < st.unlimited_at):
            v *= LIMITED_SHARE if st.attack else 0.3
        return v

    def exposure(self, st: SimStream, a: float, b: float) -> float:
        """Viewer-minutes of an attack room over [a, b]."""
        if b <= a:
            return 0.0
        total = 0.0
        lim0 = st.limited_at if st.limited_at is not None else math.inf
        lim1 = st.unlimited_at if st.unlimited_at is not None else math.inf
        cuts = sorted({a, b} | {x for x in (lim0, lim1) if a < x < b})
        for lo, hi in zip(cuts, cuts[1:]):
            f = LIMITED_SHARE if lim0 <= lo < lim1 else 1.0
            x0, x1 = (lo - st.start) / VIEW_TAU, (hi - st.start) / VIEW_TAU
            total += f * st.peak * ((hi - lo) - VIEW_TAU * (math.exp(-x0) - math.exp(-x1)))
        return total / 60.0

    # ---- the enforcer port ----------------------------------------------------------------

    def apply(self, orders: list[ActionOrder]) -> None:
        """Carry out Floodwall's orders at the current time."""
        for o in orders:
            now = o.ts
            if o.target == "*" and o.action == "takedown":
                self.pause_all(now, None)
                continue
            if o.target == "*" and o.action == "restore":
                self.paused_until = min(self.paused_until, now) if self.paused_until is not None else None
                continue
            if o.subject == "principal":
                self.principals_ordered.add(o.target)
                continue
            if o.subject == "stream":
                st = self.streams.get(o.target)
                if o.action == "restore" and st is not None and st.ended is None:
                    if st.limited_at is not None and st.unlimited_at is None:
                        st.unlimited_at = now  # a limit lifted (probation passed)
                    continue
                if o.action == "restore" and st is not None:
                    self._restore(st, now)
                    continue
                if st is None or st.ended is not None:
                    continue
                if o.action == "takedown":
                    self._end(st, now, "takedown", self.pending)
                elif o.action == "limit" and st.limited_at is None and not st.skip_gate:
                    st.limited_at = now
                elif o.action == "sample" and o.sample_every:
                    st.sample_every = o.sample_every
                    st.frame_ver += 1
                    self.push(now + o.sample_every, FRAME, st.id, st.frame_ver)
            else:
                acc = self.accounts.get(o.target)
                if acc is None:
                    continue
                if o.action == "restore":
                    acc.frozen = False
                elif o.action == "freeze":
                    acc.frozen = True
                    if acc.live and self.streams[acc.live].ended is None:
                        self._end(self.streams[acc.live], now, "freeze", self.pending)
                elif o.action == "notify" and acc.id not in self.notified:
                    self.notified.add(acc.id)
                    self.notified_at[acc.id] = now

    def _restore(self, st: SimStream, now: float) -> None:
        """An undone takedown: the streamer's room comes back (as a new stream id) if it had time left."""
        if st.end_reason not in ("takedown", "freeze") or st.restored_as is not None:
            return
        if (not st.attack and st.planned_end <= now) or st.account.live is not None:
            return
        rid = self.ids("s", f"{st.id}-u")
        back = SimStream(rid, st.account, st.kind, st.seed, st.look, st.attack, now, st.planned_end,
                         st.source_t0 + (now - st.start), st.peak, st.device, st.ip, st.title, restart_of=st.id,
                         speed=st.speed, group=st.group)
        st.restored_as = rid
        self.streams[rid] = back
        (self.truth.attack_streams if st.attack else self.truth.legit_streams)[rid] = back
        self.push(now, START, rid)

    def _end(self, st: SimStream, when: float, reason: str, out: list[Event]) -> None:
        if st.ended is not None:
            return
        st.ended, st.end_reason = when, reason
        self.live.discard(st.id)
        if st.account.live == st.id:
            st.account.live = None
        out.append(StreamEnded(id=self.eid("e"), ts=when, stream=st.id, account=st.account.id, reason=reason))
        if st.attack and reason in ("takedown", "freeze"):
            attacker.fell(self, st, when)
        if st.attack and st.slot >= 0 and when < self.attack_end:
            delay = float(lognormal(self.rng, self.sc.attack.restream_delay))
            self.push(when + delay, GOLIVE, str(st.slot))

    def pause_all(self, now: float, until: float | None) -> None:
        """The baseline's global shutdown: every live room ends, nobody goes live until `until`."""
        self.paused_from = now
        self.paused_until = until if until is not None else now + 3600
        for sid in sorted(self.live):
            st = self.streams[sid]
            self._end(st, now, "shutdown", self.pending)
            if not st.attack and st.planned_end > self.paused_until:
                # The honest streamer comes back when streaming resumes.
                rid = self.ids("s", f"{sid}-r")
                back = SimStream(rid, st.account, st.kind, st.seed, st.look, False, self.paused_until,
                                 st.planned_end, st.source_t0 + (self.paused_until - st.start), st.peak,
                                 st.device, st.ip, st.title, restart_of=sid, group=st.group)
                self.streams[rid] = back
                self.truth.legit_streams[rid] = back
                self.push(self.paused_until + float(self.rng.uniform(0, 300)), START, rid)


def _source_t(st: SimStream, when: float) -> float:
    """The time in a room's source that its frame at ``when`` shows."""
    return st.source_t0 + (when - st.start) * st.speed
