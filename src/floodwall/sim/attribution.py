"""Per-rule attribution: which rule (or human review, or playbook step) ordered what, counted at the enforcer.

The tally wraps the enforcer port rather than the engine, so it sees exactly the orders the platform was
given, whatever engine shape (one engine, partitions, coordinator) produced them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from floodwall.engine.engine import Enforcer
from floodwall.events import ActionOrder

# A review decision's reason names its item ("review rv-17", "undo of review p1-rv-3"); the item id would
# make every decision its own "rule", so attribution folds them into one source.
_ITEM = re.compile(r"\breview \S*rv-\S+")
_DECISION = re.compile(r"(undo of )?review")
_NUMBER = re.compile(r"\d+(\.\d+)?")


def sources(reason: str, rules: set[str] | frozenset[str] | None = None) -> list[str]:
    """The rules (or other source) an order's reason names: the rule names when ``reason`` lists rules of the
    policy, otherwise one source named by the reason's head ("probation lifted: 5 clean frames" -> "probation
    lifted"), numbers folded so that one playbook step is one row."""
    reason = _ITEM.sub("review", reason.strip())
    if not reason:
        return ["(no reason)"]
    if _DECISION.fullmatch(reason):  # a person's decision, not a rule list
        return [reason.replace("review", "human review")]
    parts = [r.strip() for r in reason.split(",") if r.strip()]
    if rules is None or all(p in rules for p in parts):
        return parts
    return [_NUMBER.sub("N", reason.split(":", 1)[0]).strip()]


class RuleTally:
    """An enforcer that counts each order under the rules that caused it, then passes it on."""

    def __init__(self, inner: Enforcer, rules: Iterable[str] | None = None) -> None:
        self.inner = inner
        self.rules = frozenset(rules) if rules is not None else None
        # source -> action -> subject -> set of targets
        self.targets: dict[str, dict[str, dict[str, set[str]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(set)))
        self.orders: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def apply(self, orders: Sequence[ActionOrder]) -> None:
        """Count, then forward every order unchanged."""
        for o in orders:
            for src in sources(o.reason, self.rules):
                self.orders[src][o.action] += 1
                self.targets[src][o.action][o.subject].add(o.target)
        self.inner.apply(orders)

    def kind(self, src: str) -> str:
        """What a source is: a policy rule, a person's review decision, or the incident playbook."""
        if src.endswith("human review"):
            return "person"
        if self.rules is None or src in self.rules:
            return "rule"
        return "playbook"

    def summary(self, is_attack: Callable[[str, str], bool | None] | None = None) -> dict:
        """Per source and action: orders, distinct targets and, given the truth, how many were attack or honest.

        ``is_attack(subject, target)`` returns True (attack), False (honest) or None (unknown, e.g. "*").
        """
        out: dict = {}
        for src in sorted(self.orders):
            acts: dict = {}
            for action in sorted(self.orders[src]):
                row: dict = {"orders": self.orders[src][action], "targets": 0, "source": self.kind(src)}
                attack = honest = 0
                for subject, targets in self.targets[src][action].items():
                    row["targets"] += len(targets)
                    if is_attack is not None:
                        for t in targets:
                            verdict = is_attack(subject, t)
                            attack += verdict is True
                            honest += verdict is False
                if is_attack is not None:
                    row["attack"], row["honest"] = attack, honest
                acts[action] = row
            out[src] = acts
        return out


def truth_judge(platform) -> Callable[[str, str], bool | None]:
    """Judge an order's target against a simulated platform's truth (the scorer's view, never the engine's)."""
    truth = platform.truth

    def judge(subject: str, target: str) -> bool | None:
        if subject == "stream":
            if target in truth.attack_streams:
                return True
            return False if target in truth.legit_streams else None
        if target in truth.attack_accounts:
            return True
        return False if target in platform.accounts else None

    return judge
