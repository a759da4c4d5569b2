"""The attacker: its account pool, networks and devices, how it goes live, what it shows, and when.

Every trait is a scenario field (``[attack]`` and its tactic tables, :mod:`floodwall.sim.tactics`).
Draws that a tactic adds happen only when the tactic is on, so a scenario without it plays the same
plan as before the tactic existed.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from floodwall.events import ApiCall, Event, Login
from floodwall.sim.crowd import VIRTUAL, Networks, title_for
from floodwall.sim.render import CLIP, Look
from floodwall.sim.simtypes import DAY, END, GOLIVE, REPORT, START, SimAccount, SimStream, lognormal
from floodwall.sim.tactics import Network, Transforms

if TYPE_CHECKING:
    from floodwall.sim.platform import SimPlatform

REGISTERED, SLEEPER, HIJACKED, SESSION, BOUGHT = range(5)


class Tactic:
    """The attacker's current choices; a switch (``[attack.switch]``) replaces some of them mid-attack."""

    def __init__(self, sim: SimPlatform) -> None:
        a = sim.sc.attack
        self.look = a.look
        self.transforms: Transforms | None = a.content.transforms
        self.network: Network = a.network
        self.insider_share = a.insider.share
        self.obfuscated_share = a.chat.obfuscated_share
        self.switched_at: float | None = None
        self.regroup_until = -1.0
        self.fast_falls = 0

    def switch(self, sim: SimPlatform, when: float) -> None:
        """Retool: new looks, networks, go-live path or chat, after a pause to regroup."""
        sw = sim.sc.attack.switch
        self.switched_at = when
        self.regroup_until = when + sw.regroup_minutes * 60
        self.look = sw.look or self.look
        self.transforms = sw.transforms or self.transforms
        self.network = sw.network or self.network
        self.insider_share = self.insider_share if sw.insider_share is None else sw.insider_share
        self.obfuscated_share = self.obfuscated_share if sw.obfuscated_share is None else sw.obfuscated_share


def attack_ip(sim: SimPlatform, net: Networks, proxies: list[str], network: Network) -> str:
    """An address for one attack account, by the tactic's network shares."""
    rng = sim.rng
    if network.residential + network.carrier_nat > 0:
        u = rng.random()
        if u < network.carrier_nat:
            return net.nat_ip()
        if u < network.carrier_nat + network.residential:
            return net.home_ip()
    if not proxies:
        return net.home_ip()
    return f"{proxies[int(rng.integers(len(proxies)))]}.{rng.integers(1, 255)}"


