"""Scenario files: the platform and the attack, as data (TOML). docs/scenarios.md documents the schema."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

import msgspec

from floodwall import shipped


class Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Base for scenario sections: unknown keys are errors."""


class LogNormal(Spec, kw_only=True):
    """A heavy-tailed quantity: median, log-space sigma, and a cap."""

    median: float
    sigma: float
    max: float = 1e9


class CoBroadcast(Spec, kw_only=True):
    """A public event shown by many honest rooms at once (a match, a concert)."""

    start: datetime
    minutes: float
    rooms: int  # at scale 1


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
    sample_every: float = 10.0  # the platform's default snapshot interval
    frame_size: int = 64

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("`start` and `end` need a UTC offset, e.g. 2025-12-22T21:30:00+08:00")
        a = self.attack
        total = a.registered_share + a.sleeper_share + a.hijacked_share
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"attack shares (registered, sleeper, hijacked) must add up to 1, not {total}")
        if a.look not in ("none", "mild", "strong"):
            raise ValueError(f"attack.look must be none, mild or strong, not {a.look!r}")


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
