"""Frames drawn ahead in a second process (sim/render/ahead.py): the same pixels, none missing, nothing left behind."""

from __future__ import annotations

import os

import numpy as np

from floodwall.sim.render import CLIP, EVENT, GAMER, Look, Renderer
from floodwall.sim.render.ahead import RenderAhead, frame_key


def _keys(rng: np.random.Generator, n: int) -> list:
    looks = [None, Look(crop=(0.1, 0.05, 0.0, 0.0)), Look(mirror=True, jpeg=60), Look(hue=20.0, noise=2.0)]
    return [frame_key(int(rng.choice([CLIP, EVENT, GAMER])), int(rng.integers(0, 50)), float(rng.uniform(0, 900)),
                      looks[int(rng.integers(0, len(looks)))]) for _ in range(n)]


def _drawn_here(keys: list) -> np.ndarray:
    kinds, seeds, ts, looks = zip(*keys)
    return Renderer(64).render(np.array(kinds), np.array(seeds), np.array(ts), list(looks))


def test_frames_drawn_ahead_equal_frames_drawn_here_tick_after_tick(monkeypatch) -> None:
    from floodwall.sim.render import ahead as ahead_mod

    made: list[str] = []
    grow = ahead_mod._Slot.grow

    def noting(slot, need, folder):
        got = grow(slot, need, folder)
        if got is not None:
            made.append(got[0])
        return got

    monkeypatch.setattr(ahead_mod._Slot, "grow", noting)
    rng = np.random.default_rng(4)
    ahead = RenderAhead(64)
    try:
        ticks = {t: _keys(rng, int(rng.integers(1, 40))) for t in range(6)}
        ticks[5] = _keys(rng, 600)  # larger than the file its reused slot holds: a new, larger one
        ahead.submit(0.0, ticks[0])
        ahead.submit(1.0, ticks[1])
        for t in range(6):
            asked = ticks[t] + _keys(rng, 3)  # three frames nobody drew ahead
            got = ahead.take(float(t), asked)
            assert [g is None for g in got] == [False] * len(ticks[t]) + [True] * 3
            if ticks[t]:
                assert np.array_equal(np.stack(got[:len(ticks[t])]), _drawn_here(ticks[t]))
            if t + 2 < 6:
                ahead.submit(float(t + 2), ticks[t + 2])
        assert ahead.drawn == ahead.used == sum(len(k) for k in ticks.values())
        assert ahead.failed is None
        # Each shared file's name goes once both processes have it mapped: a killed replay leaves none.
        assert len(made) > len(ahead._slots)  # every slot's file, and a larger one for the big tick
        assert all(s.path is None and s.buf is not None for s in ahead._slots)
        assert not any(os.path.exists(f) for f in made)
    finally:
        ahead.close()
    assert not ahead._proc.is_alive()


def test_a_dead_drawing_process_leaves_the_platform_to_draw_every_frame() -> None:
    rng = np.random.default_rng(5)
    ahead = RenderAhead(64)
    try:
        keys = _keys(rng, 10)
        ahead.submit(0.0, keys)
        ahead._proc.kill()
        ahead._proc.join(5)
        here = _drawn_here(keys)
        for g, px in zip(ahead.take(0.0, keys), here):  # drawn before the kill, or not at all: never wrong
            assert g is None or np.array_equal(g, px)
        ahead.submit(1.0, _keys(rng, 5))
        assert ahead.failed is not None
        assert ahead.take(1.0, _keys(rng, 5)) == [None] * 5
    finally:
        ahead.close()
    assert all(s.path is None for s in ahead._slots)


def test_every_scheduled_frame_is_asked_for_once_late_or_on_time() -> None:
    """FramePlan, used as the replay does (after tick k: the late frames from k + 1, then tick k + 2): a frame
    scheduled before a call, for a time from that call's next tick on, comes back from exactly one call."""
    from floodwall.sim.render.ahead import FramePlan

    rng = np.random.default_rng(6)
    plan, returned, expected = FramePlan(), [], set()
    for k in range(200):
        for j in range(int(rng.integers(0, 6))):
            t = float(k + 1 + rng.uniform(0, 5) * rng.integers(0, 2))  # some for the very next tick
            plan.add(t, f"r{k}-{j}", 0)
            expected.add((t, f"r{k}-{j}", 0))
        late, todo = plan.due(float(k + 2), 1.0, float(k + 1))
        assert all(k + 1 <= x[0] < k + 2 for x in late) and all(k + 2 <= x[0] < k + 3 for x in todo)
        returned += late + todo
    assert len(returned) == len(set(returned))  # never twice
    assert set(returned) == {x for x in expected if x[0] < 202}  # none lost within the ticks asked for


def test_the_warmer_makes_each_rooms_next_shot_and_drawing_stays_the_same() -> None:
    from floodwall.sim.render.ahead import _Warmer

    rng = np.random.default_rng(9)
    kinds = rng.choice([CLIP, EVENT, GAMER], 30).astype(np.int64)
    seeds = rng.integers(0, 1000, 30).astype(np.int64)
    step = rng.choice([1.0, 5.0, 30.0], 30)  # each room's sampling interval
    t0 = rng.uniform(0, 600, 30)
    renderer = Renderer(64)
    warmer = _Warmer(renderer)
    for k in range(2):  # two frames of every room: the interval is known from them
        renderer.render(kinds, seeds, t0 + k * step)
        warmer.saw(kinds, seeds, t0 + k * step)
    while warmer.step():
        pass
    nxt = t0 + 2 * step
    shot, _ = renderer.shots(kinds, seeds, nxt)
    wanted = set(zip(kinds.tolist(), seeds.tolist(), shot.tolist()))
    assert wanted <= set(renderer._cache)  # the shot each room shows at its next frame is made
    assert warmer.made > 0  # some rooms cut to a new shot by then
    misses = renderer.misses
    drawn = renderer.render(kinds, seeds, nxt)
    assert renderer.misses == misses  # every next frame found its base image made
    assert np.array_equal(drawn, Renderer(64).render(kinds, seeds, nxt))  # and is the same as drawn cold


def test_a_plan_asked_in_half_seconds_returns_each_frame_once_in_its_tick() -> None:
    """Ticks that end inside a second leave that second's later frames for the next call."""
    from floodwall.sim.render.ahead import FramePlan

    rng = np.random.default_rng(8)
    plan = FramePlan()
    frames = {(float(t), f"r{i}", 0) for i, t in enumerate(rng.uniform(1, 60, 300).round(3))}
    for x in frames:
        plan.add(*x)
    got = []
    for k in range(2, 120):
        t = k / 2
        late, todo = plan.due(t, 0.5, t - 0.5)
        assert not late and all(t <= x[0] < t + 0.5 for x in todo)
        got += todo
    assert sorted(got) == sorted(x for x in frames if x[0] >= 1.0)
