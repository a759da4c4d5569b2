"""Signals: what the rules can see, named once, with defaults that double as the schema."""

from __future__ import annotations

import bisect
import csv
from collections import deque
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
NEVER = 1e12  # "seconds since" for something that never happened

# Every signal a rule may read, with its type shown by its default. docs/policy.md explains each.
ACCOUNT_SIGNALS: dict[str, object] = {
    "age_s": 0.0,  # seconds since registration (backfilled accounts carry their real age)
    "has_avatar": False,
    "has_title": False,
    "phone_virtual": False,  # number in a virtual-operator range (data/virtual_ranges.csv)
    "phone_block_accounts": 0,  # accounts registered on the same 7-digit number block
    "phone_block_regs_1h": 0,  # registrations on that block in the last hour
    "device_accounts": 0,  # accounts seen on this account's latest device
    "device_regs_1h": 0,  # registrations from that device in the last hour
    "net_accounts": 0,  # accounts seen on the /24 (IPv4) or /48 (IPv6) network
    "net_fresh_share": 0.0,  # share of those accounts younger than a day (carrier NAT: low)
    "net_regs_10m": 0,  # registrations from that network in the last 10 minutes
    "net_golives_10m": 0,  # go-lives from that network in the last 10 minutes
    "new_device_login_s": NEVER,  # seconds since a login from a never-seen device AND network
    "credential_change_s": NEVER,  # seconds since a password/phone/email change
    "hijack_signs": 0,  # new device+network login, credential change, go-live after them; stolen session, dormant, renamed
    "restricted_api_new": False,  # a restricted endpoint/scope on it, within a day of the principal's first-ever use
    "principal_fanout": 0,  # most distinct accounts one principal acting for this one acted for in 10 minutes
    "golive_new_place_s": NEVER,  # seconds since a go-live from a never-seen device AND network, with no login
    "dormant_days": 0.0,  # days without a login or go-live before the latest go-live (0: nothing seen before)
    "renamed_s": NEVER,  # seconds since the display title changed from one non-empty title to another
    "clean_streams": 0,  # past streams that ended with no enforcement
    "takedowns": 0,
    "trusted": False,  # aged 30+ days, with an avatar, no takedowns, no hijack signs
    "risk": 0.0,  # additive gate score (see risk_score)
    "in_ring": False,
    "ring_size": 0,
    "ring_confirmed": False,  # the ring holds an account whose content was confirmed bad
    "frozen": False,
}

STREAM_SIGNALS: dict[str, object] = {
    "age_s": 0.0,
    "frames": 0,  # frames hashed so far
    "sample_every": 10.0,
    "classifier": 0.0,  # highest image-classifier score over the last 3 frames
    "classifier_hits": 0,  # of the last 3 frames, how many scored >= 0.5
    "classifier_model": "",
    "bank_match": False,  # a frame within threshold of a block bank, not allowed
    "bank": "",
    "bank_distance": 256,
    "allow_match": False,  # a frame matched an allow bank (honest content)
    "cluster_rooms": 1,  # live rooms in this stream's content cluster (itself included)
    "cluster_accounts": 1,
    "cluster_risky_share": 0.0,  # share of the cluster's accounts with risk >= 3
    "cluster_trusted_share": 0.0,
    "cluster_confirmed": False,  # another room of the cluster was taken down with confidence
    "cluster_flagged_rooms": 0,  # live rooms of the cluster (itself included) the image model flags (>= 0.5)
    "cluster_flagged_share": 0.0,  # their share of the cluster's live rooms (per-room model noise is independent)
    "chat_diversion": 0,  # chat lines steering viewers off-platform in the last 5 minutes
    "chat_max": 0.0,
    "title_diversion": 0.0,
    "reports": 0,  # distinct reporters
    "report_weight": 0.0,  # reporters weighed by reputation, each one's voice split over the rooms it reported
    "report_spread": 0.0,  # share of its reporters who reported other rooms within the hour (a storm sprays)
    "viewers": 0,
    "limited": False,
    "reviewed_benign": False,  # a reviewer judged this stream or its cluster fine
    "gate_skipped": False,  # known only from its frames: the go-live never came through the gate
}

INCIDENT_SIGNALS: dict[str, object] = {"level": 0}


