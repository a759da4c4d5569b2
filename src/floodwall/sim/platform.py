"""The simulated platform: honest traffic and the attack, as events, reacting to Floodwall's actions.

The plan (who exists, who goes live when, which clip each attack room plays) is drawn once from
the seed; the platform then plays it against a policy. A room taken down stops sending events,
as on a real platform, so each policy sees the same plan and its own consequences.
Ground truth (which accounts, streams and frames are attack) stays in this module and in
`Truth`; events carry none of it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from floodwall.events import (
    AccountRegistered,
    ActionOrder,
    ApiCall,
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
from floodwall.sim import chatgen
from floodwall.sim.render import (
    CHAT,
    CLIP,
    EVENT,
    GAMER,
    MERCHANT,
    OUTDOOR,
    Look,
    Renderer,
)
from floodwall.sim.scenario import LogNormal, Scenario
from floodwall.sim.truth import Truth

KIND_CODES = {"merchant": MERCHANT, "gamer": GAMER, "chat": CHAT, "outdoor": OUTDOOR}
DAY = 86_400.0
VIEW_TAU = 180.0  # seconds for a recommended room to reach most of its audience
LIMITED_SHARE = 0.03  # audience of a room kept off recommendation and nearby pages
FRAME, CHATLINE, VIEWERS, REPORT, END, GOLIVE, START = range(7)
REPORT_STEP = 10.0  # seconds between draws of an attack room's reports


def _lognormal(rng: np.random.Generator, d: LogNormal, n: int | None = None):
    x = rng.lognormal(math.log(d.median), d.sigma, n)
    return np.minimum(x, d.max)


@dataclass(slots=True)
class SimAccount:
    id: str
    phone: str
    device: str
    ip: str
    registered: float
    avatar: bool
    title: str
    attack: bool = False
    hijacked: bool = False
    frozen: bool = False
    live: str | None = None


@dataclass(slots=True)
class SimStream:
    id: str
    account: SimAccount
    kind: int
    seed: int
    look: Look | None
    attack: bool
    start: float
    planned_end: float
    source_t0: float  # time of the source's clock at start (clip offset, event clock)
    peak: float
    device: str
    ip: str
    title: str = ""
    slot: int = -1
    limited_at: float | None = None
    unlimited_at: float | None = None  # a limit lifted (probation passed)
    sample_every: float = 10.0
    frame_ver: int = 0
    ended: float | None = None
    end_reason: str = ""
    first_frame: float | None = None
    frames: int = 0
    reports: int = 0
    restart_of: str | None = None
    restored_as: str | None = None  # an undone takedown brought the room back under this id
    went_live: bool = False
    planned_start: float = 0.0


class SimPlatform:
    """Plays a scenario's plan as events and applies Floodwall's action orders (the enforcer port)."""

    def __init__(self, scenario: Scenario, seed: int, scale: float) -> None:
        self.sc = scenario
        self.seed = seed
        self.scale = scale
        self.rng = np.random.default_rng([seed, 1])
        self.t0 = scenario.start.timestamp()
        self.t_end = scenario.end.timestamp()
        self.renderer = Renderer(size=scenario.frame_size)
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
        self.frames_sent = 0
        self._tick_start = self.t0
        self._build()

    # ---- plan -----------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._eid += 1
        return f"{prefix}{self._eid}"

    def _push(self, t: float, what: int, key: str, ver: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, self._seq, what, key, ver))

    def _n(self, x: float) -> int:
        return max(1, int(round(x * self.scale)))

    def _build(self) -> None:
        rng, p = self.rng, self.sc.platform
        timed: list[Event] = []
        # Networks: a few huge carrier NAT ranges, campus blocks, agency offices, home broadband.
        nat = [f"100.{64 + i}.{rng.integers(0, 256)}" for i in range(p.carrier_nat_blocks)]
        campus = [f"202.{rng.integers(100, 120)}.{i}" for i in range(self._n(p.campus_blocks))]
        offices = [f"58.{rng.integers(30, 60)}.{i}" for i in range(self._n(p.agencies))]

        def honest_ip() -> str:
            u = rng.random()
            if u < p.carrier_nat_share:
                return f"{nat[int(rng.integers(len(nat)))]}.{rng.integers(1, 255)}"
            if u < p.carrier_nat_share + p.campus_share:
                return f"{campus[int(rng.integers(len(campus)))]}.{rng.integers(1, 255)}"
            return f"{rng.integers(1, 223)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"

        def honest_phone() -> str:
            if rng.random() < p.virtual_phone_share:
                return f"86{rng.choice([170, 171, 165, 167, 162])}{rng.integers(0, 10**8):08d}"
            return f"86{rng.choice([130, 131, 135, 136, 138, 139, 150, 151, 158, 159, 180, 186, 188, 189])}{rng.integers(0, 10**8):08d}"

        # Honest streamers and their streams.
        n_honest = self._n(p.honest_streams)
        kinds = list(p.kinds)
        kp = np.array([p.kinds[k] for k in kinds], dtype=float)
        kp /= kp.sum()
        starts = np.sort(rng.uniform(self.t0 - p.warmup_minutes * 60, self.t_end - 600, n_honest))
        durs = _lognormal(rng, p.duration, n_honest) * 60
        peaks = _lognormal(rng, p.viewers, n_honest)
        agency_left = self._n(p.agencies) * p.agency_accounts
        family_devices: list[str] = []
        for i in range(n_honest):
            acc_id = f"h{i}"
            new_creator = rng.random() < p.new_creator_share
            ip = honest_ip()
            if agency_left > 0 and rng.random() < 0.5 and not new_creator:
                ip = f"{offices[agency_left % len(offices)]}.{rng.integers(1, 255)}"
                agency_left -= 1
            device = f"dv-h{i}"
            if family_devices and rng.random() < p.family_device_share:
                device = family_devices[int(rng.integers(len(family_devices)))]
            elif rng.random() < p.family_device_share:
                family_devices.append(device)
            start = float(starts[i])
            if new_creator:
                reg = start - float(rng.uniform(120, 1800))
                no_profile = rng.random() < p.new_creator_no_profile_share
                avatar, title = (not no_profile), ("" if no_profile else f"新人主播{i}")
            else:
                reg = self.t0 - float(rng.uniform(30 * DAY, 5 * 365 * DAY))
                avatar, title = rng.random() < 0.97, f"{kinds[0]}-{i}" if rng.random() < 0.95 else ""
            acc = SimAccount(acc_id, honest_phone(), device, ip, reg, bool(avatar), title)
            self.accounts[acc_id] = acc
            self._register(acc, timed)
            kind = KIND_CODES[kinds[int(rng.choice(len(kinds), p=kp))]]
            sid = f"s-h{i}"
            st = SimStream(sid, acc, kind, int(rng.integers(0, 2**62)), None, False, start,
                           min(start + float(durs[i]), self.t_end), 0.0, float(peaks[i]), device, ip, title)
            self.streams[sid] = st
            self._push(start, START, sid)
            self.truth.legit_streams[sid] = st
        # Honest travellers: a login from a new device and network tonight (not a hijack).
        for i in rng.choice(n_honest, size=max(1, n_honest // 200), replace=False):
            acc = self.accounts[f"h{i}"]
            st = self.streams[f"s-h{i}"]
            if acc.registered < self.t0 - DAY and st.start > self.t0:
                acc.device, acc.ip = f"dv-ht{i}", honest_ip()
                st.device, st.ip = acc.device, acc.ip
                timed.append(Login(id=self._id("e"), ts=st.start - float(rng.uniform(300, 3600)),
                                   account=acc.id, device=acc.device, ip=acc.ip))
        # Co-broadcasts: many aged honest rooms show one public event at once.
        for j, cb in enumerate(p.co_broadcasts):
            t_start = cb.start.timestamp()
            for r in range(self._n(cb.rooms)):
                acc_id = f"hc{j}-{r}"
                acc = SimAccount(acc_id, honest_phone(), f"dv-{acc_id}", honest_ip(),
                                 self.t0 - float(rng.uniform(60 * DAY, 4 * 365 * DAY)), True, f"赛事解说{r}")
                self.accounts[acc_id] = acc
                self._register(acc, timed)
                start = t_start + float(rng.uniform(-300, 300))
                sid = f"s-{acc_id}"
                look = Look.random(np.random.default_rng([self.seed, 7, j, r]), "mild")
                st = SimStream(sid, acc, EVENT, 1000 + j, look, False, start, t_start + cb.minutes * 60,
                               start - t_start, float(_lognormal(rng, p.viewers)), acc.device, acc.ip, acc.title)
                self.streams[sid] = st
                self._push(start, START, sid)
                self.truth.legit_streams[sid] = st
        # Honest integrations that use whitelist scopes every night (history first, then tonight).
        for k in range(self._n(p.partner_api_share * p.honest_streams)):
            principal = f"partner-{k}"
            for t in (self.t0 - 3 * DAY, self.t0 + float(rng.uniform(0, 3600 * 3))):
                timed.append(ApiCall(id=self._id("e"), ts=t, principal=principal,
                                     endpoint="/whitelist/live/start", scope="whitelist:skip_verify"))
        self._build_attack(timed, honest_ip, honest_phone)
        hist = [e for e in timed if e.ts < self.t0]
        now = [e for e in timed if e.ts >= self.t0]
        self.backfill = sorted(hist, key=lambda e: e.ts)
        for e in now:
            self._timed_insert(e)

    def _register(self, acc: SimAccount, out: list[Event]) -> None:
        out.append(AccountRegistered(id=self._id("e"), ts=acc.registered, account=acc.id, phone=acc.phone,
                                     device=acc.device, ip=acc.ip, user_agent="app/12.3"))
        if acc.avatar or acc.title:
            out.append(ProfileChanged(id=self._id("e"), ts=acc.registered + 60, account=acc.id,
                                      avatar=acc.avatar, title=acc.title or None))
        if acc.registered < self.t0 - DAY:
            out.append(Login(id=self._id("e"), ts=self.t0 - float(self.rng.uniform(3600, 5 * DAY)),
                             account=acc.id, device=acc.device, ip=acc.ip))

    def _build_attack(self, timed: list[Event], honest_ip, honest_phone) -> None:
        a, rng = self.sc.attack, self.rng
        n = self._n(a.accounts)
        proxies = [f"45.{rng.integers(60, 90)}.{rng.integers(0, 256)}" for _ in range(self._n(a.proxy_blocks))]
        blocks = [f"86{rng.choice([170, 171, 165, 167, 162])}{rng.integers(0, 10**4):04d}" for _ in range(self._n(a.phone_blocks))]
        farm_devices = max(1, int(n / a.accounts_per_device))
        attack_start = a.start.timestamp()
        kinds = rng.choice(3, size=n, p=[a.registered_share, a.sleeper_share, a.hijacked_share])
        pool: list[SimAccount] = []
        for i in range(n):
            acc_id = f"x{i}"
            ip = f"{proxies[int(rng.integers(len(proxies)))]}.{rng.integers(1, 255)}"
            device = f"dv-x{i}" if rng.random() < a.unique_device_share else f"dv-farm{int(rng.integers(farm_devices))}"
            if kinds[i] == 2:  # hijacked: an aged honest-looking account
                acc = SimAccount(acc_id, honest_phone(), f"dv-own-x{i}", honest_ip(),
                                 self.t0 - float(rng.uniform(90 * DAY, 5 * 365 * DAY)),
                                 a.hijack_profile, f"生活记录{i}" if a.hijack_profile else "", attack=True, hijacked=True)
                self._register(acc, timed)
                acc.device, acc.ip = device, ip  # where the hijacker logs in from
            else:
                phone = f"{blocks[int(rng.integers(len(blocks)))]}{rng.integers(0, 10**4):04d}"
                if kinds[i] == 1:
                    reg = self.t0 - float(rng.uniform(2 * DAY, 10 * DAY))
                else:
                    reg = attack_start - a.register_lead_minutes * 60 + float(rng.uniform(0, (a.register_lead_minutes + a.minutes * 0.5) * 60))
                prof = rng.random() < a.registered_profile_share
                acc = SimAccount(acc_id, phone, device, ip, reg, bool(prof), f"hi{i}" if prof else "", attack=True)
                self._register(acc, timed)
            self.accounts[acc_id] = acc
            self.truth.attack_accounts.add(acc_id)
            if acc.hijacked:
                self.truth.hijacked_accounts.add(acc_id)
            pool.append(acc)
        pool.sort(key=lambda x: x.registered if not x.hijacked else self.t0)
        self.pool = deque(pool)
        # Slots ramp up over ramp_minutes from the attack's start.
        slots = self._n(a.slots)
        for s in range(slots):
            self._push(attack_start + a.ramp_minutes * 60 * s / slots, GOLIVE, str(s))
        self.attack_end = attack_start + a.minutes * 60
        # False reporters: fresh accounts that mass-report honest merchants.
        merchants = [sid for sid, st in self.streams.items() if st.kind == MERCHANT and not st.attack
                     and st.start < self.attack_end and st.planned_end > attack_start]
        targets = [merchants[i] for i in rng.choice(len(merchants), size=min(len(merchants), self._n(a.false_report_targets)), replace=False)] if merchants else []
        self.false_report_targets = set(targets)
        for k in range(self._n(a.false_reporters) if targets else 0):
            rid = f"fr{k}"
            acc = SimAccount(rid, f"{blocks[int(rng.integers(len(blocks)))]}{rng.integers(0, 10**4):04d}",
                             f"dv-farm{int(rng.integers(farm_devices))}",
                             f"{proxies[int(rng.integers(len(proxies)))]}.{rng.integers(1, 255)}",
                             attack_start - float(rng.uniform(0, 3600)), False, "", attack=True)
            self.accounts[rid] = acc
            self.truth.attack_accounts.add(rid)
            self._register(acc, timed)
            for _ in range(a.false_reports_each):
                target = targets[int(rng.integers(len(targets)))]
                st = self.streams[target]
                t = float(rng.uniform(max(st.start, attack_start), min(st.planned_end, self.attack_end)))
                if t > st.start:
                    self._push(t, REPORT, target, -k - 1)

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
                self._golive(int(key), when, out)
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
                    self._push(when + st.sample_every, FRAME, key, st.frame_ver)
            elif what == CHATLINE:
                self._chat(st, when, out)
            elif what == VIEWERS:
                out.append(ViewerCount(id=self._id("e"), ts=when, stream=st.id, viewers=int(self.viewers(st, when))))
                self._push(when + 60, VIEWERS, key)
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
            self._push(self.paused_until, START, st.id)  # the platform is off: wait for it
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
        out.append(StreamStarted(id=self._id("e"), ts=when, stream=st.id, account=acc.id, device=st.device,
                                 ip=st.ip, title=st.title))
        st.sample_every = self.sc.sample_every
        # A room already live when the window opened sends its first frame now, not its history.
        when = max(when, self._tick_start)
        self._push(when, FRAME, st.id, st.frame_ver)  # a keyframe at go-live
        rng = self.rng
        cpm = self.sc.attack.chat_per_minute if st.attack else self.sc.platform.chat_per_minute
        if cpm > 0:
            self._push(when + float(rng.exponential(60 / cpm)), CHATLINE, st.id)
        self._push(when + 30, VIEWERS, st.id)
        self._schedule_report(st, when)
        if not st.attack:
            self._push(st.planned_end, END, st.id)

    def _schedule_report(self, st: SimStream, when: float) -> None:
        if st.attack:
            # The audience grows, so the report rate does: draw reports every 10 s at the current rate.
            self._push(when + REPORT_STEP, REPORT, st.id, 0)
            return
        rate = self.sc.platform.honest_reports_per_hour / 3600.0
        if rate > 0:
            self._push(when + float(self.rng.exponential(1.0 / rate)), REPORT, st.id, 0)

    def _report(self, st: SimStream, when: float, ver: int, out: list[Event]) -> None:
        if ver < 0:  # a false reporter's scheduled report
            n, reporters = 1, [f"fr{-ver - 1}"]
        elif st.attack:
            rate = self.sc.attack.report_rate * self.viewers(st, when) / 60.0
            n = int(self.rng.poisson(rate * REPORT_STEP))
            reporters = [f"u{int(x)}" for x in self.rng.integers(0, 10**7, n)]
            self._schedule_report(st, when)
        else:
            n, reporters = 1, [f"u{int(self.rng.integers(0, 10**7))}"]
            self._schedule_report(st, when)
        for reporter in reporters:
            self.reports_sent += 1
            st.reports += 1
            out.append(ReportFiled(id=self._id("e"), ts=when, stream=st.id, reporter=reporter,
                                   reason="illegal_content" if st.attack else "other"))

    def _chat(self, st: SimStream, when: float, out: list[Event]) -> None:
        rng = self.rng
        if st.attack and rng.random() < self.sc.attack.coded_share:
            out.append(ChatPosted(id=self._id("e"), ts=when, stream=st.id, account=st.account.id, text=chatgen.coded_line(rng)))
        else:
            out.append(ChatPosted(id=self._id("e"), ts=when, stream=st.id, account=f"u{int(rng.integers(0, 10**7))}",
                                  text=chatgen.honest_line(rng)))
        cpm = self.sc.attack.chat_per_minute if st.attack else self.sc.platform.chat_per_minute
        self._push(when + float(rng.exponential(60 / cpm)), CHATLINE, st.id)

    def _golive(self, slot: int, when: float, out: list[Event]) -> None:
        if when >= self.attack_end:
            return
        if self.paused_until is not None and when < self.paused_until:
            self._push(self.paused_until + float(self.rng.uniform(0, 120)), GOLIVE, str(slot))
            return
        while self.pool and (self.pool[0].frozen or self.pool[0].live):
            self.pool.popleft()
        if not self.pool:
            return
        acc = self.pool[0]
        if not acc.hijacked and acc.registered > when:
            self._push(acc.registered + 5, GOLIVE, str(slot))  # wait for the next account to exist
            return
        self.pool.popleft()
        a, rng = self.sc.attack, self.rng
        delay = 0.0
        if acc.hijacked:
            # The hijacker logs in from the farm, maybe changes the password, then goes live.
            out.append(Login(id=self._id("e"), ts=when, account=acc.id, device=acc.device, ip=acc.ip))
            delay = float(rng.uniform(30, 240))
            if rng.random() < a.credential_change_share:
                self._timed_insert(Login(id=self._id("e"), ts=when + delay / 2, account=acc.id, device=acc.device,
                                         ip=acc.ip, credential_change="password"))
        if rng.random() < a.api_abuse_share:
            # An ordinary call first (the principal has a history), then the restricted one.
            self._timed_insert(ApiCall(id=self._id("e"), ts=when, principal=acc.id,
                                       endpoint="/api/profile", scope="user", account=acc.id))
            self._timed_insert(ApiCall(id=self._id("e"), ts=when + delay * 0.9, principal=acc.id,
                                       endpoint="/internal/live/start_unverified", scope="whitelist:skip_verify",
                                       account=acc.id))
        clip = int(rng.integers(0, a.clips))
        sid = f"s-{acc.id}"
        look = Look.random(np.random.default_rng([self.seed, 9, slot, int(when)]), a.look)
        st = SimStream(sid, acc, CLIP, clip, look, True, when + delay, self.attack_end, float(rng.uniform(0, 300)),
                       float(_lognormal(rng, a.viewers)), acc.device, acc.ip, acc.title, slot=slot)
        self.streams[sid] = st
        self.truth.attack_streams[sid] = st
        self._push(when + delay, START, sid)
        self._push(self.attack_end, END, sid)

    def _timed_insert(self, ev: Event) -> None:
        self._seq += 1
        heapq.heappush(self.timed, (ev.ts, self._seq, ev))

    def _frames(self, due: list[tuple[SimStream, float]]) -> list[Event]:
        kinds = np.fromiter((st.kind for st, _ in due), dtype=np.int64, count=len(due))
        seeds = np.fromiter((st.seed for st, _ in due), dtype=np.int64, count=len(due))
        ts = np.fromiter((st.source_t0 + (w - st.start) for st, w in due), dtype=np.float64, count=len(due))
        pixels = self.renderer.render(kinds, seeds, ts, [st.look for st, _ in due])
        size = pixels.shape[1]
        out = []
        for (st, w), px in zip(due, pixels):
            st.frames += 1
            if st.first_frame is None:
                st.first_frame = w
            out.append(FrameSampled(id=self._id("f"), ts=w, stream=st.id, account=st.account.id,
                                    width=size, height=size, pixels=px.tobytes()))
        self.frames_sent += len(out)
        return out

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
                elif o.action == "limit" and st.limited_at is None:
                    st.limited_at = now
                elif o.action == "sample" and o.sample_every:
                    st.sample_every = o.sample_every
                    st.frame_ver += 1
                    self._push(now + o.sample_every, FRAME, st.id, st.frame_ver)
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
        rid = f"{st.id}-u"
        back = SimStream(rid, st.account, st.kind, st.seed, st.look, st.attack, now, st.planned_end,
                         st.source_t0 + (now - st.start), st.peak, st.device, st.ip, st.title, restart_of=st.id)
        st.restored_as = rid
        self.streams[rid] = back
        (self.truth.attack_streams if st.attack else self.truth.legit_streams)[rid] = back
        self._push(now, START, rid)

    def _end(self, st: SimStream, when: float, reason: str, out: list[Event]) -> None:
        if st.ended is not None:
            return
        st.ended, st.end_reason = when, reason
        self.live.discard(st.id)
        if st.account.live == st.id:
            st.account.live = None
        out.append(StreamEnded(id=self._id("e"), ts=when, stream=st.id, account=st.account.id, reason=reason))
        if st.attack and st.slot >= 0 and when < self.attack_end:
            delay = float(_lognormal(self.rng, self.sc.attack.restream_delay))
            self._push(when + delay, GOLIVE, str(st.slot))

    def pause_all(self, now: float, until: float | None) -> None:
        """The baseline's global shutdown: every live room ends, nobody goes live until `until`."""
        self.paused_from = now
        self.paused_until = until if until is not None else now + 3600
        for sid in sorted(self.live):
            st = self.streams[sid]
            self._end(st, now, "shutdown", self.pending)
            if not st.attack and st.planned_end > self.paused_until:
                # The honest streamer comes back when streaming resumes.
                rid = f"{sid}-r"
                back = SimStream(rid, st.account, st.kind, st.seed, st.look, False, self.paused_until,
                                 st.planned_end, st.source_t0 + (self.paused_until - st.start), st.peak,
                                 st.device, st.ip, st.title, restart_of=sid)
                self.streams[rid] = back
                self.truth.legit_streams[rid] = back
                self._push(self.paused_until + float(self.rng.uniform(0, 300)), START, rid)
