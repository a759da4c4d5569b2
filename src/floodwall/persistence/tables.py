"""Every table Floodwall stores, on one SQLAlchemy ``MetaData``: the schema the migrations build.

Grouped by who writes them: the engine's results, the service's logs and mirrors, API keys and
console sessions, the audit chain, the owner-message outbox, and HMA's bank records. Names, columns,
types and indexes are those the tables had before they were gathered here, so existing databases
match (``migrations/versions/0001_initial.py`` adopts them).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# ---- the engine's results (adapters/store.py) -------------------------------------------------------

verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("shadow", sa.Boolean, nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("shadow_rules", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),  # idempotency key: one action once
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("target", sa.String(128), nullable=False, index=True),
    sa.Column("verdict", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),  # the event id: a report redelivered is stored once
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("stream", sa.String(128), nullable=False, index=True),
    sa.Column("reporter", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("weight", sa.Float, nullable=False),  # what it counted for (0: duplicate or rate-limited)
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("field", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=True),
    sa.Column("raw", sa.Text, nullable=False),
)

# ---- the NATS service: committed log offsets, the case mirror, the coordinator, banks -----------------

log_batches = sa.Table(
    "log_batches",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # JetStream stream sequence of the message
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("verdicts", sa.Integer, nullable=False),
    sa.Column("incident_level", sa.Integer, nullable=False),
    sa.Column("published", sa.Float, nullable=True),
    sa.Column("committed", sa.Float, nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # p<partition>:<item>, unique within a run
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("priority", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("streams", sa.Integer, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("violating", sa.Boolean, nullable=True),
    sa.Column("reviewer", sa.String(128), nullable=False),
)

coord_batches = sa.Table(
    "coord_batches",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # JetStream stream sequence of the sketch
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("sketch", sa.BigInteger, nullable=False),  # the worker's log sequence the sketch came from
    sa.Column("sent", sa.Integer, nullable=False),  # events published to partitions for it
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("committed", sa.Float, nullable=False),
)

banks = sa.Table(
    "banks",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

bank_entries = sa.Table(
    "bank_entries",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("bank", sa.String(64), primary_key=True),
    sa.Column("hash", sa.String(64), primary_key=True),  # PDQ hex
    sa.Column("source", sa.String(128), nullable=False, index=True),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
)

# ---- the embedded service's journal (service/journal.py) ----------------------------------------------

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(8), nullable=False),  # "event": to process; "done": applied already
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # msgpack list of events
    sa.Column("ts", sa.Float, nullable=False),
)

journal_marks = sa.Table(
    "journal_marks",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("processed", sa.BigInteger, nullable=False),  # every "event" row up to here is processed
    sa.Column("boots", sa.Integer, nullable=False),  # how many times this run started (prefixes new ids)
)

journal_snapshots = sa.Table(  # the engine's state at a journal position; rows up to it are cut
    "journal_snapshots",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),  # the processed mark it was taken at
    sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),  # the bytes in parts of 16 MiB
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),  # HMAC-SHA-256 of the whole snapshot (every part's row)
    sa.Column("ts", sa.Float, nullable=False),
)

gate_answers = sa.Table(
    "gate_answers",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),  # the gate event's id (events.Id bounds it)
    sa.Column("answer", sa.LargeBinary, nullable=False),  # the JSON the first call answered
    sa.Column("ts", sa.Float, nullable=True),  # when it was stored: a cut drops answers past GATE_ANSWERS_KEEP
    sa.Index("ix_gate_answers_ts", "run", "ts"),
)

# ---- API keys and console sessions (adapters/keys.py, service/sessions.py) -----------------------------

auth_failures = sa.Table(  # failed key attempts, shared by every API process of a store (service/attempts.py)
    "auth_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("who", sa.String(160), nullable=False, index=True),  # "addr:<ip>" or "key:<key id>"
    sa.Column("ts", sa.Float, nullable=False),  # wall-clock seconds
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    # hmac-sha256$PEPPER-FINGERPRINT$HEX (older: hmac-sha256$HEX, argon2id); never the secret
    sa.Column("hash", sa.String(256), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("rate", sa.Float, nullable=False),  # sustained requests per second (token bucket refill)
    sa.Column("burst", sa.Float, nullable=False),  # bucket size
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("revoked", sa.Float, nullable=True),
    sa.Column("created_by", sa.String(32), nullable=True),  # the key id that created it (None: the CLI)
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 hex of the cookie's session id
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("ended", sa.Float, nullable=True),  # signed out
)

# ---- the tamper-evident audit log (response/audit.py) ---------------------------------------------------

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

# ---- owner notifications (response/outbox.py) -----------------------------------------------------------

outbox = sa.Table(
    "notify_outbox",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),  # idempotency key: one message per notify order
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),  # when the notify order was issued
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | sending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False),
)

# ---- what HMA's API keeps on top of the banks (service/hma_store.py) -----------------------------------

hma_banks = sa.Table(
    "hma_banks",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("enabled_ratio", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

hma_content = sa.Table(
    "hma_content",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("bank", sa.String(64), nullable=False, index=True),
    sa.Column("pdq", sa.String(64), nullable=False),
    sa.Column("disable_until_ts", sa.BigInteger, nullable=False, default=0),
    sa.Column("original_media_uri", sa.String(2048), nullable=True),
    sa.Column("meta", sa.JSON, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    sqlite_autoincrement=True,  # ids never reused: a lookup index keyed on them stays right
)

# Derived views (crops, rotations) of photos added with robust=true: extra PDQ entries of one content.
hma_views = sa.Table(
    "hma_views",
    metadata,
    sa.Column("content_id", sa.Integer, primary_key=True),
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("view", sa.String(48), nullable=False),
)
