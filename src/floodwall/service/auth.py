"""Who may call what: API-key scopes and rate limits as FastAPI dependencies, and typed API errors.

Any router mounted into the app (reviewer console, status page) can guard a route with
``Depends(require_scope("review"))``; the key is verified against ``app.state.keys``.
"""

from __future__ import annotations

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


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer ...``, ``X-API-Key``, or the pages' sign-in cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    # The pages (reviewer console) sign in once and keep the key in a same-site, HTTP-only cookie.
    return request.headers.get("x-api-key") or request.cookies.get("fw_key") or None


def require_scope(scope: str):
    """A dependency that admits a valid, unrevoked, not rate-limited key holding ``scope``."""

    async def dependency(request: Request) -> ApiKey:
        presented = presented_key(request)
        if presented is None:
            raise ApiError(401, "unauthenticated", "an API key is required (Authorization: Bearer fw_...)")
        keys = request.app.state.keys
        # verify() is a dict lookup once cached; the first use of a key runs argon2 (slow) off the loop.
        key = keys.cached(presented) or await anyio.to_thread.run_sync(keys.verify, presented)
        if key is None:
            raise ApiError(401, "invalid_key", "the API key is unknown, wrong or revoked")
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
