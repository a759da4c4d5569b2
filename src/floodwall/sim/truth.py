"""Ground truth: which accounts and streams are the attack. Only the scorer reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Truth:
    """The truth stream of a replay, kept apart from the events the engine sees."""

    attack_accounts: set[str] = field(default_factory=set)
    hijacked_accounts: set[str] = field(default_factory=set)
    attack_principals: set[str] = field(default_factory=set)  # stolen internal keys the attack used
    attack_streams: dict[str, Any] = field(default_factory=dict)  # stream id -> SimStream
    legit_streams: dict[str, Any] = field(default_factory=dict)

    def is_attack_stream(self, stream: str) -> bool:
        """True if the stream is part of the attack."""
        return stream in self.attack_streams
