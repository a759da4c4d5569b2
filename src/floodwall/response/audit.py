"""A tamper-evident audit log: each entry carries the SHA-256 of the previous entry's canonical form.

Entries live in the store (SQLAlchemy Core, table `audit_log`, one chain per `chain` name). Changing,
removing or reordering any entry breaks the chain at that entry, and :func:`verify_chain` names it.
Only the newest entry can be rewritten undetected by someone who also rewrites its hash; publishing the
head hash (`AuditLog.head`) elsewhere closes that gap, and `verify` checks it when given.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass

import sqlalchemy as sa

GENESIS = "0" * 64
metadata = sa.MetaData()

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("chain", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(160), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # canonical JSON
    sa.Column("prev", sa.String(64), nullable=False),  # SHA-256 of the previous entry's canonical form
    sa.Column("hash", sa.String(64), nullable=False),  # SHA-256 of this entry's canonical form
)


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash covers: every field but its own hash, as sorted, compact JSON."""
    body = {k: entry[k] for k in ("chain", "seq", "ts", "actor", "action", "subject", "payload", "prev")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(entry: dict) -> str:
    """SHA-256 (hex) of an entry's canonical form."""
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first entry where a chain stops verifying, and why."""

    chain: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"chain {self.chain!r}: entry {self.seq} is broken: {self.reason}"


class AuditLog:
    """Appends hash-chained entries to one chain in the store."""

    def __init__(self, engine: sa.Engine | str, chain: str = "default") -> None:
        self.db = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.chain = chain
        metadata.create_all(self.db)
        self._lock = threading.Lock()

    def append(self, ts: float, actor: str, action: str, subject: str, payload: dict) -> dict:
        """Add one entry linked to the last; returns it (with its hash)."""
        with self._lock, self.db.begin() as conn:
            last = conn.execute(
                sa.select(audit_log).where(audit_log.c.chain == self.chain).order_by(audit_log.c.seq.desc()).limit(1)
            ).first()
            entry = {
                "chain": self.chain, "seq": (last.seq + 1) if last else 1, "ts": float(ts), "actor": actor,
                "action": action, "subject": subject,
                "payload": json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                # The link covers the previous entry as stored, recomputed, not its claimed hash.
                "prev": digest(dict(last._mapping)) if last else GENESIS,
            }
            entry["hash"] = digest(entry)
            # (chain, seq) is the primary key: two writers racing for one seq cannot fork the chain.
            conn.execute(audit_log.insert(), entry)
        return entry

    def entries(self) -> list[dict]:
        """This chain's entries, oldest first."""
        return read_chain(self.db, self.chain)

    def head(self) -> str:
        """The newest entry's hash (publish it to pin the end of the chain)."""
        rows = self.entries()
        return rows[-1]["hash"] if rows else GENESIS


def read_chain(db: sa.Engine, chain: str) -> list[dict]:
    """Every entry of a chain, by seq."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.chain == chain).order_by(audit_log.c.seq))
        return [dict(r._mapping) for r in rows]


def chains(db: sa.Engine) -> list[str]:
    """Names of the chains in a store."""
    metadata.create_all(db)
    with db.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(audit_log.c.chain).distinct().order_by(audit_log.c.chain))]


def verify_entries(entries: list[dict], chain: str = "default", head: str | None = None) -> Break | None:
    """The first broken entry of a chain (None if it verifies)."""
    prev_digest = GENESIS
    expected_seq = 1
    for e in entries:
        if e["seq"] != expected_seq:
            return Break(chain, expected_seq, f"missing: the next entry found is {e['seq']}")
        d = digest(e)
        if e["hash"] != d:
            return Break(chain, e["seq"], "its content does not match its hash (changed after it was written)")
        if e["prev"] != prev_digest:
            return Break(chain, e["seq"], f"its link does not match entry {e['seq'] - 1} as stored "
                                          f"(entry {e['seq'] - 1} or this link was changed)")
        prev_digest = d
        expected_seq += 1
    if head is not None and prev_digest != head:
        return Break(chain, expected_seq - 1, "the chain's newest entry does not match the published head")
    return None


def verify_store(db: sa.Engine | str, chain: str | None = None, head: str | None = None) -> tuple[int, list[Break]]:
    """Verify every chain (or one) in a store: (entries checked, first break of each broken chain)."""
    db = sa.create_engine(db) if isinstance(db, str) else db
    names = [chain] if chain else chains(db)
    checked, breaks = 0, []
    for name in names:
        rows = read_chain(db, name)
        checked += len(rows)
        b = verify_entries(rows, name, head)
        if b is not None:
            breaks.append(b)
    return checked, breaks
