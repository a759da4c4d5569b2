"""The reviewer console: the ranked queue, a case with its frames and rooms, decisions and their undo.

Server-rendered pages (Jinja2) over a :class:`~floodwall.service.hub.Hub`; a few lines of script poll
small JSON views so the queue and a case's rooms update live. Decisions become ``ReviewDecided`` and
``ReviewReversed`` events that the hub's loop feeds to the engine, the same path as any other feedback.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from floodwall.engine import view
from floodwall.engine.engine import Engine
from floodwall.events import ReviewDecided, ReviewReversed
from floodwall.engine.queue import ReviewItem
from floodwall.service.hub import Hub
from floodwall.service.sessions import same_origin

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))
MAX_ROOMS_SHOWN = 200
MAX_FRAMES_SHOWN = 24


def when(ts: float | None) -> str:
    """A time as a person reads it (UTC)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def room_status(engine: Engine, sid: str) -> str:
    """live, down (taken down), restored (a takedown undone) or ended, as the engine knows it."""
    room = view.room(engine, sid)
    return room.status if room is not None else "ended"


def _rooms(engine: Engine, item: ReviewItem) -> list[str]:
    rooms = set(item.streams)
    if item.kind == "cluster" and item.status != "decided":
        rooms |= view.cluster_rooms(engine, item.key)  # rooms that joined the cluster since the case opened
    decided = next((d for d in reversed(engine.review.history) if d.item == item.id), None)
    if decided is not None:
        rooms |= set(decided.rooms)
    return sorted(rooms)


def case_summary(engine: Engine, item: ReviewItem, rooms: list[str] | None = None) -> dict:
    """One row of the queue (``rooms``: the case's rooms, when the caller has them already)."""
    rooms = _rooms(engine, item) if rooms is None else rooms
    live = [r for r in (view.room(engine, sid) for sid in rooms) if r is not None and r.live and r.status != "down"]
    return {
        "id": item.id, "kind": item.kind, "key": item.key, "rooms": len(rooms), "rooms_live": len(live),
        "viewers": sum(r.viewers for r in live), "harm": f"{item.priority:,.0f}",
        "waiting": f"{max(0.0, engine.clock.now() - item.created) / 60:.1f} min",
        "rules": list(item.evidence.get("rules", [])),
    }


def queue_view(engine: Engine, limit: int = 100) -> dict:
    """The open cases, best first, and the queue's depth."""
    items = [i for i in engine.review.open_items() if i.status == "open"][:limit]
    return {"clock": when(engine.clock.now()), "depth": engine.review.depth,
            "cases": [case_summary(engine, i) for i in items]}


def case_view(engine: Engine, item_id: str) -> dict:
    """Everything a reviewer needs to decide one case."""
    item = engine.review.items.get(item_id)
    if item is None:
        raise KeyError(item_id)
    rooms = _rooms(engine, item)
    known = [r for r in (view.room(engine, sid) for sid in rooms) if r is not None]
    room_list = []
    for sid in rooms:
        r = view.room(engine, sid)
        room_list.append({"id": sid, "account": r.account if r else "", "viewers": r.viewers if r else 0,
                          "status": r.status if r else "ended", "frame": bool(r and r.has_frame)})
    room_list.sort(key=lambda r: (r["status"] != "live", -r["viewers"], r["id"]))
    shown = 0
    for r in room_list:  # frames of the most-watched rooms only: a page, not a dump
        if r["frame"]:
            shown += 1
            r["frame"] = shown <= MAX_FRAMES_SHOWN
    reporters = sum(r.reporters for r in known)
    weight = sum(r.report_weight for r in known)
    signals = [(k, v) for k, v in item.evidence.items() if k != "rules"]
    return {
        **case_summary(engine, item, rooms), "status": item.status, "violating": item.violating,
        "reviewer": item.reviewer, "note": item.note, "decided_at": when(item.decided_at),
        "created": when(item.created), "signals": signals, "reports": reporters,
        "report_weight": round(weight, 2), "room_list": room_list[:MAX_ROOMS_SHOWN],
        "clock": when(engine.clock.now()), "depth": engine.review.depth,
    }


def history_view(engine: Engine, limit: int = 200) -> list[dict]:
    """Decisions, newest first; the latest one of each case can be undone."""
    latest: dict[str, int] = {}
    for k, d in enumerate(engine.review.history):
        latest[d.item] = k
    out = []
    for k in range(len(engine.review.history) - 1, max(-1, len(engine.review.history) - 1 - limit), -1):
        d = engine.review.history[k]
        out.append({"item": d.item, "ts": when(d.ts), "reviewer": d.reviewer, "violating": d.violating,
                    "note": d.note, "rooms": len(d.rooms), "undone_at": when(d.undone_at), "undone_by": d.undone_by,
                    "undoable": d.undone_at is None and latest[d.item] == k and view.undoable(engine, d.item)})
    return out


