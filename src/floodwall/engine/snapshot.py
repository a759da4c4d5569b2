"""The engine's state as bytes, and back: what lets the embedded service cut its journal.

A snapshot holds what the engine learned (accounts, streams, indexes, clusters, rings, cases, banks,
counters, the ids it has seen) and the incident responder's levels and holds, never its ports (policy,
clock, enforcer, store, models, outbox, audit): those come from the process that loads it. The bytes are
a pickle, so they are only ever read after their MAC checks (service/compaction.py signs them with a key
kept outside the database). A snapshot keeps the state as the policy of its time computed it.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import threading
from dataclasses import fields
from typing import TYPE_CHECKING

from floodwall import __version__
from floodwall.engine import decide, state

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

# Attributes that are the process's, not the engine's learning: kept from the engine a snapshot is loaded into.
PORTS = frozenset({"policy", "settings", "clock", "enforcer", "store", "responder", "classifier", "chat", "refs",
                   "verdict_prefix"})
RESPONDER_PORTS = frozenset({"outbox", "audit", "playbook", "follower"})
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class SnapshotError(RuntimeError):
    """A snapshot cannot be loaded (made by another version, or not the engine's)."""


def layout() -> str:
    """What a snapshot's bytes depend on: this version and the fields of the state's slotted classes."""
    parts = [__version__, *(f"{c.__name__}:{','.join(f.name for f in fields(c))}"
                            for c in (state.Account, state.Stream, state.Indexes))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):  # noqa: D102  (locks are the process's: a fresh one on load)
        return "lock" if isinstance(obj, _LOCK_TYPES) else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):  # noqa: D102
        if pid != "lock":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return threading.Lock()


def dumps(engine: Engine) -> bytes:
    """The engine's learned state (and its responder's), as bytes."""
    out = {"layout": layout(), "engine": {k: v for k, v in vars(engine).items() if k not in PORTS}, "responder": None}
    if engine.responder is not None:
        out["responder"] = {k: v for k, v in vars(engine.responder).items() if k not in RESPONDER_PORTS}
    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(out)
    return buf.getvalue()


def loads(engine: Engine, data: bytes) -> None:
    """Put a snapshot's state into an engine built with this process's ports (MAC already checked)."""
    try:
        got = _Unpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001  (whatever a stale pickle raises: name it once)
        raise SnapshotError(f"the engine snapshot does not load in this version: {type(exc).__name__}: {exc}") from None
    if not isinstance(got, dict) or not isinstance(got.get("engine"), dict):
        raise SnapshotError("not an engine snapshot")
    if got.get("layout") != layout():  # another version's classes: their pickles would load half-right
        raise SnapshotError(f"the engine snapshot was made by another version (layout {got.get('layout')}, "
                            f"this one {layout()})")
    vars(engine).update(got["engine"])
    engine.refs = decide.rule_refs(engine.policy)
    if engine.responder is not None and got.get("responder"):
        vars(engine.responder).update(got["responder"])
