"""Effects: what code outside the engine (incident response, mass actions) asks the engine to do.

They are values; the engine applies each one through its single order path (engine/act.py), so
takedown, freeze and the rest are written once, and nothing outside engine/ touches its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Order:
    """An order with its own verdict: a playbook effect, a held registration, a mass action."""

    action: str  # takedown, limit, restore, freeze, notify
    subject: str  # stream or account
    target: str  # its id ("*": every stream)
    reason: str
    evidence: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Rejudge:
    """Judge an account again within the batch (its standing changed, e.g. by a takedown)."""

    account: str


Effect = Order | Rejudge
