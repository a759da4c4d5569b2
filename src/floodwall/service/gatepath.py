"""The go-live gate's hot path: ``POST /v1/gate`` with a known key answered without FastAPI's routing.

At 500 gate calls a second, route matching, dependency solving and the request object were a fifth
of the API's time on this path under cProfile; without them the API's CPU per gate call fell by about
a tenth (bench/RESULTS-service.md), and each call's CPU is the queue the next one waits in.

This middleware answers the common case itself: a key verified lately (a dict lookup) that holds the
gate scope and is within its rate, with a body that decodes to a ``stream_started``. Everything else
(no key, an unknown key, a session cookie, a bad body, a key over its rate) goes to the route
untouched, which answers it as before: failures are counted once and errors read the same. The
decision and its body come from the function the route calls too (``gate_answer_body``).
"""

from __future__ import annotations

from types import SimpleNamespace

import msgspec
from starlette.datastructures import Headers

from floodwall.events import EventError, StreamStarted, decode_event
from floodwall.service.auth import ApiError, presented_key
from floodwall.service.limits import replay_messages

GATE_PATH = "/v1/gate"
_ROUTE = SimpleNamespace(path=GATE_PATH)


async def gate_answer_body(backend, ev: StreamStarted, metrics) -> bytes:
    """The gate's reply body for a decoded stream_started (ApiError if the backend cannot answer)."""
    metrics.events_in.labels("accepted").inc()
    # Encoded here: FastAPI's generic encoder costs more than the decision on this path.
    return msgspec.json.encode(await backend.gate(ev))


class GatePath:
    """ASGI middleware: the gate's common case answered here, the rest passed to the app's route."""

    def __init__(self, app, state) -> None:
        self.app = app
        self.state = state  # the app's state: backend, keys, buckets, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != GATE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        ev, message = await self._event(scope, receive)
        if ev is None:
            await self.app(scope, replay_messages([message], receive) if message is not None else receive, send)
            return
        scope["route"] = _ROUTE  # request counts carry the route's path, as the route's own answers do
        try:
            body = await gate_answer_body(self.state.backend, ev, self.state.metrics)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _event(self, scope, receive) -> tuple[StreamStarted | None, dict | None]:
        """The decoded event when this path may answer (a cached key in scope and rate, a stream_started
        body); else None, with the body message read so far (None if none was read)."""
        presented = presented_key(Headers(scope=scope))
        if presented is None:
            return None, None
        key = self.state.keys.cached(presented)
        if key is None or not key.allows("gate"):
            return None, None
        message = await receive()
        if message["type"] != "http.request" or message.get("more_body", False):
            return None, message  # EdgeLimits hands over one whole body; anything else is the route's
        try:
            ev = decode_event(message.get("body", b""))
        except EventError:
            return None, message
        if type(ev) is not StreamStarted or self.state.buckets.take(key) > 0:
            return None, message  # the route answers (and counts a key over its rate as limited)
        return ev, message
