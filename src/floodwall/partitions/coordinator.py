"""The coordinator: what only a global view can see when the log is partitioned by account.

Each partition's worker hashes its own frames and sends a compact :class:`~floodwall.events.Sketch`
of every batch (frame hashes, device, network and number-block keys, confirmations, the surge
counts). :meth:`Coordinator.handle` folds one sketch into a global view and returns, for each
partition, the events that tell it what it cannot see alone:

- content clusters that span partitions (``ClusterNoticed``: live rooms, accounts, risky and
  trusted shares, confirmed), with the same :class:`ContentClusters` an engine runs;
- rings whose members live in several partitions (``RingNoticed``), with the same
  :class:`RingDetector`;
- counts of shared devices, networks and number blocks (``KeysNoticed``);
- fresh accounts of other partitions, whose reports weigh little (``AccountsNoticed``);
- bank entries of content another partition confirmed, and their withdrawal (``BankChanged``);
- the incident level, judged on every partition's counts (``LevelNoticed``).

No I/O: the process around it (``floodwall coordinator``) reads sketches from JetStream and
publishes the events into the partitions' logs. Its state is a function of the sketches in the
order it read them, so a restarted coordinator rebuilds it by reading them again.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque

import msgspec
import numpy as np

from floodwall.coordination.clusters import ContentClusters
from floodwall.coordination.partition import WEEK, unpack_hashes
from floodwall.coordination.rings import RingDetector
from floodwall.events import (
    AccountsNoticed,
    BankChanged,
    ClusterNoticed,
    KeyCount,
    KeysNoticed,
    LevelNoticed,
    RingNoticed,
    Sketch,
)
from floodwall.response.levels import LevelTracker
from floodwall.response.playbook import load_playbook, playbook_for, without_effects
from floodwall.response.surge import SurgeDetector

DAY = 86_400.0
RISKY = 3.0  # gate risk at which an account counts as risky in a cluster's share (as the engine)
KEEP_TIMES = 50  # registration and go-live times sent per key: the rules look at counts of a few
SMALL = 10  # a key with this many accounts or fewer is told at once: rules turn on counts of 3 and 5
NOTICE_EVERY = 1.0  # seconds (coordinator time) between notices of busy keys, fresh accounts and ring sizes


class _Key:
    """Accounts on one shared key, the partitions they live in, recent registrations and go-lives."""

    __slots__ = ("accounts", "golives", "parts", "regs")

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.parts: set[int] = set()
        self.regs: deque[float] = deque()
        self.golives: deque[float] = deque()


class Coordinator:
    """Global clusters, rings, shared keys and incident level over every partition's sketches."""

    def __init__(self, partitions: int, *, policy: str = "floodwall", start: float = 0.0,
                 clusters: bool = True, rings: bool = True) -> None:
        """``policy`` names the playbook whose surge settings judge the level."""
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.partitions = partitions
        self.clusters = ContentClusters() if clusters else None
        self.rings = RingDetector(track_moves=True) if rings else None
        self.playbook = playbook_for(policy) or without_effects(load_playbook("floodwall"))
        self.detector: SurgeDetector | None = None  # made at the first sketch: the baseline starts then
        self.tracker = LevelTracker(self.playbook.hold_s, start)
        self.now = start
        self.owner: dict[str, int] = {}  # account -> partition
        self.rooms: dict[str, tuple[str, int]] = {}  # stream -> (account, partition)
        self.live: set[str] = set()
        self.closed: set[str] = set()
        self.standing: dict[str, tuple[float, bool]] = {}  # account -> (risk, trusted), as its worker said
        self.created: dict[str, float] = {}
        self.keys: dict[tuple[str, str], _Key] = {}
        self.confirmed: dict[str, str] = {}  # cluster root -> the verdict that confirmed it
        self.last_seq: dict[int, int] = {}  # partition -> newest sketch handled (a repeat is skipped)
        self._ring_parts: dict[str, set[int]] = {}
        self._ring_sent: dict[tuple[str, int], tuple[int, bool]] = {}  # (ring, partition) -> (size, confirmed) told
        self._ring_members = 0
        self._last_eval = -1
        # Busy keys (a carrier network, a farm's device) change with nearly every event; what changed is
        # told at most every NOTICE_EVERY seconds, so notices do not outnumber events.
        self._pending_keys: set[tuple[str, str]] = set()
        self._pending_created: dict[str, float] = {}
        self._pending_rings: set[str] = set()
        self._last_flush = start
        self.duplicates = 0  # sketches seen twice (a worker re-sending after a crash), skipped

    # ---- one sketch -------------------------------------------------------------------------

    def handle(self, sk: Sketch) -> dict[int, list]:
        """Fold one sketch in; the events for each partition (ids are a function of the sketch)."""
        if sk.seq <= self.last_seq.get(sk.partition, 0):
            self.duplicates += 1
            return {}
        self.last_seq[sk.partition] = sk.seq
        self.now = max(self.now, sk.ts)
        if self.detector is None:
            self.detector = SurgeDetector(self.playbook.surge, sk.ts)
            self.tracker = LevelTracker(self.playbook.hold_s, sk.ts)
        out: dict[int, list] = defaultdict(list)
        dirty_keys: set[tuple[str, str]] = set()
        fresh: dict[str, float] = {}
        ring_news: set[str] = set()
        self._seen(sk, dirty_keys, fresh, ring_news)
        dirty_clusters = self._frames(sk, ring_news)
        changed_rings = self._judged(sk, out, dirty_clusters)
        for sid in sk.closed:
            self.live.discard(sid)
            self.closed.add(sid)
        self._notice_clusters(dirty_clusters, out)
        self._pending_created.update(fresh)
        flush = self.now - self._last_flush >= NOTICE_EVERY
        if flush:
            self._last_flush = self.now
        self._notice_rings(ring_news, changed_rings, out, flush)
        self._notice_keys(dirty_keys, out, flush)
        if flush and self._pending_created:
            owners = self.owner
            for q in range(self.partitions):
                theirs = {a: t for a, t in self._pending_created.items() if owners.get(a) != q}
                if theirs:
                    out[q].append(AccountsNoticed(id="-", ts=self.now, created=theirs))
            self._pending_created = {}
        self._level(sk, len(dirty_clusters & set(self.confirmed)), out)
        return self._stamp(sk, out)

    def _seen(self, sk: Sketch, dirty_keys: set, fresh: dict, ring_news: set) -> None:
        p = sk.partition
        for a in sk.seen:
            self.owner[a.account] = p
            keys = [("device", a.device), ("net", a.net)]
            if a.block:
                keys.append(("block", a.block))
            for kk in keys:
                k = self.keys.get(kk)
                if k is None:
                    k = self.keys[kk] = _Key()
                k.accounts.add(a.account)
                k.parts.add(p)
                if a.kind == "registered" and a.live:
                    k.regs.append(a.ts)
                    while k.regs[0] <= a.ts - 3600:  # only the last hour is ever told
                        k.regs.popleft()
                if a.kind == "golive" and kk[0] == "net":
                    k.golives.append(a.ts)
                    while k.golives[0] <= a.ts - 600:  # only the last ten minutes
                        k.golives.popleft()
                if len(k.parts) > 1:
                    dirty_keys.add(kk)
            if a.kind == "registered":
                if a.created is not None:
                    self.created[a.account] = a.created
                    if sk.ts - a.created < WEEK:
                        fresh[a.account] = a.created
                if a.live and self.rings is not None:
                    ring_news |= self.rings.on_registration(a.account, a.block, a.ts)
                    ring_news |= self.rings.on_device(a.account, a.device, a.ts)
            elif a.kind == "login" and a.live and not a.trusted and self.rings is not None:
                ring_news |= self.rings.on_device(a.account, a.device, a.ts)

    def _frames(self, sk: Sketch, ring_news: set) -> set[str]:
        """Cluster the sketch's frames with every partition's; the roots that changed."""
        if not sk.frames or self.clusters is None:
            return set()
        streams: list[str] = []
        hashes, mirrored = [], []
        for rf in sk.frames:
            self.rooms[rf.stream] = (rf.account, sk.partition)
            self.owner.setdefault(rf.account, sk.partition)
            if rf.stream not in self.closed:
                self.live.add(rf.stream)
            self.standing[rf.account] = (rf.risk, rf.trusted)
            h = unpack_hashes(rf.hashes)
            streams += [rf.stream] * len(h)
            hashes.append(h)
            mirrored.append(unpack_hashes(rf.mirrored))
        changed = self.clusters.observe(streams, np.concatenate(hashes), np.concatenate(mirrored), self.now)
        # A confirmed cluster that merged into another passes its confirmation on (its root may change).
        for root, source in list(self.confirmed.items()):
            now_root = self.clusters.root(root)
            if now_root != root:
                del self.confirmed[root]
                self.confirmed.setdefault(now_root, source)
                changed.add(now_root)
        if self.rings is not None:
            for root in sorted(changed):
                untrusted = [self.rooms[r][0] for r in sorted(self.clusters.members.get(root, ()))
                             if r in self.live and not self.standing.get(self.rooms[r][0], (0.0, False))[1]]
                untrusted = list(dict.fromkeys(untrusted))
                for a, b in itertools.pairwise(untrusted):
                    ring_news |= self.rings.on_content(a, b, self.now)
        return changed

    def _judged(self, sk: Sketch, out: dict[int, list], dirty_clusters: set[str]) -> set[str]:
        """Confirmations and withdrawals: bank entries for the others, clusters and rings marked; rings changed."""
        others = [q for q in range(self.partitions) if q != sk.partition]
        changed_rings: set[str] = set()
        for c in sk.confirmed:
            if c.hashes:
                for q in others:
                    out[q].append(BankChanged(id="-", ts=self.now, bank=c.bank, op="add", hashes=c.hashes,
                                              source=c.source, kind="block" if c.violating else "allow"))
            if not c.violating:
                continue
            if self.clusters is not None:
                root = self.clusters.root(c.stream)
                if root not in self.confirmed:
                    self.confirmed[root] = c.source
                    dirty_clusters.add(root)
            if self.rings is not None:
                ring = self.rings.ring_of(c.account)
                if ring is not None and not ring.confirmed:
                    self.rings.confirm(c.account, c.source)
                    changed_rings.add(ring.id)
        for source in sk.withdrawn:
            for q in others:
                for bank in ("reviewed", "honest"):
                    out[q].append(BankChanged(id="-", ts=self.now, bank=bank, op="remove_source", source=source,
                                              kind="allow" if bank == "honest" else "block"))
            for root in [r for r, s in self.confirmed.items() if s == source]:
                del self.confirmed[root]
                dirty_clusters.add(root)
            if self.rings is not None:
                for ring in self.rings.rings.values():
                    if ring.confirmed and ring.confirmed_by == source:
                        ring.confirmed, ring.confirmed_by = False, ""
                        changed_rings.add(ring.id)
        return changed_rings

    # ---- what to tell whom ---------------------------------------------------------------------

    def _notice_clusters(self, roots: set[str], out: dict[int, list]) -> None:
        for root in sorted(roots):
            members = self.clusters.members.get(root, {root}) if self.clusters is not None else {root}
            parts = {self.rooms[r][1] for r in members if r in self.rooms}
            if len(parts) < 2:
                continue  # one partition sees the whole cluster itself
            live = sorted(r for r in members if r in self.live)
            accounts = {self.rooms[r][0] for r in live}
            risky = sum(1 for a in accounts if self.standing.get(a, (0.0, False))[0] >= RISKY)
            trusted = sum(1 for a in accounts if self.standing.get(a, (0.0, False))[1])
            by_part: dict[int, list[str]] = defaultdict(list)
            for r in live:
                by_part[self.rooms[r][1]].append(r)
            n = max(1, len(accounts))
            for q, streams in sorted(by_part.items()):
                out[q].append(ClusterNoticed(id="-", ts=self.now, cluster=root, streams=streams, rooms=len(live),
                                             accounts=len(accounts), risky_share=risky / n, trusted_share=trusted / n,
                                             confirmed=root in self.confirmed))

    def _notice_rings(self, news: set[str], changed: set[str], out: dict[int, list], flush: bool) -> None:
        if self.rings is None:
            return
        news = news | self.rings.take_moved()
        fresh: dict[str, set[str]] = defaultdict(set)
        for a in news:
            ring = self.rings.ring_of(a)
            if ring is not None:
                fresh[ring.id].add(a)
        todo = set(fresh) | changed
        if flush:
            todo |= self._pending_rings
            self._pending_rings = set()
        for rid in sorted(todo):
            ring = self.rings.rings.get(rid)
            if ring is None:
                continue
            anchor = next(iter(fresh[rid])) if fresh.get(rid) else next(iter(ring.members), None)
            if anchor is None:
                continue
            members = self.rings.component(anchor)  # complete, where ring.members may lag a merge
            parts = self._ring_parts.get(rid)
            if parts is None:  # not yet known to span partitions
                spread = {self.owner[a] for a in members if a in self.owner}
                if len(spread) < 2:
                    continue
                parts = self._ring_parts[rid] = spread
                send = members  # first notice: every member
            else:
                send = fresh.get(rid, set())
                parts |= {self.owner[a] for a in send if a in self.owner}
            size = len(members)
            state = (size, ring.confirmed)
            by_part: dict[int, list[str]] = defaultdict(list)
            for a in sorted(send):
                if a in self.owner:
                    by_part[self.owner[a]].append(a)
            for q in sorted(parts):
                last = self._ring_sent.get((rid, q))
                # New members and a change of confirmation are told at once; a grown size alone can wait.
                urgent = last is None or last[1] != ring.confirmed
                if by_part.get(q) or (last != state and (urgent or flush)):
                    out[q].append(RingNoticed(id="-", ts=self.now, ring=rid, accounts=by_part.get(q, []), size=size,
                                              confirmed=ring.confirmed, evidence=dict(ring.evidence)))
                    self._ring_sent[(rid, q)] = state
                elif last != state:
                    self._pending_rings.add(rid)

    def _notice_keys(self, dirty: set[tuple[str, str]], out: dict[int, list], flush: bool) -> None:
        per_part: dict[int, list[KeyCount]] = defaultdict(list)
        now = self.now
        todo = {kk for kk in dirty if len(self.keys[kk].accounts) <= SMALL}
        self._pending_keys |= dirty - todo
        if flush:
            todo |= self._pending_keys
            self._pending_keys = set()
        for kk in sorted(todo):
            k = self.keys[kk]
            while k.regs and k.regs[0] <= now - 3600:
                k.regs.popleft()
            while k.golives and k.golives[0] <= now - 600:
                k.golives.popleft()
            fresh = 0
            if kk[0] == "net" and len(k.accounts) <= 2000:  # as the engine: carrier NATs' fresh share is noise
                created = self.created
                fresh = sum(1 for a in k.accounts if a in created and now - created[a] < DAY)
            kc = KeyCount(kk[0], kk[1], len(k.accounts), fresh,  # type: ignore[arg-type]
                          list(k.regs)[-KEEP_TIMES:], list(k.golives)[-KEEP_TIMES:])
            for q in k.parts:
                per_part[q].append(kc)
        for q, kcs in sorted(per_part.items()):
            out[q].append(KeysNoticed(id="-", ts=now, keys=kcs))

    def _level(self, sk: Sketch, newly_confirmed: int, out: dict[int, list]) -> None:
        if sk.counts:
            counts = dict(sk.counts)
            # Cluster and ring growth are counted here, once, not by each partition on its own share.
            counts["cluster_growth"] = newly_confirmed
            members = sum(len(r.members) for r in self.rings.rings.values()) if self.rings is not None else 0
            counts["ring_growth"] = max(0, members - self._ring_members)
            self._ring_members = members
            self.detector.add(self.now, counts, learning=self.tracker.level == 0)
        if int(self.now) == self._last_eval:
            return
        self._last_eval = int(self.now)
        target, why, evidence = self.detector.target(self.now)
        change = self.tracker.observe(self.now, target, why, evidence)
        if change is not None:
            for q in range(self.partitions):
                out[q].append(LevelNoticed(id="-", ts=self.now, level=change.level, why=change.why,
                                           evidence=change.evidence))

    def _stamp(self, sk: Sketch, out: dict[int, list]) -> dict[int, list]:
        """Give every event an id that is a function of the sketch (a re-sent one is dropped by id)."""
        return {q: [msgspec.structs.replace(ev, id=f"co.{sk.partition}.{sk.seq}.{q}.{i}") for i, ev in enumerate(events)]
                for q, events in sorted(out.items())}

    @property
    def level(self) -> int:
        """The incident level in force."""
        return self.tracker.level
