"""A restart of the embedded service: rebuild the engine from its journal, then go on where it stopped.

Gate answers the gate log holds and the journal lacks (service/gatelog.py) are journaled first; the
newest engine snapshot, if the journal was cut (service/compaction.py), is loaded next. Everything
journaled after it and processed before (and every gate call and bank edit, applied when they came)
is replayed muted: the engine's state (accounts, streams, cases, banks, the ids it has seen) comes
back, and nothing is sent or stored twice. What was accepted and not processed is queued for
the loop, which processes it as new. The operator's level pin comes back from the ops audit chain.
"""

from __future__ import annotations

import json
import logging

from floodwall.service.compaction import load as load_snapshot
from floodwall.service.journal import Journal

log = logging.getLogger("floodwall.recovery")

REPLAY_CHUNK = 5000  # events per muted batch: big enough to be quick, small enough to bound memory


def recover(journal: Journal, loop, *, audit=None, gatelog=None, snapshot_key: bytes | None = None) -> dict:
    """Load the newest engine snapshot, replay the journal after it into ``loop``'s engine (muted), queue
    the unprocessed rest; what it did."""
    journal.open()
    from_gatelog = gatelog.restore(journal) if gatelog is not None else 0  # answers given, not yet journaled
    engine = loop.hub.engine
    snapshot_seq = load_snapshot(journal, engine, snapshot_key) if snapshot_key is not None else 0
    # New ids every boot: a restarted engine counts verdicts from 1 again, and ids must stay unique.
    engine.verdict_prefix = f"{engine.verdict_prefix.split('.b')[0]}.b{journal.boot}"
    store, enforcer, responder = engine.store, engine.enforcer, engine.responder
    replayed, todo, chunk = 0, [], []
    _mute(store, enforcer, True)
    engine.responder = None  # its effects (owner messages, audit entries, holds) were made the first time
    try:
        for seq, kind, events in journal.rows():
            if kind == "done" or seq <= journal.processed:
                chunk.extend(events)
                if len(chunk) >= REPLAY_CHUNK:
                    replayed += _replay(loop, chunk)
                    chunk = []
            else:
                todo.append((seq, events))
        if chunk:
            replayed += _replay(loop, chunk)
    finally:
        _mute(store, enforcer, False)
        engine.responder = responder
    pending = 0
    for seq, events in todo:
        loop.deliver(seq, events)
        pending += len(events)
    pinned = restore_pin(engine, audit) if audit is not None else None
    out = {"boot": journal.boot, "snapshot": snapshot_seq, "replayed": replayed, "pending": pending,
           "pinned": pinned, "from_gatelog": from_gatelog}
    log.info("recovered from the journal", extra=out)
    return out


def _mute(store, enforcer, on: bool) -> None:
    for port in (store, enforcer):
        if hasattr(port, "muted"):
            port.muted = on


def _replay(loop, events: list) -> int:
    loop.handle_isolated(events, keep_dead=False)  # dead letters were kept the first time
    return len(events)


def restore_pin(engine, audit) -> int | None:
    """Put back the operator's level pin, if the last level entry of the ops chain set one."""
    from floodwall.response.levels import level_number

    responder = engine.responder
    if responder is None:
        return None
    last = None
    for e in audit.entries():
        if e["action"] in ("level_set", "level_released"):
            last = e
    if last is None or last["action"] != "level_set":
        return None
    payload = json.loads(last["payload"])
    level = level_number(payload["level"])
    responder.tracker.set_by_operator(last["ts"], level, last["actor"], payload.get("reason", ""))
    engine.incident_level = level
    return level