def frame_png(engine: Engine, sid: str, scale: int = 2) -> bytes:
    """The latest kept frame of a room as PNG."""
    from PIL import Image

    f = view.last_frame(engine, sid)
    if f is None:
        raise KeyError(sid)
    from floodwall.content.frames import frame_rgb

    px = frame_rgb(f)  # raw pixels or a decoded image; a hash-only frame has nothing to show
    if px is None:
        raise KeyError(sid)
    img = Image.fromarray(px).resize((px.shape[1] * scale, px.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def router(hub: Hub, guard=None) -> APIRouter:
    """The console's pages and JSON views, bound to one hub (``guard``: a dependency every route needs)."""
    r = APIRouter(prefix="/review", tags=["review console"], dependencies=[Depends(guard)] if guard else [])

    def page(name: str, request: Request, **ctx) -> HTMLResponse:
        engine = hub.engine
        base = {"hub_name": hub.name, "clock": when(engine.clock.now()), "depth": engine.review.depth,
                "reviewer": request.cookies.get("reviewer", "console"),
                "csrf": getattr(request.state, "csrf", "")}  # signed in: every form carries the session's token
        html = _templates.get_template(name).render({**base, **ctx})
        return HTMLResponse(html)

    def reviewer_of(name: str, request: Request | None = None) -> str:
        key = getattr(request.state, "key", None) if request is not None else None
        if key is not None:  # signed in: decisions carry the key's name, not what the form says
            return f"{key.name[:100]} ({key.id})"  # as service.principals.principal names it
        name = name.strip()[:64]
        if not name:
            raise HTTPException(422, "reviewer: give your name (decisions are recorded with who made them)")
        return name

    def audit(request: Request, action: str, item_id: str, detail: dict) -> None:
        # Behind the service's keys, console decisions go into the same audit chain as the API's.
        key, keys = getattr(request.state, "key", None), getattr(request.app.state, "keys", None)
        if key is not None and keys is not None:
            keys.audit(key.id, action, item_id, detail)

    @r.get("", response_class=HTMLResponse, summary="The ranked queue of open cases")
    def queue_page(request: Request) -> HTMLResponse:
        with hub.lock:
            return page("queue.html", request, **queue_view(hub.engine))

    @r.get("/api/queue", summary="The ranked queue as JSON")
    def queue_json() -> dict:
        with hub.lock:
            return queue_view(hub.engine)

    @r.get("/case/{item_id}", response_class=HTMLResponse, summary="One case: evidence, frames, rooms")
    def case_page(item_id: str, request: Request) -> HTMLResponse:
        with hub.lock:
            try:
                view = case_view(hub.engine, item_id)
            except KeyError:
                raise HTTPException(404, f"no case {item_id!r}") from None
            return page("case.html", request, case=view)

    @r.get("/api/case/{item_id}", summary="One case as JSON")
    def case_json(item_id: str) -> dict:
        with hub.lock:
            try:
                return case_view(hub.engine, item_id)
            except KeyError:
                raise HTTPException(404, f"no case {item_id!r}") from None

    def from_here(request: Request) -> None:
        # Also without keys (`replay --serve` on localhost): a page on another site must not decide.
        if not same_origin(request):
            raise HTTPException(403, "a decision posted from another origin is refused")

    @r.post("/case/{item_id}/decide", summary="Decide a case: it acts on every room it covers",
            dependencies=[Depends(from_here)])
    def decide(request: Request, item_id: str, violating: str = Form(...), reviewer: str = Form("console"),
               note: str = Form("")) -> RedirectResponse:
        if violating not in ("0", "1"):
            raise HTTPException(422, "violating: '1' (take down) or '0' (not violating)")
        who = reviewer_of(reviewer, request)
        with hub.lock:
            item = hub.engine.review.items.get(item_id)
            if item is None:
                raise HTTPException(404, f"no case {item_id!r}")
            if item.status == "decided":
                raise HTTPException(409, f"case {item_id} is already decided; undo it first")
            now = hub.engine.clock.now()
        ev = ReviewDecided(id=f"rd-{uuid.uuid4().hex}", ts=now, item=item_id, reviewer=who,
                           violating=violating == "1", note=note[:500])
        hub.submit([ev])
        audit(request, "review.decide", item_id, {"violating": ev.violating, "note": ev.note, "event": ev.id,
                                                  "via": "console"})
        resp = RedirectResponse(f"/review/case/{item_id}", status_code=303)
        resp.set_cookie("reviewer", who, samesite="strict")
        return resp

    @r.post("/case/{item_id}/undo", summary="Undo a case's decision: restore what it removed, reopen it",
            dependencies=[Depends(from_here)])
    def undo(request: Request, item_id: str, reviewer: str = Form("console"), note: str = Form("")) -> RedirectResponse:
        who = reviewer_of(reviewer, request)
        with hub.lock:
            if not view.undoable(hub.engine, item_id):
                raise HTTPException(409, f"case {item_id} has no decision to undo")
            now = hub.engine.clock.now()
        ev = ReviewReversed(id=f"rr-{uuid.uuid4().hex}", ts=now, item=item_id, reviewer=who, note=note[:500])
        hub.submit([ev])
        audit(request, "review.undo", item_id, {"note": ev.note, "event": ev.id, "via": "console"})
        return RedirectResponse(f"/review/case/{item_id}", status_code=303)

    @r.get("/history", response_class=HTMLResponse, summary="Every decision, with undo")
    def history_page(request: Request) -> HTMLResponse:
        with hub.lock:
            return page("history.html", request, decisions=history_view(hub.engine))

    @r.get("/frame/{sid}.png", summary="A room's latest frame")
    def frame(sid: str) -> Response:
        with hub.lock:
            try:
                return Response(frame_png(hub.engine, sid), media_type="image/png",
                                headers={"Cache-Control": "max-age=5"})
            except KeyError:
                raise HTTPException(404, f"no frame kept for room {sid!r}") from None

    return r