def _type_name(value: object) -> str:
    """The CEL type of a default (bool before int: a bool is an int in Python)."""
    for t, name in ((bool, "bool"), (int, "int"), (float, "double"), (str, "string")):
        if isinstance(value, t):
            return name
    raise TypeError(f"a signal default must be bool, int, float or str, not {type(value).__name__}")


# The signal schema rules are checked against at load: namespace -> signal -> CEL type.
SIGNAL_SCHEMA: dict[str, dict[str, str]] = {
    ns: {name: _type_name(v) for name, v in signals.items()}
    for ns, signals in (("account", ACCOUNT_SIGNALS), ("stream", STREAM_SIGNALS), ("incident", INCIDENT_SIGNALS))
}


def sample_context() -> dict[str, dict[str, object]]:
    """A context with every signal at its default (used to validate rules at load)."""
    return {
        "account": dict(ACCOUNT_SIGNALS),
        "stream": dict(STREAM_SIGNALS),
        "incident": dict(INCIDENT_SIGNALS),
    }


@lru_cache(maxsize=4)
def _ranges(path: str) -> tuple[list[str], list[str]]:
    prefixes: list[str] = []
    names: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            prefixes.append(row["prefix"].strip())
            names.append(row.get("operator", "").strip())
    order = sorted(range(len(prefixes)), key=lambda i: prefixes[i])
    return [prefixes[i] for i in order], [names[i] for i in order]


class PhoneRanges:
    """Virtual-operator number ranges, by prefix (a platform can ship its own file)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path or DATA_DIR / "virtual_ranges.csv")
        self.prefixes, self.operators = _ranges(self.path)

    def is_virtual(self, phone: str) -> bool:
        """True if the number (E.164 digits, country code first) falls in a listed range."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        i = bisect.bisect_right(self.prefixes, digits) - 1
        return i >= 0 and digits.startswith(self.prefixes[i])


def phone_block(phone: str) -> str:
    """The number block: all digits but the last four."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:-4] if len(digits) > 6 else digits


def network_block(ip: str) -> str:
    """The /24 of an IPv4 address or the /48 of an IPv6 one."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ip


class WindowCounter:
    """Counts events per key in a sliding time window."""

    def __init__(self, window_s: float) -> None:
        self.window = window_s
        self._times: dict[str, deque[float]] = {}

    def add(self, key: str, t: float) -> int:
        """Count one event at t; returns the count in the window ending at t."""
        q = self._times.setdefault(key, deque())
        q.append(t)
        return self.count(key, t)

    def count(self, key: str, now: float) -> int:
        """Events for key in (now - window, now]."""
        q = self._times.get(key)
        if not q:
            return 0
        edge = now - self.window
        while q and q[0] <= edge:
            q.popleft()
        return len(q)


FANOUT_WINDOW = 600.0  # seconds over which a principal's distinct accounts are counted
FANOUT_ACCOUNTS = 5  # a principal acting for this many accounts in the window adds to their risk


def fanout(calls: dict[str, float] | None, now: float) -> int:
    """Distinct accounts in ``calls`` (account -> last call, oldest first) acted for in the last FANOUT_WINDOW s."""
    if not calls:
        return 0
    while calls:
        first = next(iter(calls))
        if now - calls[first] < FANOUT_WINDOW:
            break
        del calls[first]  # ordered by last call: the oldest is first
    return len(calls)


def risk_score(a: dict[str, object]) -> float:
    """An additive gate score from account signals; 3 or more is 'risky' for cluster shares."""
    r = 0.0
    if a["age_s"] < 86_400:  # type: ignore[operator]
        r += 1.0
    if a["age_s"] < 3_600:  # type: ignore[operator]
        r += 0.5
    if a["phone_virtual"]:
        r += 1.0
    if not a["has_avatar"]:
        r += 0.5
    if not a["has_title"]:
        r += 0.5
    if a["device_accounts"] >= 5:  # type: ignore[operator]
        r += 1.0
    if a["phone_block_regs_1h"] >= 3:  # type: ignore[operator]
        r += 1.0
    if a["net_fresh_share"] >= 0.5 and a["net_accounts"] >= 5:  # type: ignore[operator]
        r += 1.0
    r += 1.0 * min(int(a["hijack_signs"]), 3)  # type: ignore[arg-type]
    if a["restricted_api_new"]:
        r += 1.0
    if a["principal_fanout"] >= FANOUT_ACCOUNTS:  # type: ignore[operator]
        r += 1.0
    if a["trusted"]:
        r -= 2.0
    return r
