"""Policy as data: CEL rules in a TOML file, validated at load, reloadable without a restart."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cel

from floodwall import shipped
from floodwall.engine.signals import sample_context
from floodwall.events import ACTIONS, SEVERITY

_RULE_KEYS = {"name", "when", "action", "description", "shadow", "confirm", "sample_every"}
_TOP_KEYS = {"name", "description", "engine", "rules", "scheduled"}
_ENGINE_KEYS = {
    "content", "classifier", "chat", "clusters", "rings", "review", "reports",
    "sample_every", "report_review_threshold", "confirm_banks", "robust",
}


class PolicyError(ValueError):
    """A policy file is invalid; the message names the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    """One named CEL condition and the action it asks for."""

    name: str
    when: str
    action: str
    description: str = ""
    shadow: bool = False
    confirm: bool = False  # a takedown by this rule is confident enough to bank the content
    sample_every: float | None = None
    program: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EngineSettings:
    """Which machine-review stages a policy runs, and their knobs."""

    content: bool = True
    classifier: bool = True
    chat: bool = True
    clusters: bool = True
    rings: bool = True
    review: str = "case"  # "case": one harm-ranked case per stream or cluster; "fifo": one item per report
    reports: str = "aggregate"  # "aggregate": one counter per stream; "queue": every report is a review item
    sample_every: float = 10.0  # platform's default snapshot interval, seconds
    report_review_threshold: float = 3.0  # weighted report pressure that opens a case
    confirm_banks: bool = True  # confident takedowns put their frames in a bank
    robust: bool = False  # match frames through border-trimmed, mirrored views and derived bank views (content/robust.py)


@dataclass(frozen=True)
class Scheduled:
    """An action a policy takes at a fixed time (e.g. the baseline's global shutdown)."""

    action: str
    at: float
    minutes: float


@dataclass
class Policy:
    """A named set of rules plus engine settings."""

    name: str
    description: str
    rules: list[Rule]
    engine: EngineSettings
    scheduled: list[Scheduled]
    source: str = ""

    def evaluate(self, ctx: cel.Context) -> tuple[list[Rule], list[Rule]]:
        """Rules that fire on this context: (acting, shadow)."""
        fired: list[Rule] = []
        shadow: list[Rule] = []
        for rule in self.rules:
            try:
                hit = rule.program.execute(ctx)
            except Exception as exc:  # a rule that breaks at run time must not stop the engine
                raise PolicyError(f"rule '{rule.name}' failed at run time: {exc}") from exc
            if hit is True:
                (shadow if rule.shadow else fired).append(rule)
        return fired, shadow


def _parse_time(value: Any, where: str) -> float:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError as exc:
        raise PolicyError(f"{where}: `at` must be an ISO 8601 time with offset: {exc}") from None


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate a policy file's text; raise PolicyError naming rule and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    extra = set(data) - _TOP_KEYS
    if extra:
        raise PolicyError(f"{source}: unknown top-level keys {sorted(extra)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{source}: `name` (a non-empty string) is required")
    eng = data.get("engine", {})
    bad = set(eng) - _ENGINE_KEYS
    if bad:
        raise PolicyError(f"{source}: unknown [engine] keys {sorted(bad)}; known: {sorted(_ENGINE_KEYS)}")
    try:
        settings = EngineSettings(**eng)
    except TypeError as exc:
        raise PolicyError(f"{source}: [engine]: {exc}") from None
    if settings.review not in ("case", "fifo"):
        raise PolicyError(f"{source}: [engine] review must be 'case' or 'fifo', not {settings.review!r}")
    if settings.reports not in ("aggregate", "queue"):
        raise PolicyError(f"{source}: [engine] reports must be 'aggregate' or 'queue', not {settings.reports!r}")
    if not isinstance(settings.robust, bool):
        raise PolicyError(f"{source}: [engine] robust must be true or false, not {settings.robust!r}")

    sample = cel.Context(sample_context())
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rules", [])):
        rname = raw.get("name") or f"#{i + 1}"
        where = f"{source}: rule '{rname}'"
        extra = set(raw) - _RULE_KEYS
        if extra:
            raise PolicyError(f"{where}: unknown keys {sorted(extra)}; known: {sorted(_RULE_KEYS)}")
        if "name" not in raw:
            raise PolicyError(f"{where}: missing `name`")
        if rname in seen:
            raise PolicyError(f"{where}: duplicate rule name")
        seen.add(rname)
        when = raw.get("when")
        if not isinstance(when, str) or not when.strip():
            raise PolicyError(f"{where}: missing `when` (a CEL expression)")
        action = raw.get("action")
        if action not in ACTIONS:
            raise PolicyError(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
        try:
            program = cel.compile(when)
        except ValueError as exc:
            raise PolicyError(f"{where}: CEL syntax error: {exc}") from None
        try:
            result = program.execute(sample)
        except KeyError as exc:
            raise PolicyError(f"{where}: unknown signal {exc} in `when`; see docs/policy.md for the signals") from None
        except Exception as exc:
            raise PolicyError(f"{where}: `when` cannot be evaluated: {exc}") from None
        if not isinstance(result, bool):
            raise PolicyError(f"{where}: `when` must be true or false, got {type(result).__name__} {result!r}")
        sample_every = raw.get("sample_every")
        if action == "sample" and not (isinstance(sample_every, (int, float)) and sample_every > 0):
            raise PolicyError(f"{where}: action 'sample' needs `sample_every` (seconds > 0)")
        rules.append(
            Rule(
                name=rname, when=when, action=action, description=raw.get("description", ""),
                shadow=bool(raw.get("shadow", False)), confirm=bool(raw.get("confirm", False)),
                sample_every=float(sample_every) if sample_every else None, program=program,
            )
        )
    # Most severe first, so the verdict's main action is the first acting rule.
    rules.sort(key=lambda r: -SEVERITY[r.action])
    scheduled = []
    for j, s in enumerate(data.get("scheduled", [])):
        where = f"{source}: scheduled #{j + 1}"
        if s.get("action") not in ("pause_all",):
            raise PolicyError(f"{where}: action must be 'pause_all'")
        scheduled.append(Scheduled(action=s["action"], at=_parse_time(s.get("at"), where), minutes=float(s.get("minutes", 60))))
    return Policy(name=name, description=data.get("description", ""), rules=rules, engine=settings,
                  scheduled=scheduled, source=source)


def resolve_policy_path(name_or_path: str) -> Path:
    """A policy file by path, or by name among the shipped policies."""
    try:
        return shipped.resolve(name_or_path, "policies", "policy")
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


def load_policy(name_or_path: str) -> Policy:
    """Load and validate a policy by name or path."""
    path = resolve_policy_path(name_or_path)
    return parse_policy(path.read_text(encoding="utf-8"), source=str(path))


class PolicyFile:
    """A policy that reloads when its file changes; a broken edit keeps the last good policy."""

    def __init__(self, name_or_path: str) -> None:
        self.path = resolve_policy_path(name_or_path)
        self.policy = load_policy(str(self.path))
        self._mtime = os.stat(self.path).st_mtime_ns
        self.last_error: str | None = None

    def reload_if_changed(self) -> bool:
        """Reload if the file changed; True if a new policy is now in force."""
        mtime = os.stat(self.path).st_mtime_ns
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            self.policy = load_policy(str(self.path))
        except PolicyError as exc:
            self.last_error = str(exc)
            return False
        self.last_error = None
        return True