def build_attack(sim: SimPlatform, timed: list[Event], net: Networks) -> None:
    """The attacker's account pool, go-live slots and its own report ring."""
    a, rng, ids = sim.sc.attack, sim.rng, sim.ids
    src = a.sourcing
    n = sim.n(a.accounts)
    proxies = [f"45.{rng.integers(60, 90)}.{rng.integers(0, 256)}" for _ in range(sim.n(a.proxy_blocks))]
    blocks = [f"86{rng.choice(VIRTUAL)}{rng.integers(0, 10**4):04d}" for _ in range(sim.n(a.phone_blocks))]
    sim.attack_proxies = proxies
    farm_devices = max(1, int(n / a.accounts_per_device)) if a.accounts_per_device > 0 else max(1, n)
    attack_start = a.start.timestamp()
    shares = [a.registered_share, a.sleeper_share, a.hijacked_share, src.session_theft_share, src.bought_aged_share]
    kinds = rng.choice(5, size=n, p=shares)
    pool: list[SimAccount] = []

    def phone() -> str:
        if not blocks:
            return net.phone(1.0)
        return f"{blocks[int(rng.integers(len(blocks)))]}{rng.integers(0, 10**4):04d}"

    for i in range(n):
        name = f"x{i}"
        ip = attack_ip(sim, net, proxies, a.network)
        device = ids("d", name) if rng.random() < a.unique_device_share else ids("d", f"farm{int(rng.integers(farm_devices))}")
        emulated = a.emulator_share > 0 and rng.random() < a.emulator_share
        kind = int(kinds[i])
        if kind in (HIJACKED, SESSION, BOUGHT):  # an aged, honest-looking account
            prof = a.hijack_profile
            acc = SimAccount(ids("a", name), net.phone(), ids("d", f"own-{name}"), net.honest_ip(),
                             sim.t0 - float(rng.uniform(90 * DAY, 5 * 365 * DAY)), prof,
                             title_for(sim, name) if prof else "", attack=True, hijacked=kind != BOUGHT)
            if kind == BOUGHT:
                acc.registered = sim.t0 - float(rng.uniform(src.bought_age_days.lo, src.bought_age_days.hi)) * DAY
                sim.add_account(acc, timed, attack=True, login=False)
                # The buyer's one login from its own side, days before (a market sells the session with it).
                acc.device, acc.ip = device, ip
                timed.append(Login(id=sim.eid("e"), ts=sim.t0 - float(rng.uniform(2 * DAY, 20 * DAY)),
                                   account=acc.id, device=device, ip=ip, credential_change="password"))
            elif kind == SESSION:
                acc.session = True  # plays from the owner's own device and network: no login, nothing new
                sim.add_account(acc, timed, attack=True)
            else:
                sim.add_account(acc, timed, attack=True)
                acc.device, acc.ip = device, ip  # where the hijacker logs in from
                if src.hijack_early_login_share > 0 and rng.random() < src.hijack_early_login_share:
                    acc.session = True  # no login at go-live: it logged in hours before
                    t = attack_start - float(rng.uniform(3600, 6 * 3600))
                    timed.append(Login(id=sim.eid("e"), ts=t, account=acc.id, device=device, ip=ip))
        else:
            if kind == SLEEPER and src.sleeper_phone == "ordinary":
                ph = net.phone(0.0)
            else:
                ph = phone()
            if kind == SLEEPER:
                reg = sim.t0 - float(rng.uniform(src.sleeper_age_days.lo * DAY, src.sleeper_age_days.hi * DAY))
            else:
                reg = attack_start - a.register_lead_minutes * 60 + float(rng.uniform(0, (a.register_lead_minutes + a.minutes * 0.5) * 60))
            prof = rng.random() < a.registered_profile_share
            acc = SimAccount(ids("a", name), ph, device, ip, reg, bool(prof), title_for(sim, name) if prof else "",
                             attack=True)
            sim.add_account(acc, timed, attack=True)
        acc.emulated = emulated
        pool.append(acc)
    pool.sort(key=lambda x: x.registered if not x.hijacked else sim.t0)
    sim.pool = deque(pool)
    if a.insider.share > 0 or (a.switch.insider_share or 0) > 0:
        sim.insider_keys = [ids("k", f"insider-{k}") for k in range(a.insider.principals)]
        if a.insider.history:
            for key in sim.insider_keys:  # a real service's key: ordinary calls for weeks
                for d in (21, 14, 7, 3, 1):
                    timed.append(ApiCall(id=sim.eid("e"), ts=sim.t0 - d * DAY, principal=key,
                                         endpoint="/internal/live/status", scope="internal:live_read"))
    # Slots ramp up over ramp_minutes from the attack's start.
    slots = sim.n(a.slots)
    for s in range(slots):
        sim.push(attack_start + a.ramp_minutes * 60 * s / slots, GOLIVE, str(s))
    sim.attack_end = attack_start + a.minutes * 60
    _report_ring(sim, timed, net, blocks, proxies, farm_devices)


