"""Who may call what: API-key scopes and rate limits as FastAPI dependencies, and typed API errors.

Any router mounted into the app (reviewer console, status page) can guard a route with
``Depends(require_scope("review"))``; the key is verified against ``app.state.keys``.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse

from floodwall.adapters.keys import ApiKey


class ApiError(Exception):
    """An error with a status, a machine-readable type, a message and optional details."""

    def __init__(self, status: int, type_: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}

    def response(self) -> JSONResponse:
        """The JSON body clients see: {"error": {"type", "message", ...details}}."""
        return JSONResponse({"error": {"type": self.type, "message": self.message, **self.details}},
                            status_code=self.status, headers=self.headers)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer ...`` or ``X-API-Key`` (the pages use a session cookie instead)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


async def session_key(request: Request) -> ApiKey | None:
    """The key behind the console's session cookie; a state-changing request must also come from our own
    origin and carry the session's CSRF token (403 otherwise). None if there is no cookie."""
    from floodwall.service.sessions import SAFE_METHODS, SESSION_COOKIE, csrf_ok, same_origin

    sid = request.cookies.get(SESSION_COOKIE)
    sessions = getattr(request.app.state, "sessions", None)
    if not sid or sessions is None:
        return None
    session = await anyio.to_thread.run_sync(sessions.get, sid)
    key = await anyio.to_thread.run_sync(request.app.state.keys.by_id, session.key_id) if session else None
    if key is None:
        raise ApiError(401, "session_ended", "the session expired, was signed out, or its key was revoked; sign in")
    if request.method not in SAFE_METHODS:
        if not same_origin(request):
            raise ApiError(403, "cross_origin", "a state-changing request from another origin is refused")
        if not await csrf_ok(request, session):
            raise ApiError(403, "csrf", "the form's CSRF token is missing or wrong; reload the page")
    request.state.csrf = session.csrf
    return key


async def verify_limited(request: Request, presented: str) -> ApiKey:
    """Verify a presented key unless its client address or key id failed too often lately (429); a failure
    counts against both (401)."""
    from floodwall.service.attempts import key_id_of

    attempts = request.app.state.attempts
    address, kid = request.client.host if request.client else None, key_id_of(presented)
    wait = await anyio.to_thread.run_sync(attempts.wait, address, kid)  # may read the store
    if wait > 0:
        err = ApiError(429, "too_many_failures", "too many failed key attempts from this address or for this "
                                                 "key id; wait", retry_after=round(wait, 1))
        err.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
        raise err
    key = await anyio.to_thread.run_sync(request.app.state.keys.verify, presented)
    if key is None:
        await anyio.to_thread.run_sync(attempts.fail, address, kid)
        raise ApiError(401, "invalid_key", "the API key is unknown, wrong or revoked")
    return key


def require_scope(scope: str):
    """A dependency that admits a valid, unrevoked, not rate-limited key holding ``scope``."""

    async def dependency(request: Request) -> ApiKey:
        presented = presented_key(request.headers)
        keys = request.app.state.keys
        if presented is not None:
            # A key verified lately is a dict lookup; anything else is checked against the failure limits first.
            key = keys.cached(presented)
            if key is None:
                key = await verify_limited(request, presented)
        else:
            key = await session_key(request)
            if key is None:
                raise ApiError(401, "unauthenticated", "an API key is required (Authorization: Bearer fw_...)")
        if not key.allows(scope):
            raise ApiError(403, "forbidden", f"this key lacks the {scope!r} scope", has=sorted(key.scopes))
        wait = request.app.state.buckets.take(key)
        if wait > 0:
            request.app.state.metrics.rate_limited.inc()
            err = ApiError(429, "rate_limited", f"rate limit of {key.rate:g}/s (burst {key.burst:g}) exceeded",
                           retry_after=round(wait, 3))
            err.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
            raise err
        request.state.key = key
        return key

    return dependency
