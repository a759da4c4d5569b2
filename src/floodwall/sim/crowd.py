"""The honest crowd: streamers, travellers, co-broadcasts, surges, partner integrations, report storms.

Functions here add to a :class:`~floodwall.sim.platform.SimPlatform` while it builds its plan. Ids are
opaque (``sim.ids``) and titles come from one pool for every role, so neither says who is honest.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from floodwall.events import ApiCall, Event, Login
from floodwall.sim.render import CHAT, EVENT, GAMER, MERCHANT, OUTDOOR, Look
from floodwall.sim.simtypes import DAY, REPORT, SimAccount, SimStream, lognormal

if TYPE_CHECKING:
    from floodwall.sim.platform import SimPlatform

KIND_CODES = {"merchant": MERCHANT, "gamer": GAMER, "chat": CHAT, "outdoor": OUTDOOR}
VIRTUAL = [170, 171, 165, 167, 162]
CARRIER = [130, 131, 135, 136, 138, 139, 150, 151, 158, 159, 180, 186, 188, 189]
TITLES = ["生活记录", "日常分享", "好物推荐", "游戏时间", "随便聊聊", "户外直播", "今晚开播", "新人主播",
          "赛事解说", "音乐电台", "美食探店", "daily vlog", "chill stream", "shop with me", "晚安电台", "小店上新"]


def title_for(sim: SimPlatform, name: str) -> str:
    """A room title from one pool for every role (the internal name only seeds the pick)."""
    h = int.from_bytes(hashlib.blake2b(name.encode(), key=sim.ids.key, digest_size=4).digest(), "big")
    return f"{TITLES[h % len(TITLES)]}{h // len(TITLES) % 1000}"


class Networks:
    """The platform's address space: carrier NAT, campuses, agency offices and home broadband."""

    def __init__(self, sim: SimPlatform) -> None:
        rng, p = sim.rng, sim.sc.platform
        self.rng, self.p = rng, p
        self.nat = [f"100.{64 + i}.{rng.integers(0, 256)}" for i in range(p.carrier_nat_blocks)]
        self.campus = [f"202.{rng.integers(100, 120)}.{i}" for i in range(sim.n(p.campus_blocks))]
        self.offices = [f"58.{rng.integers(30, 60)}.{i}" for i in range(sim.n(p.agencies))]

    def honest_ip(self) -> str:
        """An honest user's address."""
        rng, p = self.rng, self.p
        u = rng.random()
        if u < p.carrier_nat_share and self.nat:
            return self.nat_ip()
        if u < p.carrier_nat_share + p.campus_share and self.campus:
            return f"{self.campus[int(rng.integers(len(self.campus)))]}.{rng.integers(1, 255)}"
        return self.home_ip()

    def nat_ip(self) -> str:
        """An address behind a mobile carrier's NAT (shared by many honest users)."""
        rng = self.rng
        if not self.nat:
            return self.home_ip()
        return f"{self.nat[int(rng.integers(len(self.nat)))]}.{rng.integers(1, 255)}"

    def home_ip(self) -> str:
        """A home broadband address anywhere."""
        rng = self.rng
        return f"{rng.integers(1, 223)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"

    def phone(self, virtual_share: float | None = None) -> str:
        """A phone number: virtual-operator with the platform's share, else a carrier number."""
        rng = self.rng
        share = self.p.virtual_phone_share if virtual_share is None else virtual_share
        if rng.random() < share:
            return f"86{rng.choice(VIRTUAL)}{rng.integers(0, 10**8):08d}"
        return f"86{rng.choice(CARRIER)}{rng.integers(0, 10**8):08d}"


