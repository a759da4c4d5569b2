"""Policy as data: CEL rules in a TOML file, validated at load, reloadable without a restart."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import cel

from floodwall import shipped
from floodwall.engine.celcheck import check_expression, reads
from floodwall.engine.signals import SIGNAL_SCHEMA, sample_context
from floodwall.events import ACTIONS, SEVERITY

_RULE_KEYS = {"name", "when", "action", "description", "shadow", "confirm", "sample_every", "second_opinion"}
_TOP_KEYS = {"name", "description", "engine", "rules", "scheduled"}
_ENGINE_KEYS = {
    "content", "classifier", "chat", "clusters", "rings", "review", "reports",
    "sample_every", "report_review_threshold", "confirm_banks", "robust",
}


class PolicyError(ValueError):
    """A policy file is invalid; the message names each rule and problem (``problems``: one per line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


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
    second_opinion: bool = False  # a review case opened by this rule alone needs two reviewers who agree
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
    """An action a policy takes at a fixed time, or a while after the incident reaches a level.

    ``after`` (a level name) with ``after_minutes``: the baseline's global shutdown is a response to
    the incident, so it fires that long after the level is first reached, whenever that is.
    """

    action: str
    at: float | None
    minutes: float
    after: str | None = None
    after_minutes: float = 0.0


@dataclass
class Policy:
    """A named set of rules plus engine settings."""

    name: str
    description: str
    rules: list[Rule]
    engine: EngineSettings
    scheduled: list[Scheduled]
    source: str = ""

    @cached_property
    def reads(self) -> dict[str, frozenset[str] | None]:
        """Per namespace, the signals some rule can read (None: the whole map), so a rule's CEL context
        carries only those: converting the signals into CEL values cost more than running every rule."""
        out: dict[str, frozenset[str] | None] = dict.fromkeys(SIGNAL_SCHEMA, frozenset())
        for rule in self.rules:
            for ns, names in reads(rule.when, frozenset(SIGNAL_SCHEMA)).items():
                cur = out[ns]
                out[ns] = None if names is None or cur is None else cur | names
        return out

    def evaluate(self, ctx: cel.Context,
                 on_error: Callable[[Rule, Exception], None] | None = None) -> tuple[list[Rule], list[Rule]]:
        """Rules that fire on this context: (acting, shadow); a rule that raises goes to ``on_error``.

        Without ``on_error`` a rule that raises raises PolicyError naming it.
        """
        fired: list[Rule] = []
        shadow: list[Rule] = []
        for rule in self.rules:
            try:
                hit = rule.program.execute(ctx)
            except Exception as exc:
                if on_error is None:
                    raise PolicyError(f"rule '{rule.name}' failed at run time: {exc}") from exc
                # One subject's bad value (a division by zero, say) must not stop the other rules or the batch.
                on_error(rule, exc)
                continue
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
        raise PolicyError(f"`at` must be an ISO 8601 time with offset: {exc}") from None


def _scheduled(s: dict, where: str) -> Scheduled:
    """One [[scheduled]] entry: `at` a time, or `after` a level plus `after_minutes`."""
    from floodwall.events import INCIDENT_LEVELS as LEVELS

    extra = set(s) - {"action", "at", "after", "after_minutes", "minutes"}
    if extra:
        raise PolicyError(f"unknown keys {sorted(extra)}")
    if ("at" in s) == ("after" in s):
        raise PolicyError("give exactly one of `at` (a time) and `after` (an incident level)")
    minutes = float(s.get("minutes", 60))
    if "at" in s:
        return Scheduled(action=s["action"], at=_parse_time(s["at"], where), minutes=minutes)
    if s["after"] not in LEVELS[1:]:
        raise PolicyError(f"`after` must be one of {', '.join(LEVELS[1:])}, not {s['after']!r}")
    after_minutes = float(s.get("after_minutes", 0))
    if after_minutes < 0 or minutes <= 0:
        raise PolicyError("`after_minutes` must be >= 0 and `minutes` > 0")
    return Scheduled(action=s["action"], at=None, minutes=minutes, after=s["after"], after_minutes=after_minutes)


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse, check and compile a policy file's text; raise PolicyError listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    problems: list[str] = []
    extra = set(data) - _TOP_KEYS
    if extra:
        problems.append(f"unknown top-level keys {sorted(extra)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append("`name` (a non-empty string) is required")
    settings = _settings(data.get("engine", {}), problems)
    rules: list[Rule] = []
    seen: set[str] = set()
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        problems.append("`rules` must be an array of tables ([[rules]])")
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        rule = _rule(raw, i, seen, problems)
        if rule is not None:
            rules.append(rule)
    # Most severe first, so the verdict's main action is the first acting rule.
    rules.sort(key=lambda r: -SEVERITY[r.action])
    scheduled = []
    for j, s in enumerate(data.get("scheduled", [])):
        where = f"scheduled #{j + 1}"
        if s.get("action") not in ("pause_all",):
            problems.append(f"{where}: action must be 'pause_all'")
            continue
        try:
            scheduled.append(_scheduled(s, where))
        except (PolicyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise PolicyError(_report(source, problems), problems)
    return Policy(name=name, description=data.get("description", ""), rules=rules, engine=settings,  # type: ignore[arg-type]
                  scheduled=scheduled, source=source)


def _report(source: str, problems: list[str]) -> str:
    """One problem on one line; several as a numbered list under the file's name."""
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return f"{source}: {len(problems)} problems:\n" + "\n".join(f"  {k}. {p}" for k, p in enumerate(problems, 1))


def _settings(eng: Any, problems: list[str]) -> EngineSettings:
    """The [engine] table, checked; defaults where it is unusable (its problems are recorded)."""
    if not isinstance(eng, dict):
        problems.append("[engine] must be a table")
        return EngineSettings()
    bad = set(eng) - _ENGINE_KEYS
    if bad:
        problems.append(f"unknown [engine] keys {sorted(bad)}; known: {sorted(_ENGINE_KEYS)}")
        eng = {k: v for k, v in eng.items() if k in _ENGINE_KEYS}
    settings = EngineSettings(**eng)
    if settings.review not in ("case", "fifo"):
        problems.append(f"[engine] review must be 'case' or 'fifo', not {settings.review!r}")
    if settings.reports not in ("aggregate", "queue"):
        problems.append(f"[engine] reports must be 'aggregate' or 'queue', not {settings.reports!r}")
    if not isinstance(settings.robust, bool):
        problems.append(f"[engine] robust must be true or false, not {settings.robust!r}")
    return settings


def _rule(raw: Any, i: int, seen: set[str], problems: list[str]) -> Rule | None:
    """One [[rules]] table checked and compiled; None (its problems recorded) if it is not usable."""
    if not isinstance(raw, dict):
        problems.append(f"rule #{i + 1}: must be a table")
        return None
    rname = raw.get("name") or f"#{i + 1}"
    where = f"rule '{rname}'"
    before = len(problems)
    extra = set(raw) - _RULE_KEYS
    if extra:
        problems.append(f"{where}: unknown keys {sorted(extra)}; known: {sorted(_RULE_KEYS)}")
    if "name" not in raw:
        problems.append(f"{where}: missing `name`")
    if rname in seen:
        problems.append(f"{where}: duplicate rule name")
    seen.add(rname)
    action = raw.get("action")
    if action not in ACTIONS:
        problems.append(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    sample_every = raw.get("sample_every")
    if action == "sample" and not (isinstance(sample_every, (int, float)) and sample_every > 0):
        problems.append(f"{where}: action 'sample' needs `sample_every` (seconds > 0)")
    if raw.get("second_opinion") and action != "review":
        problems.append(f"{where}: `second_opinion` applies to action 'review' only")
    when = raw.get("when")
    program = None
    if not isinstance(when, str) or not when.strip():
        problems.append(f"{where}: missing `when` (a CEL expression)")
    else:
        program = _compile(when, where, problems)
    if len(problems) > before:
        return None
    return Rule(name=rname, when=when, action=action, description=raw.get("description", ""),  # type: ignore[arg-type]
                shadow=bool(raw.get("shadow", False)), confirm=bool(raw.get("confirm", False)),
                sample_every=float(sample_every) if sample_every else None,
                second_opinion=bool(raw.get("second_opinion", False)), program=program)


def _compile(when: str, where: str, problems: list[str]) -> Any:
    """Compile one `when`: syntax, every name against the signal schema, types; then one sample run."""
    try:
        program = cel.compile(when)
    except ValueError as exc:
        problems.append(f"{where}: CEL syntax error: {exc}")
        return None
    found = check_expression(when, SIGNAL_SCHEMA)
    if found:
        problems.extend(f"{where}: {p}" for p in found)
        return None
    # The static check passed: one run on every signal's default catches what it does not model.
    try:
        result = program.execute(cel.Context(sample_context()))
    except Exception as exc:
        problems.append(f"{where}: `when` cannot be evaluated: {exc}")
        return None
    if not isinstance(result, bool):
        problems.append(f"{where}: `when` must be true or false, got {type(result).__name__} {result!r}")
        return None
    return program


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
