"""API keys (HMAC-SHA-256 under a pepper, scoped, rate-limited) and the audit of privileged calls, in the store.

A key is presented as ``fw_<id>_<secret>``; the secret is 256 random bits, shown once, when the key is
created. The store keeps only HMAC-SHA-256(pepper, secret): with a high-entropy secret a fast keyed hash
is as safe as a slow one, and the pepper lives outside the database (FLOODWALL_KEY_PEPPER, or the file
FLOODWALL_KEY_PEPPER_FILE names, else ~/.config/floodwall/key-pepper, mode 0600), so a copy of the
database alone verifies nothing. A hash names its pepper by fingerprint; a key under an earlier pepper
(still accepted while rotating, adapters/pepper.py) or under argon2 from older versions is verified once
and rehashed under the current one. Every privileged call is appended to the "api" chain of the
tamper-evident audit log (``floodwall.response.audit``; `floodwall audit verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from floodwall.adapters.pepper import Peppers, fingerprint, load_peppers
from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import api_keys
from floodwall.response.audit import AuditLog, read_chain, verify_store

SCOPES = ("ingest", "gate", "review", "operate", "admin")
HMAC_PREFIX = "hmac-sha256$"


def load_pepper() -> bytes:
    """The current secret key of the keys' HMAC, from outside the database (adapters/pepper.py)."""
    return load_peppers().current


def _mac(pepper: bytes, secret: str) -> str:
    """HMAC-SHA-256 of a key's secret under one pepper, hex."""
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def _split(stored: str) -> tuple[str | None, str]:
    """A stored HMAC hash's (pepper fingerprint, or None when it names none, and hex)."""
    fp, sep, mac = stored[len(HMAC_PREFIX):].rpartition("$")
    return (fp if sep else None), mac


AUDIT_CHAIN = "api"


@dataclass(frozen=True)
class ApiKey:
    """A verified key: who it is and what it may do."""

    id: str
    name: str
    scopes: frozenset[str]
    rate: float
    burst: float

    def allows(self, scope: str) -> bool:
        """True if the key has this scope (admin has every scope)."""
        return scope in self.scopes or "admin" in self.scopes


