"""Scenario tactics: each attacker and honest-crowd trait as a TOML table (docs/scenarios.md).

Every table's defaults reproduce the December 22 scenario as first shipped, so an older scenario
file plays the same plan. Counts are at scale 1 and zero is allowed for every one of them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Base for scenario sections: unknown keys are errors."""


class LogNormal(Spec, kw_only=True):
    """A heavy-tailed quantity: median, log-space sigma, and a cap."""

    median: float
    sigma: float
    max: float = 1e9


class Range(Spec, kw_only=True):
    """A uniform draw in [lo, hi] (hi may equal lo)."""

    lo: float = 0.0
    hi: float = 0.0


class CoBroadcast(Spec, kw_only=True):
    """A public event shown by many honest rooms at once (a match, a concert)."""

    start: datetime
    minutes: float
    rooms: int  # at scale 1
    fresh_share: float = 0.0  # rooms by accounts registered tonight (a fan who signs up to relay the match)
    look: str = "mild"  # each relay's perturbation preset: "none", "mild", "strong", "broadcast"


class Surge(Spec, kw_only=True):
    """Honest creators going live together: an agency's office, a platform campaign, a midnight sale."""

    start: datetime
    rooms: int  # at scale 1
    spread_seconds: float = 60.0  # every room goes live within this span of `start`
    minutes: float = 60.0  # median room length
    network: str = "own"  # "own": each creator's usual network; "office": one office /24 for all
    fresh_share: float = 0.0  # accounts registered tonight (an agency onboarding new talent)
    profile_share: float = 1.0  # accounts with avatar and title
    shared_devices: int = 0  # the office's phones: 0 = one device per account
    kind: str = "merchant"  # room kind: merchant, gamer, chat, outdoor


class ReportStorm(Spec, kw_only=True):
    """A report-flooding ring against chosen honest rooms, with or without an attack."""

    start: datetime
    minutes: float = 60.0
    target: str = "top_merchants"  # top_merchants, top_gamers, random_merchants, random_gamers, random
    targets: int = 200  # honest rooms targeted, at scale 1
    reporters: int = 2000  # fresh accounts filing the reports, at scale 1
    reports_each: int = 5
    reason: str = "illegal_content"  # what the ring claims
    fresh: bool = True  # reporter accounts registered within the last hour (else aged, bought)


class Sourcing(Spec, kw_only=True):
    """Where the attack's accounts come from, beside [attack]'s registered/sleeper/hijacked shares."""

    session_theft_share: float = 0.0  # stolen session cookies: no login, owner's own device and network
    bought_aged_share: float = 0.0  # aged accounts bought on a market; logged in once from the buyer's side
    bought_age_days: Range = Range(lo=180, hi=1500)
    sleeper_age_days: Range = Range(lo=2, hi=10)
    sleeper_phone: str = "virtual"  # "virtual" (virtual-operator blocks) or "ordinary" (carrier numbers)
    hijack_login_lead: Range = Range(lo=30, hi=240)  # seconds from the hijacker's login to go-live
    hijack_early_login_share: float = 0.0  # hijackers who log in hours earlier, not just before going live


class Network(Spec, kw_only=True):
    """The attack's networks, as shares of its accounts (must add up to 1)."""

    datacenter: float = 1.0  # proxy /24s in hosting ranges ([attack] proxy_blocks of them)
    residential: float = 0.0  # residential proxies: one home address each, spread like honest broadband
    carrier_nat: float = 0.0  # mobile-carrier NAT addresses shared with honest users


class Insider(Spec, kw_only=True):
    """A compromised internal principal (a service key) that starts streams for many accounts."""

    share: float = 0.0  # go-lives started through the privileged endpoint instead of the app
    principals: int = 1  # keys stolen (not scaled)
    skip_gate: bool = False  # the endpoint goes live without asking the gate: no stream_started, limits ignored
    endpoint: str = "/internal/live/start_for"
    scope: str = "internal:live_admin"
    history: bool = True  # the key made ordinary calls before tonight (it is a real service's key)


class Transforms(Spec, kw_only=True):
    """Per-room copy transforms, each drawn per room from its range (replaces `look` when given)."""

    crop: Range = Range(lo=0.0, hi=0.03)  # fraction of each axis cut, split between its two sides
    pad: Range = Range()  # border, as a fraction of the picture
    pad_share: float = 0.0  # rooms that pad
    mirror_share: float = 0.5
    rotate: float = 0.0  # degrees, either way
    overlay_share: float = 0.8  # rooms with a text overlay (a handle on a translucent strip)
    quality: Range = Range(lo=50, hi=90)  # re-encoding JPEG quality
    scale: Range = Range(lo=0.6, hi=1.0)  # re-encoded resolution before resampling back
    speed: Range = Range(lo=1.0, hi=1.0)  # playback speed of the clip
    noise: float = 6.0  # max luma noise sigma
    colour: bool = True  # brightness, contrast and hue shifts as in the mild look


class Content(Spec, kw_only=True):
    """The clip library and its schedule: new clips during the attack make a stale bank useless."""

    new_clips: int = 0  # clips introduced during the attack (not scaled)
    new_clip_every_minutes: float = 15.0
    active_clips: int = 0  # go-lives draw from the newest this many clips (0: all introduced so far)
    transforms: Transforms | None = None


class Chat(Spec, kw_only=True):
    """Obfuscated diversion chat."""

    obfuscated_share: float = 0.0  # coded lines in homoglyphs and spaced or full-width digits


class Timing(Spec, kw_only=True):
    """When rooms go live: [attack] ramp_minutes is the ramp; waves and pauses on top."""

    wave_on_minutes: float = 0.0  # 0: no waves; else go-lives only in on-periods
    wave_off_minutes: float = 0.0
    pauses: list[list[float]] = []  # [[minutes after start, minutes], ...]: no go-lives in these spans


class Switch(Spec, kw_only=True):
    """An attacker that changes tactic when its rooms fall fast."""

    fast_takedowns: int = 0  # 0: never switch; else switch after this many rooms fell within fast_seconds
    fast_seconds: float = 30.0
    regroup_minutes: float = 5.0  # no go-lives for this long while it retools
    look: str = ""  # new look preset ("" keeps the old one)
    network: Network | None = None  # new networks for the accounts it uses next
    insider_share: float | None = None
    obfuscated_share: float | None = None
    transforms: Transforms | None = None
