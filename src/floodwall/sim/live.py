"""A replay in progress that people can watch and act on: paced on the wall clock, engine behind a Hub.

`floodwall replay SCENARIO --serve` runs one of these in a background thread and serves the reviewer
console (and the status page) over its Hub, so that a person sees the attack unfold and decides cases
while the simulated platform carries the decisions out.
"""

from __future__ import annotations

import threading
import time

from floodwall.engine.engine import Engine
from floodwall.engine.policy import Policy
from floodwall.service.hub import Hub
from floodwall.sim.scenario import Scenario


class LiveReplay:
    """One policy's replay on a thread, ``speed`` simulated seconds per wall second (0: as fast as it can)."""

    def __init__(self, scenario: Scenario, policy: Policy, *, seed: int = 1, scale: float = 0.02,
                 speed: float = 10.0, reviewer_count: int | None = None) -> None:
        self.scenario, self.policy = scenario, policy
        self.seed, self.scale = seed, scale
        self.speed = speed
        self.reviewer_count = reviewer_count
        self.hub: Hub | None = None
        self.platform = None
        self.paused = threading.Event()
        self.stopped = False
        self.report: dict | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="floodwall-replay", daemon=True)

    # ---- control --------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> Hub:
        """Start the replay; returns the Hub once the engine exists (the plan can take a while to build)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the replay did not start within {timeout:g} s")
        if self.error is not None:
            raise RuntimeError("the replay failed to start") from self.error
        assert self.hub is not None
        return self.hub

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the replay to stop after its current tick, and wait for it."""
        self.stopped = True
        self.paused.clear()
        self._thread.join(timeout)

    @property
    def done(self) -> bool:
        """The replay has finished (or failed)."""
        return self._ready.is_set() and not self._thread.is_alive()

    # ---- the replay's side ----------------------------------------------------------------

    def _run(self) -> None:
        from floodwall.sim.replay import run_policy

        try:
            self.report = run_policy(self.scenario, self.policy, seed=self.seed, scale=self.scale,
                                     progress=False, live=self, reviewer_count=self.reviewer_count)
        except BaseException as exc:  # noqa: BLE001 - reported to whoever waits on start()
            self.error = exc
        finally:
            self._ready.set()

    def attach(self, engine: Engine, platform) -> callable:
        """Called by run_policy once the engine exists: returns its paced batch handler."""
        self.hub = Hub(engine, name=f"{self.scenario.name} / {self.policy.name}")
        self.platform = platform
        self._wall0 = time.monotonic()
        self._sim0: float | None = None
        self._ready.set()
        return self._handle

    def _handle(self, events):
        hub = self.hub
        assert hub is not None
        now = hub.engine.clock.now()
        while self.paused.is_set() and not self.stopped:
            hub.handle([])  # people's decisions still go through while time stands still
            time.sleep(0.1)
            self._sim0 = None  # resume pacing from where we are
        if self._sim0 is None:
            self._sim0, self._wall0 = now, time.monotonic()
        if self.speed > 0:
            ahead = (now - self._sim0) / self.speed - (time.monotonic() - self._wall0)
            if ahead > 0:
                time.sleep(ahead)
        return hub.handle(events)
