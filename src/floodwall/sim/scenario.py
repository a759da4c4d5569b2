"""Scenario files: the platform and the attack, as data (TOML). docs/scenarios.md documents the schema."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

import msgspec

from floodwall import shipped
from floodwall.sim.tactics import (
    Chat,
    CoBroadcast,
    Content,
    Insider,
    LogNormal,
    Network,
    ReportStorm,
    Sourcing,
    Spec,
    Surge,
    Switch,
    Timing,
)

__all__ = ["CoBroadcast", "LogNormal", "ReportStorm", "Scenario", "ScenarioError", "Surge", "load_scenario",
           "parse_scenario", "resolve_scenario_path"]
LOOKS = ("none", "mild", "strong", "broadcast")
KINDS = ("merchant", "gamer", "chat", "outdoor")
TARGETS = ("top_merchants", "top_gamers", "random_merchants", "random_gamers", "random")


class Platform(Spec, kw_only=True):
    """Honest traffic."""

    honest_streams: int = 40_000  # streams that start in the window, at scale 1
    warmup_minutes: float = 30.0  # honest streams already live when the window opens are started in this span
    duration: LogNormal = LogNormal(median=45, sigma=0.7, max=240)  # minutes
    viewers: LogNormal = LogNormal(median=30, sigma=1.8, max=100_000)
    kinds: dict[str, float] = msgspec.field(default_factory=lambda: {"merchant": 0.35, "gamer": 0.3, "chat": 0.25, "outdoor": 0.1})
    new_creator_share: float = 0.03  # registered tonight, live within minutes
    new_creator_no_profile_share: float = 0.5
    virtual_phone_share: float = 0.05  # honest people use virtual operators too
    carrier_nat_share: float = 0.55  # behind a handful of huge mobile-carrier NAT blocks
    carrier_nat_blocks: int = 12
    campus_share: float = 0.06
    campus_blocks: int = 15  # at scale 1
    agencies: int = 40  # offices, at scale 1
    agency_accounts: int = 25  # honest accounts run from each office network
    family_device_share: float = 0.1  # accounts sharing a device with one or two others
    co_broadcasts: list[CoBroadcast] = []
    surges: list[Surge] = []  # honest creators going live together (agency offices, campaigns)
    travellers_share: float = 0.005  # honest streamers who log in tonight from a new device and network
    chat_per_minute: float = 1.0  # sampled chat lines per honest room
    honest_reports_per_hour: float = 0.05  # per honest room, mostly mistaken
    partner_api_share: float = 0.01  # honest integrations that use whitelist scopes every night


class Attack(Spec, kw_only=True):
    """The saturation attack."""

    accounts: int = 17_000  # at scale 1
    registered_share: float = 0.7  # mass-registered tonight on virtual numbers
    sleeper_share: float = 0.1  # registered days before, idle until tonight
    hijacked_share: float = 0.2  # aged accounts taken over with stolen credentials
    hijack_profile: bool = True  # hijacked accounts keep their avatar and title
    registered_profile_share: float = 0.0  # share of mass-registered accounts that set avatar and title
    credential_change_share: float = 0.8  # hijackers who change the password before going live
    start: datetime = datetime.fromisoformat("2025-12-22T22:00:00+08:00")
    ramp_minutes: float = 15.0
    minutes: float = 75.0  # 60 to 90 in the reports
    slots: int = 3_400  # concurrent streaming capacity at full ramp, at scale 1
    restream_delay: LogNormal = LogNormal(median=40, sigma=0.6, max=600)  # seconds
    register_lead_minutes: float = 90.0  # mass registration runs this long before the attack
    accounts_per_device: float = 6.0  # emulator farms: accounts per device id
    unique_device_share: float = 0.4  # accounts that spoof a fresh device id
    emulator_share: float = 0.0  # accounts on emulator instances: a fresh device id at every go-live
    proxy_blocks: int = 150  # /24s the attack's traffic comes from, at scale 1
    phone_blocks: int = 300  # number blocks its SMS-code services sell from, at scale 1
    clips: int = 6
    look: str = "mild"  # perturbation preset per room ("none", "mild", "strong")
    viewers: LogNormal = LogNormal(median=900, sigma=1.3, max=100_000)
    chat_per_minute: float = 2.0  # coded diversion lines per attack room
    coded_share: float = 0.6  # share of an attack room's chat that is coded diversion
    api_abuse_share: float = 0.3  # go-lives preceded by a call to a restricted endpoint
    report_rate: float = 0.002  # reports per viewer per minute on attack rooms
    false_report_targets: int = 200  # honest merchants mass-reported, at scale 1
    false_reporters: int = 2_000  # fresh accounts doing it, at scale 1
    false_reports_each: int = 5
    false_report_reason: str = "other"  # what the attack's own report ring claims
    sourcing: Sourcing = Sourcing()
    network: Network = Network()
    insider: Insider = Insider()
    content: Content = Content()
    chat: Chat = Chat()
    timing: Timing = Timing()
    switch: Switch = Switch()


class Classifier(Spec, kw_only=True):
    """The declared quality of the image model that stands in for illegal-content detection."""

    tpr: float = 0.67  # share of violating frames scored >= 0.5
    fpr: float = 0.002  # share of honest frames scored >= 0.5


class Reviewers(Spec, kw_only=True):
    """The human review team."""

    count: int = 600  # at scale 1 (calibrated on the December 22 scenario: see README)
    seconds_per_item: float = 60.0
    accuracy: float = 0.92
    skip_seconds: float = 10.0  # an item whose rooms already ended


class Scenario(Spec, kw_only=True):
    """One scenario file."""

    name: str
    description: str = ""
    start: datetime
    end: datetime
    platform: Platform = Platform()
    attack: Attack = Attack()
    classifier: Classifier = Classifier()
    reviewers: Reviewers = Reviewers()
    reports: list[ReportStorm] = []  # report storms against honest groups, with or without an attack
    sample_every: float = 10.0  # the platform's default snapshot interval
    frame_size: int = 64

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("`start` and `end` need a UTC offset, e.g. 2025-12-22T21:30:00+08:00")
        _non_negative(msgspec.to_builtins(self), "")
        a, src = self.attack, self.attack.sourcing
        total = a.registered_share + a.sleeper_share + a.hijacked_share + src.session_theft_share + src.bought_aged_share
        if abs(total - 1.0) > 1e-6:
            raise ValueError("attack shares (registered, sleeper, hijacked, sourcing.session_theft, "
                             f"sourcing.bought_aged) must add up to 1, not {total}")
        for where, net in (("attack.network", a.network), ("attack.switch.network", a.switch.network)):
            if net is not None and abs(net.datacenter + net.residential + net.carrier_nat - 1.0) > 1e-6:
                raise ValueError(f"{where}: datacenter + residential + carrier_nat must add up to 1")
        for where, look in (("attack.look", a.look), ("attack.switch.look", a.switch.look or "mild")):
            if look not in ("none", "mild", "strong"):
                raise ValueError(f"{where} must be none, mild or strong, not {look!r}")
        for j, cb in enumerate(self.platform.co_broadcasts):
            if cb.look not in LOOKS:
                raise ValueError(f"platform.co_broadcasts[{j}].look must be one of {', '.join(LOOKS)}")
        for j, sg in enumerate(self.platform.surges):
            if sg.kind not in KINDS or sg.network not in ("own", "office"):
                raise ValueError(f"platform.surges[{j}]: kind must be one of {', '.join(KINDS)}, "
                                 "network 'own' or 'office'")
        for j, rs in enumerate(self.reports):
            if rs.target not in TARGETS:
                raise ValueError(f"reports[{j}].target must be one of {', '.join(TARGETS)}")
        kinds = self.platform.kinds
        if set(kinds) - set(KINDS) or (self.platform.honest_streams > 0 and sum(kinds.values()) <= 0):
            raise ValueError(f"platform.kinds: shares of {', '.join(KINDS)}, not all zero")
        if src.sleeper_phone not in ("virtual", "ordinary"):
            raise ValueError("attack.sourcing.sleeper_phone must be 'virtual' or 'ordinary'")
        if a.insider.share > 0 and a.insider.principals < 1:
            raise ValueError("attack.insider.principals must be at least 1 when attack.insider.share > 0")
        shares = {"attack.registered_share": a.registered_share, "attack.unique_device_share": a.unique_device_share,
                  "attack.insider.share": a.insider.share, "attack.chat.obfuscated_share": a.chat.obfuscated_share,
                  "attack.coded_share": a.coded_share, "attack.api_abuse_share": a.api_abuse_share,
                  "platform.new_creator_share": self.platform.new_creator_share}
        for where, x in shares.items():
            if x > 1:
                raise ValueError(f"{where} is a share: at most 1, not {x}")


def _non_negative(data, where: str) -> None:
    """Every number in a scenario is a count, a share, a time span or a rate: none may be negative."""
    if isinstance(data, dict):
        for k, v in data.items():
            _non_negative(v, f"{where}.{k}" if where else k)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _non_negative(v, f"{where}[{i}]")
    elif isinstance(data, (int, float)) and not isinstance(data, bool) and data < 0:
        raise ValueError(f"{where} must not be negative, not {data}")


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the key."""


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate a scenario's TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, type=Scenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def resolve_scenario_path(name_or_path: str) -> Path:
    """A scenario by file path or by name among the shipped ones."""
    try:
        return shipped.resolve(name_or_path, "scenarios", "scenario")
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def load_scenario(name_or_path: str) -> Scenario:
    """Load and validate a scenario by name or path."""
    path = resolve_scenario_path(name_or_path)
    return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))