class KeyStore:
    """Creates, verifies and revokes API keys; appends to the audit chain."""

    CACHE_TTL = 60.0  # seconds a verified key is trusted without re-reading its row (revocation delay)

    def __init__(self, engine: sa.Engine, pepper: bytes | Peppers | None = None) -> None:
        self.engine = engine
        self._peppers = pepper if isinstance(pepper, Peppers) else Peppers(pepper) if pepper else load_peppers()
        self._pepper = self._peppers.current
        self._fp = fingerprint(self._pepper)
        ensure(engine)  # older stores get api_keys.created_by from migration 0001
        self._ph = PasswordHasher()
        self._cache: dict[bytes, tuple[float, ApiKey]] = {}
        self._verifying: dict[bytes, threading.Lock] = {}  # one verification per presented key at a time
        self._verifying_lock = threading.Lock()
        self._audit = AuditLog(engine, chain=AUDIT_CHAIN)

    def create(self, name: str, scopes: list[str] | tuple[str, ...], *, rate: float = 1000.0,
               burst: float = 2000.0, created_by: str | None = None) -> tuple[str, ApiKey]:
        """Create a key; returns (the secret to show once, the key)."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {list(scopes)}")
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        kid = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(
                id=kid, name=name, hash=self._digest(secret), scopes=sorted(set(scopes)), rate=rate,
                burst=burst, created=time.time(), revoked=None, created_by=created_by))
        return f"fw_{kid}_{secret}", ApiKey(kid, name, frozenset(scopes), rate, burst)

    def _digest(self, secret: str) -> str:
        """The stored form: ``hmac-sha256$<pepper fingerprint>$<hex>``, under the current pepper."""
        return f"{HMAC_PREFIX}{self._fp}${_mac(self._pepper, secret)}"

    def _hmac_matches(self, stored: str, secret: str) -> bool:
        """True if the secret matches a stored HMAC under any pepper still accepted."""
        fp, mac = _split(stored)
        if fp is not None:  # the hash names its pepper
            pepper = self._peppers.by_fingerprint(fp)
            return pepper is not None and hmac.compare_digest(mac, _mac(pepper, secret))
        # Written before hashes named their pepper: try each (one HMAC apiece).
        return any(hmac.compare_digest(mac, _mac(p, secret)) for p in (self._peppers.current, *self._peppers.previous))

    def pepper_of(self, stored: str) -> str:
        """Which pepper a stored hash is under: current, previous, unknown, unnamed (older HMAC) or argon2."""
        if not stored.startswith(HMAC_PREFIX):
            return "argon2"
        fp, _ = _split(stored)
        if fp is None:
            return "unnamed"
        if fp == self._fp:
            return "current"
        return "previous" if self._peppers.by_fingerprint(fp) is not None else "unknown"

    def cached(self, presented: str) -> ApiKey | None:
        """The key if it was verified within CACHE_TTL (no database, no argon2); else None."""
        hit = self._cache.get(hashlib.sha256(presented.encode()).digest())
        if hit is not None and time.monotonic() - hit[0] < self.CACHE_TTL:
            return hit[1]
        return None

    def verify(self, presented: str) -> ApiKey | None:
        """The key a presented secret belongs to, or None if it is unknown, wrong or revoked."""
        # Verify once (a database read), then trust a SHA-256 digest of the presented string for
        # CACHE_TTL seconds. The digest of a wrong secret never enters the cache.
        digest = hashlib.sha256(presented.encode()).digest()
        hit = self._cache.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.CACHE_TTL:
            return hit[1]
        # Requests arriving together with the same key (a client's first burst, or every request in the
        # moment its entry expires) wait for one verification instead of each running argon2.
        with self._verifying_lock:
            lock = self._verifying.setdefault(digest, threading.Lock())
        with lock:
            hit = self._cache.get(digest)
            if hit is not None and time.monotonic() - hit[0] < self.CACHE_TTL:
                return hit[1]
            try:
                return self._verify(presented, digest)
            finally:
                with self._verifying_lock:
                    self._verifying.pop(digest, None)

    def _verify(self, presented: str, digest: bytes) -> ApiKey | None:
        now = time.monotonic()
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "fw" or not parts[1] or not parts[2]:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == parts[1])).first()
        if row is None or row.revoked is not None:
            self._cache.pop(digest, None)
            return None
        if row.hash.startswith(HMAC_PREFIX):
            if not self._hmac_matches(row.hash, parts[2]):
                return None
        else:  # an argon2 hash from an older version: verify it this once, then store the HMAC instead
            try:
                self._ph.verify(row.hash, parts[2])
            except (VerificationError, InvalidHashError):
                return None
        if self.pepper_of(row.hash) != "current":  # rehash under the current pepper, once
            with self.engine.begin() as conn:
                conn.execute(api_keys.update().where(api_keys.c.id == row.id, api_keys.c.hash == row.hash)
                             .values(hash=self._digest(parts[2])))
        key = ApiKey(row.id, row.name, frozenset(row.scopes), row.rate, row.burst)
        if len(self._cache) > 10_000:  # bounded: a flood of distinct valid keys cannot grow it forever
            self._cache.clear()
        self._cache[digest] = (now, key)
        return key

    def lineage(self, key_id: str) -> list[str]:
        """The key and the keys that created it, back to one made by the CLI (nearest first)."""
        with self.engine.connect() as conn:
            parent = dict(conn.execute(sa.select(api_keys.c.id, api_keys.c.created_by)).all())
        out = []
        while key_id and key_id in parent and key_id not in out:  # `not in out`: a cycle cannot hang us
            out.append(key_id)
            key_id = parent[key_id]
        return out

    def related(self, a: str, b: str) -> bool:
        """True if two keys may be one person's: the same key, or one created the other (transitively)."""
        return a == b or a in self.lineage(b) or b in self.lineage(a)

    def by_id(self, key_id: str) -> ApiKey | None:
        """The active key with this id (a console session's), or None if unknown or revoked."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or row.revoked is not None:
            return None
        return ApiKey(row.id, row.name, frozenset(row.scopes), row.rate, row.burst)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key (takes effect within CACHE_TTL seconds everywhere, at once here)."""
        with self.engine.begin() as conn:
            n = conn.execute(api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked.is_(None))
                             .values(revoked=time.time())).rowcount
        self._cache = {d: v for d, v in self._cache.items() if v[1].id != key_id}
        return bool(n)

    def list(self) -> list[dict]:
        """Every key without its hash, with which pepper the hash is under (``pepper``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created))
            return [{**{k: v for k, v in r._mapping.items() if k != "hash"}, "pepper": self.pepper_of(r.hash)}
                    for r in rows]

    def count(self) -> int:
        """How many keys exist (revoked ones included)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(api_keys)).scalar_one()

    # ---- audit ------------------------------------------------------------------------------

    def audit(self, key_id: str, action: str, target: str, detail: dict | None = None) -> None:
        """Append one privileged call to the "api" chain of the tamper-evident audit log."""
        self._audit.append(time.time(), f"key:{key_id}", action, target[:160], detail or {})

    def audit_log(self, limit: int = 100) -> list[dict]:
        """The most recent audit entries of the API, newest first."""
        return read_chain(self.engine, AUDIT_CHAIN)[::-1][:limit]

    def verify_audit(self) -> bool:
        """True if the API's audit chain verifies end to end."""
        _, breaks = verify_store(self.engine, chain=AUDIT_CHAIN)
        return not breaks


class TokenBucket:
    """Per-key rate limit: ``rate`` tokens a second up to ``burst``; one token a request."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: ApiKey, cost: float = 1.0) -> float:
        """0.0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key.id, (key.burst, now))
            tokens = min(key.burst, tokens + (now - last) * key.rate)
            if tokens >= cost:
                self._state[key.id] = (tokens - cost, now)
                return 0.0
            self._state[key.id] = (tokens, now)
            return (cost - tokens) / key.rate
