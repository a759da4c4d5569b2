"""A tamper-evident audit log: each entry carries an HMAC-SHA-256 of its canonical form, which
includes the previous entry's MAC; checkpoints outside the database pin how long each chain was.

Entries live in the store (SQLAlchemy Core, table `audit_log`, one chain per `chain` name). The MAC key
lives outside the database (audit_keys.py): someone who can rewrite the database but not read the key
cannot recompute the MACs, so changing, removing or reordering any entry breaks the chain at that
entry, and :func:`verify_entries` names it. Deleting the newest entries leaves a shorter chain that
still links; every append also writes a checkpoint (count and head MAC, itself MACed) to a file next
to the database, and verify reports a chain shorter than its last checkpoint as truncated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import audit_log
from floodwall.response.audit_keys import Checkpoints, audit_key, checkpoints_for

GENESIS = "0" * 64


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash covers: every field but its own hash, as sorted, compact JSON."""
    body = {k: entry[k] for k in ("chain", "seq", "ts", "actor", "action", "subject", "payload", "prev")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(entry: dict) -> str:
    """Unkeyed SHA-256 (hex) of an entry's canonical form (what anyone can compute: not what is stored)."""
    return hashlib.sha256(canonical(entry)).hexdigest()


def mac(entry: dict, key: bytes) -> str:
    """HMAC-SHA-256 (hex) of an entry's canonical form under the audit key: what the chain stores."""
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


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

    def __init__(self, engine: sa.Engine | str, chain: str = "default", key: bytes | None = None,
                 checkpoints: Checkpoints | None = None) -> None:
        self.db = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.chain = chain
        self.key = key if key is not None else audit_key(self.db)
        self.checkpoints = checkpoints if checkpoints is not None else checkpoints_for(self.db, self.key)
        ensure(self.db)
        self._lock = threading.Lock()

    def append(self, ts: float, actor: str, action: str, subject: str, payload: dict) -> dict:
        """Add one entry linked to the last; returns it (with its MAC)."""
        with self._lock:
            with self.db.begin() as conn:
                last = conn.execute(
                    sa.select(audit_log).where(audit_log.c.chain == self.chain).order_by(audit_log.c.seq.desc()).limit(1)
                ).first()
                entry = {
                    "chain": self.chain, "seq": (last.seq + 1) if last else 1, "ts": float(ts), "actor": actor,
                    "action": action, "subject": subject,
                    "payload": json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                    # The link covers the previous entry as stored, recomputed, not its claimed MAC.
                    "prev": mac(dict(last._mapping), self.key) if last else GENESIS,
                }
                entry["hash"] = mac(entry, self.key)
                # (chain, seq) is the primary key: two writers racing for one seq cannot fork the chain.
                conn.execute(audit_log.insert(), entry)
            # After the commit: a checkpoint never names an entry that was rolled back. (A crash right here
            # leaves the checkpoint one entry behind: only that entry's removal would go unnoticed.)
            self.checkpoints.write(self.chain, entry["seq"], entry["hash"])
        return entry

    def verify(self) -> Break | None:
        """The first broken entry of this chain, checked against its last checkpoint (None if it verifies)."""
        latest, _bad = self.checkpoints.latest()
        return verify_entries(self.entries(), self.chain, key=self.key, checkpoint=latest.get(self.chain))

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
    ensure(db)
    with db.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(audit_log.c.chain).distinct().order_by(audit_log.c.chain))]


def verify_entries(entries: list[dict], chain: str = "default", head: str | None = None, *,
                   key: bytes, checkpoint: tuple[int, str] | None = None) -> Break | None:
    """The first broken entry of a chain (None if it verifies); ``checkpoint`` (count, head MAC) catches a cut tail."""
    prev_digest = GENESIS
    expected_seq = 1
    for e in entries:
        if e["seq"] != expected_seq:
            return Break(chain, expected_seq, f"missing: the next entry found is {e['seq']}")
        d = mac(e, key)
        if not hmac.compare_digest(e["hash"], d):
            return Break(chain, e["seq"], "its content does not match its hash (changed after it was written)")
        if e["prev"] != prev_digest:
            return Break(chain, e["seq"], f"its link does not match entry {e['seq'] - 1} as stored "
                                          f"(entry {e['seq'] - 1} or this link was changed)")
        prev_digest = d
        expected_seq += 1
    if head is not None and prev_digest != head:
        return Break(chain, expected_seq - 1, "the chain's newest entry does not match the published head")
    if checkpoint is not None:
        count, cp_head = checkpoint
        if len(entries) < count:
            return Break(chain, len(entries) + 1, f"truncated: the checkpoint outside the database counts {count} "
                                                  f"entries, the chain holds {len(entries)}")
        if not hmac.compare_digest(entries[count - 1]["hash"], cp_head):
            return Break(chain, count, "it does not match the checkpoint outside the database")
    return None


def verify_store(db: sa.Engine | str, chain: str | None = None, head: str | None = None, *,
                 key: bytes | None = None, checkpoints: Checkpoints | None = None) -> tuple[int, list[Break]]:
    """Verify every chain (or one) in a store: (entries checked, first break of each broken chain).

    The chains named in the checkpoint file are verified too: a chain deleted whole is a break.
    """
    db = sa.create_engine(db) if isinstance(db, str) else db
    key = key if key is not None else audit_key(db)
    checkpoints = checkpoints if checkpoints is not None else checkpoints_for(db, key)
    latest, bad = checkpoints.latest()
    names = [chain] if chain else sorted(set(chains(db)) | set(latest))
    checked, breaks = 0, [Break(c, s, r) for c, s, r in bad if chain in (None, c)]
    for name in names:
        rows = read_chain(db, name)
        checked += len(rows)
        b = verify_entries(rows, name, head, key=key, checkpoint=latest.get(name))
        if b is not None:
            breaks.append(b)
    return checked, breaks
