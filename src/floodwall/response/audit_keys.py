"""Where the audit chain's secrets live: the MAC key and the checkpoint file, both outside the database.

The key comes from ``FLOODWALL_AUDIT_KEY`` (hex, at least 32 bytes) or ``FLOODWALL_AUDIT_KEY_FILE``;
else from a key file next to an SQLite database (``<db>.audit-key``, created 0600 with 32 random
bytes), or for another database in ``FLOODWALL_AUDIT_DIR`` (default ``~/.floodwall``). The
checkpoints go to ``FLOODWALL_AUDIT_CHECKPOINTS`` or beside the key (``...audit-checkpoints``), one
JSON line per append, each MACed so that a forged line is refused. An in-memory database gets a
per-process key and in-memory checkpoints: there is nothing to protect after the process ends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path

import sqlalchemy as sa

_memory_key = secrets.token_bytes(32)
_memory_checkpoints: dict[str, list[str]] = {}
_lock = threading.Lock()


def _base(db: sa.Engine) -> Path | None:
    """The path the key and checkpoint files are named after (None: an in-memory database)."""
    url = db.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or "mode=memory" in str(url):
            return None
        return Path(url.database).resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{url.host or 'local'}-{url.port or ''}-{url.database or 'db'}")
    return Path(os.environ.get("FLOODWALL_AUDIT_DIR", Path.home() / ".floodwall")).resolve() / f"floodwall-{name}"


def audit_key(db: sa.Engine) -> bytes:
    """The audit MAC key for a database (from the environment, else its key file, made on first use)."""
    env = os.environ.get("FLOODWALL_AUDIT_KEY")
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            raise ValueError("FLOODWALL_AUDIT_KEY must be hex (64 hex digits or more)") from None
        if len(key) < 32:
            raise ValueError("FLOODWALL_AUDIT_KEY must hold at least 32 bytes (64 hex digits)")
        return key
    path_env = os.environ.get("FLOODWALL_AUDIT_KEY_FILE")
    if path_env:
        return _read_key(Path(path_env))
    base = _base(db)
    if base is None:
        return _memory_key
    path = base.with_name(base.name + ".audit-key")
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"audit key file {path} must hold hex") from None
    if len(key) < 32:
        raise ValueError(f"audit key file {path} must hold at least 32 bytes (64 hex digits)")
    return key


def _create_key(path: Path) -> None:
    """Write a new random key, 0600, atomically: processes starting together agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process made it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


class Checkpoints:
    """Append-only checkpoint lines (chain, count, head MAC), each MACed under the audit key."""

    def __init__(self, path: Path | None, key: bytes, ident: str = "") -> None:
        self.path = path
        self.key = key
        self.ident = ident  # an in-memory database's checkpoints are its engine's

    def _mac(self, chain: str, seq: int, head: str, ts: float) -> str:
        body = json.dumps([chain, seq, head, ts], separators=(",", ":")).encode()
        return hmac.new(self.key, b"checkpoint:" + body, hashlib.sha256).hexdigest()

    def write(self, chain: str, seq: int, head: str) -> None:
        """Record that ``chain`` holds ``seq`` entries ending in ``head``."""
        ts = time.time()
        line = json.dumps({"chain": chain, "seq": seq, "head": head, "ts": ts,
                           "mac": self._mac(chain, seq, head, ts)}, separators=(",", ":")) + "\n"
        with _lock:
            if self.path is None:
                _memory_checkpoints.setdefault(self.ident, []).append(line)
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode())  # one write of one line: appends from several processes interleave whole
                os.fsync(fd)
            finally:
                os.close(fd)

    def lines(self) -> list[str]:
        """Every checkpoint line written."""
        if self.path is None:
            return list(_memory_checkpoints.get(self.ident, []))
        try:
            return self.path.read_text().splitlines()
        except FileNotFoundError:
            return []

    def latest(self) -> tuple[dict[str, tuple[int, str]], list[tuple[str, int, str]]]:
        """The highest valid checkpoint per chain, and the lines whose MAC fails (chain, seq, why)."""
        best: dict[str, tuple[int, str]] = {}
        bad: list[tuple[str, int, str]] = []
        for n, line in enumerate(self.lines(), 1):
            try:
                cp = json.loads(line)
                chain, seq, head, ts, tag = cp["chain"], int(cp["seq"]), cp["head"], cp["ts"], cp["mac"]
            except (ValueError, KeyError, TypeError):
                bad.append(("?", 0, f"checkpoint line {n} is not a checkpoint"))
                continue
            if not hmac.compare_digest(str(tag), self._mac(chain, seq, head, ts)):
                bad.append((chain, seq, f"checkpoint line {n} does not verify (forged or edited)"))
                continue
            if seq > best.get(chain, (0, ""))[0]:
                best[chain] = (seq, head)
        return best, bad


def checkpoints_for(db: sa.Engine, key: bytes) -> Checkpoints:
    """The checkpoint file of a database (in memory for an in-memory database)."""
    env = os.environ.get("FLOODWALL_AUDIT_CHECKPOINTS")
    if env:
        return Checkpoints(Path(env), key)
    base = _base(db)
    if base is None:
        return Checkpoints(None, key, ident=str(id(db)))
    return Checkpoints(base.with_name(base.name + ".audit-checkpoints"), key)