def build_crowd(sim: SimPlatform, timed: list[Event], net: Networks) -> None:
    """Honest streamers and their streams, travellers, co-broadcasts, surges and partner integrations."""
    rng, p, ids = sim.rng, sim.sc.platform, sim.ids
    n_honest = sim.n(p.honest_streams)
    kinds = list(p.kinds)
    kp = np.array([p.kinds[k] for k in kinds], dtype=float)
    kp /= kp.sum() if kp.sum() > 0 else 1.0
    starts = np.sort(rng.uniform(sim.t0 - p.warmup_minutes * 60, sim.t_end - 600, n_honest))
    durs = lognormal(rng, p.duration, n_honest) * 60
    peaks = lognormal(rng, p.viewers, n_honest)
    agency_left = sim.n(p.agencies) * p.agency_accounts
    family_devices: list[str] = []
    honest: list[tuple[SimAccount, SimStream]] = []
    for i in range(n_honest):
        new_creator = rng.random() < p.new_creator_share
        ip = net.honest_ip()
        if agency_left > 0 and rng.random() < 0.5 and not new_creator:
            ip = f"{net.offices[agency_left % len(net.offices)]}.{rng.integers(1, 255)}"
            agency_left -= 1
        device = ids("d", f"h{i}")
        if family_devices and rng.random() < p.family_device_share:
            device = family_devices[int(rng.integers(len(family_devices)))]
        elif rng.random() < p.family_device_share:
            family_devices.append(device)
        start = float(starts[i])
        if new_creator:
            reg = start - float(rng.uniform(120, 1800))
            no_profile = rng.random() < p.new_creator_no_profile_share
            avatar, title = (not no_profile), ("" if no_profile else title_for(sim, f"h{i}"))
        else:
            reg = sim.t0 - float(rng.uniform(30 * DAY, 5 * 365 * DAY))
            avatar, title = rng.random() < 0.97, title_for(sim, f"h{i}") if rng.random() < 0.95 else ""
        acc = SimAccount(ids("a", f"h{i}"), net.phone(), device, ip, reg, bool(avatar), title)
        sim.add_account(acc, timed)
        kind = KIND_CODES[kinds[int(rng.choice(len(kinds), p=kp))]]
        st = SimStream(ids("s", f"h{i}"), acc, kind, int(rng.integers(0, 2**62)), None, False, start,
                       min(start + float(durs[i]), sim.t_end), 0.0, float(peaks[i]), device, ip, title)
        sim.add_stream(st)
        honest.append((acc, st))
    # Honest travellers: a login from a new device and network tonight (not a hijack).
    n_trav = max(1, int(n_honest * p.travellers_share)) if p.travellers_share > 0 and n_honest else 0
    for i in (rng.choice(n_honest, size=n_trav, replace=False) if n_trav else []):
        acc, st = honest[int(i)]
        if acc.registered < sim.t0 - DAY and st.start > sim.t0:
            acc.device, acc.ip = ids("d", f"ht{i}"), net.honest_ip()
            st.device, st.ip = acc.device, acc.ip
            timed.append(Login(id=sim.eid("e"), ts=st.start - float(rng.uniform(300, 3600)),
                               account=acc.id, device=acc.device, ip=acc.ip))
    co_broadcasts(sim, timed, net)
    surges(sim, timed, net)
    # Honest integrations that use whitelist scopes every night (history first, then tonight).
    for k in range(sim.n(p.partner_api_share * p.honest_streams)):
        principal = ids("k", f"partner-{k}")
        for t in (sim.t0 - 3 * DAY, sim.t0 + float(rng.uniform(0, 3600 * 3))):
            timed.append(ApiCall(id=sim.eid("e"), ts=t, principal=principal,
                                 endpoint="/whitelist/live/start", scope="whitelist:skip_verify"))


def co_broadcasts(sim: SimPlatform, timed: list[Event], net: Networks) -> None:
    """Many honest rooms show one public event at once; some by accounts registered tonight."""
    rng, p, ids = sim.rng, sim.sc.platform, sim.ids
    for j, cb in enumerate(p.co_broadcasts):
        t_start = cb.start.timestamp()
        for r in range(sim.n(cb.rooms)):
            name = f"hc{j}-{r}"
            acc = SimAccount(ids("a", name), net.phone(), ids("d", name), net.honest_ip(),
                             sim.t0 - float(rng.uniform(60 * DAY, 4 * 365 * DAY)), True, title_for(sim, name))
            if cb.fresh_share > 0:
                start = t_start + float(rng.uniform(-300, 300))
                if rng.random() < cb.fresh_share:
                    acc.registered = start - float(rng.uniform(300, 3600))  # signed up tonight to relay the match
                    acc.avatar = rng.random() < 0.5
                sim.add_account(acc, timed)
            else:  # the order of draws of the scenarios written before fresh relays existed
                sim.add_account(acc, timed)
                start = t_start + float(rng.uniform(-300, 300))
            look = Look.random(np.random.default_rng([sim.seed, 7, j, r]), cb.look)
            st = SimStream(ids("s", name), acc, EVENT, 1000 + j, look, False, start, t_start + cb.minutes * 60,
                           start - t_start, float(lognormal(rng, p.viewers)), acc.device, acc.ip, acc.title,
                           group="co_broadcast")
            sim.add_stream(st)


