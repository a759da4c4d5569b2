"""Union-find over string keys, with per-set payloads merged on union."""

from __future__ import annotations


class UnionFind:
    """Disjoint sets of keys; the root names the set."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.size: dict[str, int] = {}

    def find(self, x: str) -> str:
        """The root of x's set (x joins as a singleton if new)."""
        parent = self.parent
        if x not in parent:
            parent[x] = x
            self.size[x] = 1
            return x
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> tuple[str, str | None]:
        """Join the sets of a and b; returns (new root, absorbed root or None if already one)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra, None
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size.pop(rb)
        return ra, rb
