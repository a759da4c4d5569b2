"""Console sign-in sessions: the browser holds a random session id, the server the rest (which key, the
CSRF token, expiry); and the checks every state-changing browser request passes (same origin, CSRF token).

The session id is stored as its SHA-256 only, so a copy of the table signs no one in; the API key itself
never reaches the browser after the sign-in form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import Request

from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import console_sessions

SESSION_COOKIE = "fw_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})



@dataclass(frozen=True)
class Session:
    """A live console session: whose key, and the token its forms carry."""

    key_id: str
    csrf: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Creates, looks up and ends console sessions in the store."""

    TTL = 12 * 3600.0  # seconds a sign-in lasts

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        ensure(engine)

    def create(self, key_id: str) -> tuple[str, Session]:
        """A new session for a verified key; returns (the cookie's session id, the session)."""
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
        with self.engine.begin() as conn:
            conn.execute(console_sessions.insert().values(id_hash=_hash(sid), key_id=key_id, csrf=csrf, created=now,
                                                          expires=now + self.TTL, ended=None))
        return sid, Session(key_id, csrf)

    def get(self, session_id: str) -> Session | None:
        """The live session a cookie names, or None (unknown, expired or signed out)."""
        if not session_id or len(session_id) > 128:
            return None
        t = console_sessions
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id_hash == _hash(session_id))).first()
        if row is None or row.ended is not None or row.expires < time.time():
            return None
        return Session(row.key_id, row.csrf)

    def end(self, session_id: str) -> bool:
        """Sign out: the session id stops working at once."""
        t = console_sessions
        with self.engine.begin() as conn:
            n = conn.execute(t.update().where(t.c.id_hash == _hash(session_id), t.c.ended.is_(None))
                             .values(ended=time.time())).rowcount
        return bool(n)

    def end_for_key(self, key_id: str) -> int:
        """End every session of a key (when it is revoked)."""
        t = console_sessions
        with self.engine.begin() as conn:
            return conn.execute(t.update().where(t.c.key_id == key_id, t.c.ended.is_(None))
                                .values(ended=time.time())).rowcount


def same_origin(request: Request) -> bool:
    """False if the request says it comes from another origin (Origin, else Referer, against Host).

    Browsers send Origin on every cross-origin POST (``null`` from sandboxed or privacy-stripped contexts,
    refused too); a request with neither header is not from a browser page, so it cannot be a forged one.
    """
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == host and bool(host)
    referer = request.headers.get("referer")
    if referer is not None:
        return urlsplit(referer).netloc == host and bool(host)
    return True


async def csrf_ok(request: Request, session: Session) -> bool:
    """True if the request carries the session's CSRF token (header, or the form's hidden field)."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        token = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the route
    return isinstance(token, str) and hmac.compare_digest(token.encode(), session.csrf.encode())


def cookie_secure(request: Request) -> bool:
    """Mark the cookie Secure when the page was served over https (directly or via a trusted proxy)."""
    return request.url.scheme == "https"