def surges(sim: SimPlatform, timed: list[Event], net: Networks) -> None:
    """Honest creators going live in the same minute: an agency's office network, a campaign."""
    p, ids = sim.sc.platform, sim.ids
    for j, sg in enumerate(p.surges):
        rng = np.random.default_rng([sim.seed, 11, j])  # its own stream: adding a surge leaves the rest of the plan
        office = f"58.{rng.integers(60, 90)}.{j}"
        phones = [ids("d", f"sg{j}-dev{d}") for d in range(sg.shared_devices)]
        t_start = sg.start.timestamp()
        for r in range(sim.n(sg.rooms)):
            name = f"sg{j}-{r}"
            start = t_start + float(rng.uniform(0, sg.spread_seconds))
            fresh = rng.random() < sg.fresh_share
            reg = start - float(rng.uniform(600, 6 * 3600)) if fresh else sim.t0 - float(rng.uniform(30 * DAY, 3 * 365 * DAY))
            ip = f"{office}.{rng.integers(1, 255)}" if sg.network == "office" else net.honest_ip()
            device = phones[r % len(phones)] if phones else ids("d", name)
            prof = rng.random() < sg.profile_share
            acc = SimAccount(ids("a", name), net.phone(), device, ip, reg, prof, title_for(sim, name) if prof else "")
            sim.add_account(acc, timed)
            dur = float(np.minimum(rng.lognormal(np.log(max(sg.minutes, 1.0)), 0.4), 240.0)) * 60
            st = SimStream(ids("s", name), acc, KIND_CODES[sg.kind], int(rng.integers(0, 2**62)), None, False, start,
                           min(start + dur, sim.t_end), 0.0, float(lognormal(rng, p.viewers)), device, ip, acc.title,
                           group="surge")
            sim.add_stream(st)


def report_storms(sim: SimPlatform, timed: list[Event], net: Networks) -> None:
    """Report-flooding rings against chosen honest groups ([[reports]]), with or without an attack."""
    ids = sim.ids
    for j, rs in enumerate(sim.sc.reports):
        rng = np.random.default_rng([sim.seed, 13, j])
        t0, t1 = rs.start.timestamp(), rs.start.timestamp() + rs.minutes * 60
        pool = [st for st in sim.streams.values() if not st.attack and st.start < t1 and st.planned_end > t0]
        if rs.target in ("top_merchants", "random_merchants"):
            pool = [st for st in pool if st.kind == MERCHANT]
        elif rs.target in ("top_gamers", "random_gamers"):
            pool = [st for st in pool if st.kind == GAMER]
        n = min(len(pool), sim.n(rs.targets))
        if rs.target.startswith("top"):
            targets = sorted(pool, key=lambda st: -st.peak)[:n]  # the most popular rooms
        else:
            targets = [pool[int(i)] for i in rng.choice(len(pool), size=n, replace=False)] if n else []
        if not targets:
            continue
        sim.false_report_targets.update(st.id for st in targets)
        for k in range(sim.n(rs.reporters)):
            name = f"rs{j}-{k}"
            reg = t0 - float(rng.uniform(0, 3600)) if rs.fresh else sim.t0 - float(rng.uniform(60 * DAY, 3 * 365 * DAY))
            acc = SimAccount(ids("a", name), net.phone(0.9 if rs.fresh else None), ids("d", f"rs{j}-{k % 50}"),
                             net.home_ip(), reg, not rs.fresh, "", attack=True)
            sim.add_account(acc, timed, attack=True)
            for _ in range(rs.reports_each):
                st = targets[int(rng.integers(len(targets)))]
                t = float(rng.uniform(max(st.start, t0), min(st.planned_end, t1)))
                if t > st.start:
                    sim.storm_reports.append((acc.id, rs.reason))
                    sim.push(t, REPORT, st.id, -len(sim.storm_reports))


__all__ = ["KIND_CODES", "Networks", "build_crowd", "report_storms", "title_for"]
