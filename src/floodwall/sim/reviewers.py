"""Simulated human reviewers: they work through the engine's real review queue.

Capacity, decision time and accuracy come from the scenario. A reviewer looks at the rooms an item
covers (here: asks the truth, then errs with the declared rate) and sends a ReviewDecided event back.
"""

from __future__ import annotations

import heapq

import numpy as np

from floodwall.events import ReviewDecided
from floodwall.engine.queue import ReviewQueue
from floodwall.sim.scenario import Reviewers


class ReviewerPool:
    """A team of reviewers taking items from a queue as they become free."""

    def __init__(self, spec: Reviewers, count: int, queue: ReviewQueue, is_attack, is_live, seed: int) -> None:
        self.spec = spec
        self.queue = queue
        self.is_attack = is_attack
        self.is_live = is_live
        self.rng = np.random.default_rng([seed, 23])
        self.free_at = [0.0] * max(0, count)  # 0: only people at the console review
        self.pending: list[tuple[float, int, ReviewDecided]] = []
        self.busy_seconds = 0.0
        self._seq = 0

    def step(self, now: float, until: float) -> list[ReviewDecided]:
        """Decisions that leave reviewers' hands in [now, until)."""
        for r in range(len(self.free_at)):
            while self.free_at[r] < until:
                start = max(self.free_at[r], now)
                item = self.queue.pop()
                if item is None:
                    self.free_at[r] = max(self.free_at[r], until)
                    break
                live = [s for s in item.streams if self.is_live(s)]
                took = self.spec.seconds_per_item if live else self.spec.skip_seconds
                took *= float(self.rng.uniform(0.5, 1.5))
                done = start + took
                self.free_at[r] = done
                self.busy_seconds += took
                rooms = live or sorted(item.streams)
                bad = sum(self.is_attack(s) for s in rooms) * 2 > len(rooms)
                correct = self.rng.random() < self.spec.accuracy
                self._seq += 1
                ev = ReviewDecided(id=f"rd{self._seq}", ts=done, item=item.id, reviewer=f"reviewer-{r}",
                                   violating=bool(bad if correct else not bad))
                heapq.heappush(self.pending, (done, self._seq, ev))
        out = []
        while self.pending and self.pending[0][0] < until:
            out.append(heapq.heappop(self.pending)[2])
        return out
