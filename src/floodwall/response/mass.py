"""Guarded mass actions: freeze a ring, force-reset its credentials, pause all live streaming.

Each needs approvals from two different operators before it runs; each step (proposed, approved,
executed, undone) goes into the hash-chained audit log; each can be undone with restore orders for
exactly what it changed. In the service the orders go through the engine's journal as a ``MassOrders``
event (run in the next batch, replayed at a restart like any event), and the proposals are read back
from the audit chain at start, so an action executed before a restart can still be undone after it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from floodwall.events import MassOrder, MassOrders
from floodwall.response.audit import AuditLog

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

KINDS = {
    "freeze_ring": "freeze every account of the ring the target account belongs to",
    "reset_ring_credentials": "lock every account of the ring until its owner re-verifies, and tell each owner",
    "pause_all": "pause all live streaming (the last resort Floodwall exists to avoid)",
}
APPROVALS_NEEDED = 2
SUBMIT_WAIT = 30.0  # seconds an approval or undo waits for its orders to be journaled


class MassActionError(ValueError):
    """A mass action cannot be proposed, approved, run or undone as asked."""


@dataclass
class Proposal:
    """One proposed mass action and what happened to it."""

    id: str
    kind: str
    target: str
    reason: str
    proposer: str
    created: float
    approvals: list[str] = field(default_factory=list)  # distinct operators, in order
    status: str = "proposed"  # proposed | executed | undone
    effects: list[tuple[str, str, str]] = field(default_factory=list)  # (action, subject, target) done


class MassActions:
    """Two-person rule around the engine's bulk orders, every step audited."""

    def __init__(self, engine: Engine, audit: AuditLog, lock=None, approvals_needed: int = APPROVALS_NEEDED,
                 submit: Callable[[Sequence[MassOrders]], object] | None = None) -> None:
        if approvals_needed < 2:
            raise ValueError("a mass action needs at least two approvals")
        self.engine = engine
        self.audit = audit
        self.lock = lock or contextlib.nullcontext()  # the Hub's lock in the service: the engine is single-threaded
        self.needed = approvals_needed
        # Where orders go: the service's journal (they run in the engine's next batch), else the engine at once.
        self.submit = submit
        self.proposals: dict[str, Proposal] = restore_proposals(audit.entries())
        last = max((int(m.group(1)) for pid in self.proposals if (m := re.fullmatch(r"ma(\d+)", pid))), default=0)
        self._ids = itertools.count(last + 1)  # ids never repeat: the audit chain names each one action

    def propose(self, kind: str, target: str, operator: str, reason: str) -> Proposal:
        """Propose a mass action (it does nothing until approved)."""
        if kind not in KINDS:
            raise MassActionError(f"unknown mass action {kind!r}; known: {', '.join(KINDS)}")
        if not operator or not reason:
            raise MassActionError("a proposal needs an operator and a reason")
        if kind != "pause_all" and target not in self.engine.accounts:
            raise MassActionError(f"{kind}: unknown account {target!r}")
        p = Proposal(id=f"ma{next(self._ids)}", kind=kind, target=target if kind != "pause_all" else "*",
                     reason=reason, proposer=operator, created=self.engine.clock.now())
        self.proposals[p.id] = p
        self.audit.append(p.created, operator, "proposed", p.id,
                          {"kind": kind, "target": p.target, "reason": reason})
        return p

    def approve(self, pid: str, operator: str) -> Proposal:
        """Approve as one operator; the action runs once two different operators approved it."""
        p = self._get(pid)
        if p.status != "proposed":
            raise MassActionError(f"{pid} is {p.status}, not awaiting approval")
        if not operator:
            raise MassActionError("an approval needs an operator")
        now = self.engine.clock.now()
        if operator in p.approvals:
            # Recorded, because a repeated approval is itself worth seeing in the log; it counts once.
            self.audit.append(now, operator, "approval_repeated", p.id, {"approvals": list(p.approvals)})
            return p
        p.approvals.append(operator)
        self.audit.append(now, operator, "approved", p.id, {"approvals": list(p.approvals)})
        if len(p.approvals) >= self.needed:
            self._execute(p)
        return p

    def undo(self, pid: str, operator: str, reason: str) -> Proposal:
        """Reverse an executed mass action: restore exactly what it froze or paused."""
        p = self._get(pid)
        if p.status != "executed":
            raise MassActionError(f"{pid} is {p.status}; only an executed action can be undone")
        if not operator or not reason:
            raise MassActionError("an undo needs an operator and a reason")
        back = [("restore", subject, target) for action, subject, target in reversed(p.effects)
                if action in ("freeze", "takedown")]
        done = self._run(p, back, f"undo {p.id} by {operator}: {reason}", {"mass_action": p.id})
        p.status = "undone"
        self.audit.append(self.engine.clock.now(), operator, "undone", p.id,
                          {"reason": reason, "restored": [list(e) for e in back], **done})
        return p

    def _execute(self, p: Proposal) -> None:
        with self.lock:
            effects = self._effects(p)
        done = self._run(p, effects, f"{p.kind} {p.id} approved by {', '.join(p.approvals)}",
                         {"mass_action": p.id, "reason": p.reason})
        p.effects = effects
        p.status = "executed"
        self.audit.append(self.engine.clock.now(), p.approvals[-1], "executed", p.id,
                          {"effects": [list(e) for e in effects], **done})

    def _run(self, p: Proposal, effects: list[tuple[str, str, str]], reason: str, evidence: dict) -> dict:
        """Carry the orders out (journaled for the next batch, or now); what the audit entry records of it."""
        if self.submit is not None:
            ev = MassOrders(id=f"mass-{p.id}-{uuid.uuid4().hex[:16]}", ts=self.engine.clock.now(), mass_action=p.id,
                            orders=[MassOrder(*e) for e in effects], reason=reason[:4000])  # type: ignore[arg-type]
            queued = self.submit([ev])
            if isinstance(queued, concurrent.futures.Future):
                queued.result(timeout=SUBMIT_WAIT)  # on disk before the answer (a JournalError is raised here)
            return {"event": ev.id}
        with self.lock:
            orders = self.engine.respond_now(effects, reason, evidence)
        responder = getattr(self.engine, "responder", None)
        if responder is not None:
            responder.enqueue_notices(self.engine, orders)  # owners of reset accounts are told, via the outbox
        return {"orders": [o.key for o in orders]}

    def _effects(self, p: Proposal) -> list[tuple[str, str, str]]:
        if p.kind == "pause_all":
            return [("takedown", "stream", "*")]
        eng = self.engine
        ring = eng.rings.ring_of(p.target) if eng.rings is not None else None
        members = sorted(ring.members) if ring is not None else [p.target]
        # Only accounts this action changes: undo must not thaw what was frozen for other reasons.
        out = [("freeze", "account", a) for a in members if a in eng.accounts and not eng.accounts[a].frozen]
        if p.kind == "reset_ring_credentials":
            out += [("notify", "account", a) for a in members if a in eng.accounts and not eng.accounts[a].notified]
        return out

    def _get(self, pid: str) -> Proposal:
        p = self.proposals.get(pid)
        if p is None:
            raise MassActionError(f"no mass action {pid!r}")
        return p


def restore_proposals(entries: Sequence[dict]) -> dict[str, Proposal]:
    """The proposals an audit chain records, with their approvals, status and effects (a restart's view)."""
    out: dict[str, Proposal] = {}
    for e in entries:
        action, pid = e["action"], e["subject"]
        if action not in ("proposed", "approved", "executed", "undone"):
            continue  # level pins and releases share the chain
        payload = json.loads(e["payload"])
        if action == "proposed":
            out[pid] = Proposal(id=pid, kind=payload["kind"], target=payload["target"], reason=payload["reason"],
                                proposer=e["actor"], created=e["ts"])
            continue
        p = out.get(pid)
        if p is None:
            continue
        if action == "approved":
            p.approvals = list(payload["approvals"])
        elif action == "executed":
            p.status, p.effects = "executed", [tuple(x) for x in payload["effects"]]
        else:
            p.status = "undone"
    return out
