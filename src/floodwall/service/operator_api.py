"""Operators' HTTP endpoints: set or release the incident level, propose, approve and undo mass actions.

The service mounts :func:`router` behind its own authentication: `operator` is a FastAPI dependency
that returns who is calling (an API key with a `name`, or a plain string). The two-person rule counts
these names, so two approvals must come from two different keys.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request  # at module level: routes' string annotations resolve against these globals
from pydantic import BaseModel, Field

from floodwall.response.levels import LEVELS, level_number
from floodwall.response.mass import KINDS, MassActionError, MassActions


class LevelIn(BaseModel):
    """An operator's level setting."""

    level: str = Field(description=f"one of {', '.join(LEVELS)} (or 0-3)")
    reason: str = Field(min_length=1, max_length=500)


class ProposalIn(BaseModel):
    """A proposed mass action."""

    kind: str = Field(description=f"one of {', '.join(KINDS)}")
    target: str = Field(default="*", max_length=128, description="an account of the ring ('*' for pause_all)")
    reason: str = Field(min_length=1, max_length=500)


class UndoIn(BaseModel):
    """Why a mass action is undone."""

    reason: str = Field(min_length=1, max_length=500)


def _name(who: Any) -> str:
    """The principal: a plain string as given, or a key as "name (id)" (names need not be unique)."""
    if isinstance(who, str):
        return who
    name, kid = str(getattr(who, "name", "") or ""), getattr(who, "id", None)
    return f"{name[:100]} ({kid})" if name and kid else name[:128]


def _key_id(principal: str) -> str | None:
    """The key id in a "name (id)" principal, or None for a plain name."""
    m = re.search(r"\(([0-9a-f]{16})\)$", principal)
    return m.group(1) if m else None


def router(hub, mass: MassActions, operator):
    """POST /incident/level, /incident/release, /mass-actions[/{id}/approve|/undo]; GET /mass-actions, /audit/verify."""
    from fastapi import APIRouter, Depends, HTTPException

    r = APIRouter(tags=["incident response"])
    caller = Depends(operator)  # who is calling, as the service's authentication says

    def responder():
        resp = getattr(hub.engine, "responder", None)
        if resp is None:
            raise HTTPException(409, "this engine runs without incident response")
        return resp

    def view(p) -> dict:
        return {"id": p.id, "kind": p.kind, "target": p.target, "reason": p.reason, "proposer": p.proposer,
                "approvals": p.approvals, "status": p.status, "effects": [list(e) for e in p.effects]}

    @r.post("/incident/level")
    def set_level(body: LevelIn, who=caller) -> dict:
        """Pin the incident level by hand (recorded, with who and why)."""
        try:
            level = level_number(body.level)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        with hub.lock:
            ch = responder().set_level(hub.engine, level, _name(who), body.reason)
        return ch.as_dict()

    @r.post("/incident/release")
    def release(who=caller) -> dict:
        """Hand the level back to the surge detector."""
        with hub.lock:
            resp = responder()
            resp.release(hub.engine, _name(who))
            return {"level": LEVELS[resp.level], "pinned": False}

    @r.get("/mass-actions")
    def list_actions(who=caller) -> list[dict]:
        """Every mass action proposed so far."""
        return [view(p) for p in mass.proposals.values()]

    @r.post("/mass-actions")
    def propose(body: ProposalIn, who=caller) -> dict:
        """Propose a mass action; nothing happens until two different operators approve it."""
        try:
            with hub.lock:
                return view(mass.propose(body.kind, body.target, _name(who), body.reason))
        except MassActionError as exc:
            raise HTTPException(422, str(exc)) from None

    @r.post("/mass-actions/{pid}/approve")
    def approve(pid: str, request: Request, who=caller) -> dict:
        """Approve; the second different operator's approval runs it (not a key the others made, or made them)."""
        keys = getattr(request.app.state, "keys", None)
        me = _key_id(_name(who))
        p = mass.proposals.get(pid)
        if keys is not None and me is not None and p is not None:
            for earlier in [p.proposer, *p.approvals]:
                other = _key_id(earlier)
                if other is not None and other != me and keys.related(me, other):
                    raise HTTPException(409, f"{_name(who)} was created by, or created, {earlier}: "
                                             "one person's keys count as one approval")
        try:
            return view(mass.approve(pid, _name(who)))
        except MassActionError as exc:
            raise HTTPException(409, str(exc)) from None

    @r.post("/mass-actions/{pid}/undo")
    def undo(pid: str, body: UndoIn, who=caller) -> dict:
        """Undo an executed mass action (restore orders for exactly what it changed)."""
        try:
            return view(mass.undo(pid, _name(who), body.reason))
        except MassActionError as exc:
            raise HTTPException(409, str(exc)) from None

    @r.get("/audit/verify")
    def verify(who=caller) -> dict:
        """Verify the mass-action audit chain; names the first broken entry."""
        b = mass.audit.verify()
        return {"ok": b is None, "entries": len(mass.audit.entries()), "broken": None if b is None else
                {"seq": b.seq, "reason": b.reason}, "head": mass.audit.head()}

    return r