def _report_ring(sim: SimPlatform, timed: list[Event], net: Networks, blocks: list[str], proxies: list[str],
                 farm_devices: int) -> None:
    """The attack's own report ring: fresh accounts that mass-report honest merchants during the attack."""
    from floodwall.sim.render import MERCHANT

    a, rng, ids = sim.sc.attack, sim.rng, sim.ids
    attack_start = a.start.timestamp()
    merchants = [sid for sid, st in sim.streams.items() if st.kind == MERCHANT and not st.attack
                 and st.start < sim.attack_end and st.planned_end > attack_start]
    n_targets = min(len(merchants), sim.n(a.false_report_targets))
    targets = [merchants[i] for i in rng.choice(len(merchants), size=n_targets, replace=False)] if n_targets else []
    sim.false_report_targets.update(targets)
    for k in range(sim.n(a.false_reporters) if targets else 0):
        name = f"fr{k}"
        ph = f"{blocks[int(rng.integers(len(blocks)))]}{rng.integers(0, 10**4):04d}" if blocks else net.phone(1.0)
        acc = SimAccount(ids("a", name), ph, ids("d", f"farm{int(rng.integers(farm_devices))}"),
                         attack_ip(sim, net, proxies, Network()), attack_start - float(rng.uniform(0, 3600)),
                         False, "", attack=True)
        sim.add_account(acc, timed, attack=True)
        for _ in range(a.false_reports_each):
            target = targets[int(rng.integers(len(targets)))]
            st = sim.streams[target]
            t = float(rng.uniform(max(st.start, attack_start), min(st.planned_end, sim.attack_end)))
            if t > st.start:
                sim.storm_reports.append((acc.id, a.false_report_reason))
                sim.push(t, REPORT, target, -len(sim.storm_reports))


def _allowed(sim: SimPlatform, when: float) -> float:
    """``when`` if the attacker's timing lets a room go live then, else the next time it does."""
    a, tac = sim.sc.attack, sim.tactic
    t = when
    if t < tac.regroup_until:
        t = tac.regroup_until
    start = a.start.timestamp()
    tm = a.timing
    for off, mins in tm.pauses:
        if start + off * 60 <= t < start + (off + mins) * 60:
            t = start + (off + mins) * 60
    if tm.wave_on_minutes > 0 and tm.wave_off_minutes > 0:
        period = (tm.wave_on_minutes + tm.wave_off_minutes) * 60
        phase = (t - start) % period
        if phase >= tm.wave_on_minutes * 60:
            t += period - phase
    return t


