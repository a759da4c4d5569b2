"""The HTTP edge: a cap on request bodies (413) and on JSON nesting (400), before any route reads them.

A body is read here in full (every route reads its body whole anyway), counted as it arrives, so a client
that streams without Content-Length is stopped at the cap too; the route then reads the buffered copy.
"""

from __future__ import annotations

import json

import numpy as np

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # bytes
DEFAULT_MAX_DEPTH = 64  # nested JSON arrays and objects

_KEEP = b'"[]{}'
_DELETE = bytes(b for b in range(256) if b not in _KEEP)


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, at C speed (strings are skipped).

    Exact for valid JSON; for invalid JSON it is exact up to the first syntax error, which is as far as any
    parser goes, so a parser never nests deeper than this says.
    """
    return _depth(_structure(body))


def depth_over(body: bytes, cap: int) -> int | None:
    """The JSON text's nesting depth when it is over ``cap``, else None (most texts: one pass over the bytes)."""
    text = _structure(body)
    if text.count(b"[") + text.count(b"{") <= cap:  # brackets in strings counted too: an upper bound
        return None
    depth = _depth(text)
    return depth if depth > cap else None


def _structure(body: bytes) -> bytes:
    """Only the quotes and brackets of a JSON text, escaped quotes dropped (a few bytes an event)."""
    # Escaped backslashes and quotes first (left to right, as JSON reads them), then one pass keeping the rest.
    if b"\\" in body:  # most bodies have no escapes (base64 has none): skip two passes over megabytes
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return body.translate(None, _DELETE)


def _depth(text: bytes) -> int:
    outside = b"".join(text.split(b'"')[::2])  # brackets inside strings are characters, not structure
    if not outside:
        return 0
    arr = np.frombuffer(outside, dtype=np.uint8)
    steps = np.where((arr == ord("[")) | (arr == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


class EdgeLimits:
    """ASGI middleware: 413 for a body over ``max_body`` bytes, 400 for JSON nested over ``max_depth``.

    Paths in ``own_depth`` skip the nesting scan: their routes decode with msgspec, which stops at the
    interpreter's recursion limit with a RecursionError (answered 400 ``too_deep`` by the app) and never
    nests deeper on its own. The events route is one: its bodies are megabytes of frames, and the scan
    was a seventh of its time.
    """

    def __init__(self, app, max_body: int = DEFAULT_MAX_BODY, max_depth: int = DEFAULT_MAX_DEPTH,
                 own_depth: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth
        self.own_depth = own_depth

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _refuse(send, 413, "body_too_large",
                          f"the body is {int(declared)} bytes; at most {self.max_body} (--max-body)")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                chunks = []
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await _refuse(send, 413, "body_too_large", f"the body exceeds {self.max_body} bytes (--max-body)")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        if message["type"] != "http.request":
            await self.app(scope, replay_messages([message], receive), send)
            return
        if scope.get("path") not in self.own_depth:  # scanned whole; an unscanned route joins the chunks itself
            body = b"".join(chunks)
            chunks = [body]
            if body[:64].lstrip()[:1] in (b"[", b"{"):
                depth = depth_over(body, self.max_depth)
                if depth is not None:
                    await _refuse(send, 400, "too_deep", f"the JSON body nests {depth} deep; at most {self.max_depth}")
                    return
        last = len(chunks) - 1
        await self.app(scope, replay_messages([_request(c, i < last) for i, c in enumerate(chunks)], receive), send)


def _request(body: bytes, more: bool) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


async def whole_body(request) -> bytes:
    """A request's body with at most one copy (Starlette's ``body()`` copies a one-piece body too, to add the
    empty piece its stream ends with: 2 ms of a 2 MB ingest request's CPU)."""
    parts = [chunk async for chunk in request.stream() if chunk]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def replay_messages(messages: list[dict], receive):
    """A receive that answers ``messages`` in order, then whatever the server sends (a disconnect)."""
    left = iter(messages)

    async def again() -> dict:
        nxt = next(left, None)
        return nxt if nxt is not None else await receive()

    return again


async def _refuse(send, status: int, type_: str, message: str) -> None:
    body = json.dumps({"error": {"type": type_, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
