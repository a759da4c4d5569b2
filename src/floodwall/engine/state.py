"""The engine's lasting state: accounts, streams, and the indexes over them (a batch's own is in batch.py)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from floodwall.engine.signals import WindowCounter


@dataclass(slots=True)
class Account:
    """What the engine knows of one account."""

    id: str
    created: float | None = None  # None: never registered in what we saw (treated as aged)
    phone: str = ""
    phone_virtual: bool = False
    block: str = ""
    devices: set[str] = field(default_factory=set)
    nets: set[str] = field(default_factory=set)
    device: str = ""  # latest
    net: str = ""  # latest
    has_avatar: bool = False
    title: str = ""
    new_device_login: float | None = None
    credential_change: float | None = None
    golive_after_hijack: bool = False
    restricted_api_new: bool = False
    last_seen: float | None = None  # latest login, go-live or API call for it (event time)
    last_golive: float | None = None
    golive_new_place: float | None = None  # a go-live from a never-seen device and network, no login from it
    dormant_days: float = 0.0  # days without activity before the latest go-live (0: unknown or none)
    renamed: float | None = None  # the display title changed from one non-empty title to another
    clean_streams: int = 0
    takedowns: int = 0
    frozen: bool = False
    frozen_at: float | None = None  # when a rule froze it (an undone ring confirmation thaws what it froze)
    notified: bool = False
    live: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Stream:
    """What the engine knows of one live stream."""

    id: str
    account: str
    started: float
    title: str = ""
    ended: float | None = None
    enforced: bool = False
    taken_down: bool = False
    limited: bool = False
    sample_every: float = 10.0
    frames: int = 0
    scores: deque = field(default_factory=lambda: deque(maxlen=3))
    classifier_model: str = ""
    bank_match: bool = False
    bank: str = ""
    bank_distance: int = 256
    allow_match: bool = False
    hashes: deque = field(default_factory=lambda: deque(maxlen=24))  # recent good-quality hashes
    chat_hits: deque = field(default_factory=deque)
    chat_max: float = 0.0
    title_diversion: float = 0.0
    reporters: set[str] = field(default_factory=set)
    report_weight: float = 0.0
    fresh_report_weight: float = 0.0  # the part of it from accounts younger than a week (capped)
    spread_reporters: int = 0  # its reporters who also reported other rooms within the hour (a storm's)
    viewers: int = 0
    case: str | None = None
    reviewed_benign: bool = False
    last_frame: object = None  # the latest FrameSampled: a reviewer's evidence (kept while a case may need it)
    restored_at: float | None = None  # a takedown of this room was undone
    restores: int = 0  # how many times
    gate_skipped: bool = False  # known only from its frames: its go-live never came through the gate
    last_eval_key: tuple | None = None  # the rules that fired last time (None: never evaluated)

    @property
    def live(self) -> bool:
        """Still broadcasting."""
        return self.ended is None

    def recent_hashes(self) -> np.ndarray:
        """The stream's recent good-quality frame hashes, (n, 4) uint64."""
        if not self.hashes:
            return np.zeros((0, 4), dtype=np.uint64)
        return np.stack(list(self.hashes))


@dataclass(slots=True)
class Indexes:
    """Who shares what (device, network, number block) and the sliding counts over them."""

    device_accounts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    net_accounts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    net_fresh: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # fresh accounts' registration times, sorted
    block_accounts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    device_regs: WindowCounter = field(default_factory=lambda: WindowCounter(3600))
    block_regs: WindowCounter = field(default_factory=lambda: WindowCounter(3600))
    net_regs: WindowCounter = field(default_factory=lambda: WindowCounter(600))
    net_golives: WindowCounter = field(default_factory=lambda: WindowCounter(600))
    api_seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # principal -> endpoint|scope used
    api_first: dict[str, float] = field(default_factory=dict)  # principal|endpoint|scope -> first use after a history
    principal_accounts: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))  # principal -> account -> last call
    acted_by: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # account -> principals acting for it
    report_counts: WindowCounter = field(default_factory=lambda: WindowCounter(600))  # reports per reporter
    reporter_rooms: dict[str, list[list]] = field(default_factory=lambda: defaultdict(list))  # reporter -> [room, ts, weight]