def _clip(sim: SimPlatform, when: float) -> int | None:
    """The clip a new room plays: from the library introduced so far (newest ``active_clips`` of them)."""
    a, rng = sim.sc.attack, sim.rng
    c = a.content
    have = a.clips
    if c.new_clips > 0 and c.new_clip_every_minutes > 0:
        have += min(c.new_clips, int(max(0.0, when - a.start.timestamp()) // (c.new_clip_every_minutes * 60)))
    elif c.new_clips > 0:
        have += c.new_clips
    if have <= 0:
        return None
    lo = max(0, have - c.active_clips) if c.active_clips > 0 else 0
    return int(rng.integers(lo, have))


def transformed_look(rng: np.random.Generator, t: Transforms) -> tuple[Look, float]:
    """A room's look drawn from the transform ranges, and its playback speed."""
    u = rng.random(12)

    def draw(r, x: float) -> float:
        return float(r.lo + (r.hi - r.lo) * x)

    ax = [draw(t.crop, u[0]), draw(t.crop, u[1])]
    sp = rng.random(2)
    crop = (ax[0] * sp[0], ax[1] * sp[1], ax[0] * (1 - sp[0]), ax[1] * (1 - sp[1]))
    look = Look(
        crop=crop,  # type: ignore[arg-type]
        mirror=bool(u[2] < t.mirror_share),
        scale=min(1.0, max(0.05, draw(t.scale, u[3]))),
        rotate=float(t.rotate * (2 * u[4] - 1)),
        pad=min(1.0, draw(t.pad, u[5])) if u[6] < t.pad_share else 0.0,
        pad_mode="blur" if u[7] < 0.5 else "solid",
        brightness=float(0.16 * (u[8] - 0.5)) if t.colour else 0.0,
        contrast=float(0.85 + 0.3 * u[9]) if t.colour else 1.0,
        hue=float(40.0 * (u[10] - 0.5)) if t.colour else 0.0,
        overlay=int(rng.integers(0, 2**31)) if u[11] < t.overlay_share else None,
        noise=float(t.noise * rng.random()),
        jpeg=int(min(100, max(1, round(draw(t.quality, rng.random()))))),
    )
    return look, draw(t.speed, rng.random())


def golive(sim: SimPlatform, slot: int, when: float, out: list[Event]) -> None:
    """A slot's next room goes live from the next fresh account in the pool."""
    if when >= sim.attack_end:
        return
    if sim.paused_until is not None and when < sim.paused_until:
        sim.push(sim.paused_until + float(sim.rng.uniform(0, 120)), GOLIVE, str(slot))
        return
    ok = _allowed(sim, when)
    if ok > when:
        if ok < sim.attack_end:
            sim.push(ok + float(sim.rng.uniform(0, 60)), GOLIVE, str(slot))
        return
    while sim.pool and (sim.pool[0].frozen or sim.pool[0].live):
        sim.pool.popleft()
    if not sim.pool:
        return
    acc = sim.pool[0]
    if not acc.hijacked and acc.registered > when:
        sim.push(acc.registered + 5, GOLIVE, str(slot))  # wait for the next account to exist
        return
    sim.pool.popleft()
    a, rng, tac = sim.sc.attack, sim.rng, sim.tactic
    delay = 0.0
    if tac.switched_at is not None and tac.network is not a.network and not acc.session:
        acc.ip = attack_ip(sim, sim.net, sim.attack_proxies, tac.network)
    if acc.emulated:
        acc.device = sim.ids("d", f"emu-{sim.eid('v')}")  # a fresh emulator instance
    if acc.session:
        delay = float(rng.uniform(a.sourcing.hijack_login_lead.lo, a.sourcing.hijack_login_lead.hi))
    elif acc.hijacked:
        # The hijacker logs in from the farm, maybe changes the password, then goes live.
        out.append(Login(id=sim.eid("e"), ts=when, account=acc.id, device=acc.device, ip=acc.ip))
        lead = a.sourcing.hijack_login_lead
        delay = float(rng.uniform(lead.lo, lead.hi))
        if rng.random() < a.credential_change_share:
            sim.timed_insert(Login(id=sim.eid("e"), ts=when + delay / 2, account=acc.id, device=acc.device,
                                   ip=acc.ip, credential_change="password"))
    if rng.random() < a.api_abuse_share:
        # An ordinary call first (the principal has a history), then the restricted one.
        sim.timed_insert(ApiCall(id=sim.eid("e"), ts=when, principal=acc.id,
                                 endpoint="/api/profile", scope="user", account=acc.id))
        sim.timed_insert(ApiCall(id=sim.eid("e"), ts=when + delay * 0.9, principal=acc.id,
                                 endpoint="/internal/live/start_unverified", scope="whitelist:skip_verify",
                                 account=acc.id))
    skip = False
    if tac.insider_share > 0 and sim.insider_keys and rng.random() < tac.insider_share:
        # A stolen internal key starts the room for the account through the privileged endpoint.
        key = sim.insider_keys[int(rng.integers(len(sim.insider_keys)))]
        call = ApiCall(id=sim.eid("e"), ts=when + delay * 0.9, principal=key, endpoint=a.insider.endpoint,
                       scope=a.insider.scope, account=acc.id)
        if delay > 0:
            sim.timed_insert(call)
        else:
            out.append(call)  # the call that starts the room comes before its stream_started
        skip = a.insider.skip_gate
        sim.truth.attack_principals.add(key)
    clip = _clip(sim, when)
    if clip is None:
        return
    room_rng = np.random.default_rng([sim.seed, 9, slot, int(when)])
    speed = 1.0
    if tac.transforms is not None:
        look, speed = transformed_look(room_rng, tac.transforms)
    else:
        look = Look.random(room_rng, tac.look)
    st = SimStream(sim.ids("s", f"x-{acc.id}"), acc, CLIP, clip, look, True, when + delay,
                   sim.attack_end, float(rng.uniform(0, 300)), float(lognormal(rng, a.viewers)), acc.device,
                   acc.ip, acc.title, slot=slot, speed=speed, skip_gate=skip)
    sim.add_stream(st)
    sim.push(when + delay, START, st.id)
    sim.push(sim.attack_end, END, st.id)


def fell(sim: SimPlatform, st: SimStream, when: float) -> None:
    """An attack room ended: count fast takedowns toward a switch of tactic."""
    sw = sim.sc.attack.switch
    tac = sim.tactic
    if sw.fast_takedowns <= 0 or tac.switched_at is not None:
        return
    if st.went_live and when - st.start <= sw.fast_seconds:
        tac.fast_falls += 1
        if tac.fast_falls >= sw.fast_takedowns:
            tac.switch(sim, when)
