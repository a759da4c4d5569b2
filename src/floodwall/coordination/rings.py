"""Account rings: accounts acting in lockstep (shared devices, number-block bursts, shared content).

In the spirit of SynchroTrap and CopyCatch: one kind of shared trait is common among honest
users (families share a device, campuses and carriers share networks), so a ring needs several
accounts linked by at least two kinds of evidence. Trusted accounts are never linked.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

from floodwall.coordination.unionfind import UnionFind


@dataclass
class Ring:
    """A first-class ring: members, the evidence that links them, when it was found."""

    id: str
    found_at: float
    members: set[str] = field(default_factory=set)
    evidence: dict[str, int] = field(default_factory=dict)  # kind -> links of that kind
    confirmed: bool = False
    confirmed_by: str = ""


class RingDetector:
    """Links untrusted accounts by evidence and names the components that qualify as rings."""

    def __init__(self, min_size: int = 5, min_kinds: int = 2, device_min: int = 3,
                 block_min: int = 3, block_window_s: float = 3600.0, track_moves: bool = False) -> None:
        self.min_size = min_size
        self.min_kinds = min_kinds
        self.device_min = device_min
        self.block_min = block_min
        self.block_window = block_window_s
        self.uf = UnionFind()
        self.kinds: dict[str, dict[str, int]] = {}
        self.members: dict[str, set[str]] = {}  # root -> accounts
        self.rings: dict[str, Ring] = {}  # ring id -> ring
        self._ring_of_root: dict[str, str] = {}
        self._device: dict[str, list[str]] = defaultdict(list)
        self._block: dict[str, deque[tuple[float, str]]] = defaultdict(deque)
        self._n = 0
        # With track_moves, accounts whose ring changed because two components merged are collected in
        # `moved` (the coordinator tells their partitions); an engine reads ring_of and needs no list.
        self.track_moves = track_moves
        self.moved: set[str] = set()

    def _link(self, a: str, b: str, kind: str) -> tuple[str, set[str]]:
        """Join a and b; returns the root and the accounts that just joined the bigger side."""
        ra, rb = self.uf.find(a), self.uf.find(b)
        root, absorbed = self.uf.union(a, b)
        kinds = self.kinds.setdefault(root, {})
        added: set[str] = set()
        if absorbed is not None:
            root_side = set(self.members.get(root, {root})) if self.track_moves else set()
            added = self.members.pop(absorbed, {absorbed})
            self.members.setdefault(root, {root}).update(added)
            for k, v in self.kinds.pop(absorbed, {}).items():
                kinds[k] = kinds.get(k, 0) + v
            ring_a, ring_b = self._ring_of_root.pop(ra, None), self._ring_of_root.pop(rb, None)
            keep = ring_a or ring_b
            if ring_a and ring_b and ring_a != ring_b:  # two rings met: the older absorbs the newer
                old, new = sorted([ring_a, ring_b], key=lambda r: self.rings[r].found_at)
                self.rings[old].members |= self.rings[new].members
                self.rings[old].confirmed |= self.rings[new].confirmed
                del self.rings[new]
                keep = old
            if keep:
                self._ring_of_root[root] = keep
                if self.track_moves:
                    ring_root, ring_abs = (ring_a, ring_b) if root == ra else (ring_b, ring_a)
                    if ring_root != keep:
                        self.moved |= root_side
                    if ring_abs != keep:
                        self.moved |= added
        kinds[kind] = kinds.get(kind, 0) + 1
        return root, added

    def _refresh(self, root: str, added: set[str], now: float, changed: set[str]) -> None:
        rid = self._ring_of_root.get(root)
        if rid is None:
            if self.uf.size[root] < self.min_size or len(self.kinds.get(root, {})) < self.min_kinds:
                return
            self._n += 1
            rid = f"ring-{self._n}"
            ring = self.rings[rid] = Ring(id=rid, found_at=now)
            self._ring_of_root[root] = rid
            added = self.members.get(root, {root})
        ring = self.rings[rid]
        ring.evidence = dict(self.kinds.get(root, {}))
        new = added - ring.members
        ring.members |= new
        changed.update(new)

    def on_device(self, account: str, device: str, now: float) -> set[str]:
        """An untrusted account used a device; returns accounts that newly joined a ring."""
        seen = self._device[device]
        if account in seen:
            return set()
        seen.append(account)
        changed: set[str] = set()
        if len(seen) >= self.device_min:
            # past the threshold the others are one set already: one link is enough
            self._link_all(account, seen[:-1] if len(seen) == self.device_min else seen[:1], "device", now, changed)
        return changed

    def _link_all(self, account: str, others, kind: str, now: float, changed: set[str]) -> None:
        added: set[str] = set()
        root = self.uf.find(account)
        for other in others:
            if other != account:
                root, got = self._link(account, other, kind)
                added |= got
        added.add(account)
        self._refresh(root, added, now, changed)

    def on_registration(self, account: str, block: str, now: float) -> set[str]:
        """An untrusted account registered on a number block; link block bursts."""
        q = self._block[block]
        while q and q[0][0] <= now - self.block_window:
            q.popleft()
        q.append((now, account))
        changed: set[str] = set()
        if len(q) == self.block_min:
            self._link_all(account, [o for _, o in q][:-1], "phone_block", now, changed)
        elif len(q) > self.block_min:  # the burst is linked already: joining its oldest member is enough
            self._link_all(account, [q[0][1]], "phone_block", now, changed)
        return changed

    def on_content(self, a: str, b: str, now: float) -> set[str]:
        """Two untrusted accounts showed the same content; link them."""
        if a == b:
            return set()
        changed: set[str] = set()
        self._link_all(a, [b], "content", now, changed)
        return changed

    def take_moved(self) -> set[str]:
        """Accounts whose ring changed by a merge since the last call (with ``track_moves``)."""
        out, self.moved = self.moved, set()
        return out

    def component(self, account: str) -> set[str]:
        """Every account linked to this one (a ring's complete membership)."""
        return self.members.get(self.uf.find(account), {account}) if account in self.uf.parent else {account}

    def ring_of(self, account: str) -> Ring | None:
        """The ring an account belongs to, if any."""
        if account not in self.uf.parent:
            return None
        rid = self._ring_of_root.get(self.uf.find(account))
        return self.rings.get(rid) if rid else None

    def confirm(self, account: str, why: str) -> Ring | None:
        """Mark the account's ring as confirmed bad (one of its members' content was)."""
        ring = self.ring_of(account)
        if ring and not ring.confirmed:
            ring.confirmed = True
            ring.confirmed_by = why
        return ring

    def unconfirm(self, account: str, why: str) -> Ring | None:
        """Withdraw a confirmation made for ``why`` (an undone decision); other confirmations stand."""
        ring = self.ring_of(account)
        if ring and ring.confirmed and ring.confirmed_by == why:
            ring.confirmed = False
            ring.confirmed_by = ""
        return ring
