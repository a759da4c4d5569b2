"""Who decides: the principal a verified key stands for, and the gate that keeps human decisions
(feedback events) out of the firehose unless the caller may review, under its own name."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from floodwall.adapters.keys import ApiKey
from floodwall.events import FEEDBACK_TYPES, Event, ReviewDecided
from floodwall.service.auth import ApiError


def principal(key: ApiKey) -> str:
    """How a key is named in decisions and the audit chain: its name and its id (names need not be unique)."""
    # At most 100 characters of the name: the principal fits the 128-character reviewer columns.
    return f"{key.name[:100]} ({key.id})"


def vet_feedback(events: list[Event], indices: Sequence[int], key: ApiKey) -> list[tuple[str, Event]]:
    """Refuse feedback events from keys without the review scope (403 naming them); for keys with it,
    replace the body's reviewer with the key's principal. Returns (audit action, event) per feedback event;
    ``events`` is updated in place."""
    found = [k for k, ev in enumerate(events) if isinstance(ev, FEEDBACK_TYPES)]
    if not found:
        return []
    if not key.allows("review"):
        raise ApiError(403, "forbidden_feedback",
                       "review decisions and undos are human decisions: this key lacks the 'review' scope; "
                       "decide through POST /v1/cases/{case}/decision with a review key",
                       indices=[indices[k] for k in found], has=sorted(key.scopes))
    who = principal(key)
    out = []
    for k in found:
        # The reviewer is whoever holds the key, never what the body claims.
        events[k] = msgspec.structs.replace(events[k], reviewer=who)
        out.append(("review.decide" if isinstance(events[k], ReviewDecided) else "review.undo", events[k]))
    return out
