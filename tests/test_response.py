"""Surge detection and levels: rise fast, fall with hysteresis, every change with why; playbook validation."""

import itertools

import pytest

from floodwall.response.levels import LevelTracker, level_number
from floodwall.response.playbook import PlaybookError, load_playbook, parse_playbook
from floodwall.response.surge import SurgeDetector, SurgeSettings, Trigger

T0 = 1_766_400_000.0
FLOORS = {m: 1.0 for m in ("risky_golives", "takedowns", "reports", "cluster_growth", "ring_growth",
                           "risky_registrations")}


def run_signal(rate_per_min, minutes, hold_s=300.0):
    """Feed the detector a synthetic report rate (per minute, by minute) and the tracker its verdicts."""
    det = SurgeDetector(SurgeSettings(window_s=60, half_life_s=600, warmup_s=120, floors=dict(FLOORS, reports=5.0),
                                      triggers=(Trigger(1, 3.0), Trigger(2, 6.0), Trigger(3, 12.0))), T0)
    tr = LevelTracker(hold_s, T0)
    seen = []
    for s in range(minutes * 60):
        t = T0 + s
        per_s = rate_per_min(s / 60) / 60.0
        det.add(t, {"reports": per_s}, learning=tr.level == 0)
        target, why, ev = det.target(t)
        tr.observe(t, target, why, ev)
        seen.append(tr.level)
    return tr, seen


def surge(m):
    return 5.0 if m < 10 or m >= 20 else 100.0  # 20x baseline from minute 10 to minute 20


def test_levels_rise_fast_and_fall_with_hysteresis():
    tr, seen = run_signal(surge, 60, hold_s=300)
    ups = [c for c in tr.changes if c.level > c.previous]
    # Rise fast: critical (x12) within two minutes of the surge's start, passing through each level.
    assert [c.level for c in ups] == [1, 2, 3]
    assert ups[-1].t - (T0 + 600) <= 120
    # Hysteresis: critical holds 5 min after its trigger clears (the surge stops at minute 20 and leaves the
    # 1-min window within a minute), then steps down one level per hold.
    downs = [c for c in tr.changes if c.level < c.previous]
    assert [c.level for c in downs] == [2, 1, 0]
    assert 300 <= downs[0].t - (T0 + 20 * 60) <= 300 + 60
    assert all(b.t - a.t >= 300 for a, b in itertools.pairwise(downs))
    assert seen[-1] == 0
    # Every change says why, with the numbers that crossed.
    assert "user reports" in ups[0].why and "baseline" in ups[0].why
    assert ups[-1].evidence["reports"]["ratio"] >= 12
    assert "clear for 5 min" in downs[0].why


def test_a_blip_shorter_than_the_hold_does_not_flap():
    # Two surges 3 minutes apart: the level stays up in between (hold 5 min) instead of dropping and rising again.
    tr, _ = run_signal(lambda m: 100.0 if 10 <= m < 13 or 16 <= m < 19 else 5.0, 30, hold_s=300)
    levels = [c.level for c in tr.changes]
    assert levels.count(3) == 1


def test_quiet_platform_raises_nothing():
    tr, seen = run_signal(lambda m: 5.0, 30)
    assert tr.changes == [] and max(seen) == 0


def test_baseline_learns_slowly_and_not_during_an_incident():
    det = SurgeDetector(SurgeSettings(window_s=60, half_life_s=600, warmup_s=0, floors=FLOORS), T0)
    for s in range(30 * 60):
        det.add(T0 + s, {"reports": 20 / 60.0}, learning=True)
    learned = det.baseline["reports"]
    assert 15 < learned < 21  # 30 minutes at 20/min, half-life 10 min
    for s in range(30 * 60, 60 * 60):
        det.add(T0 + s, {"reports": 500 / 60.0}, learning=False)
    assert det.baseline["reports"] == learned  # a long attack never becomes the new normal


def test_operator_pins_the_level_and_releases_it():
    tr = LevelTracker(300, T0)
    ch = tr.set_by_operator(T0 + 10, 2, "alice", "press reports of a flood")
    assert ch.source == "operator" and ch.operator == "alice" and "alice" in ch.why
    assert tr.observe(T0 + 20, 0, "quiet", {}) is None and tr.level == 2  # pinned: the detector cannot lower it
    tr.release(T0 + 30, "alice")
    assert tr.observe(T0 + 40, 0, "quiet", {}) is None  # hold applies from the release
    assert tr.observe(T0 + 331, 0, "quiet", {}).level == 1
    with pytest.raises(ValueError):
        tr.set_by_operator(T0, 1, "", "no name")


def test_level_names_and_numbers():
    assert level_number("severe") == 2 and level_number("3") == 3 and level_number(0) == 0
    with pytest.raises(ValueError, match="known: normal, elevated, severe, critical"):
        level_number("panic")


def test_shipped_playbook_loads():
    pb = load_playbook("floodwall")
    assert pb.play(2).probation and pb.play(3).hold_virtual_registrations
    assert pb.play(1).probation is False and pb.hold_s == 600


GOOD = """
name = "t"
[surge]
hold_minutes = 5
[levels.elevated]
ratio = 3.0
[levels.severe]
ratio = 6.0
probation = true
"""


@pytest.mark.parametrize("text, message", [
    ("name = 't'\n[levels.panic]\nratio = 3.0\n", "[levels.panic]: unknown level; known: elevated, severe, critical"),
    ("name = 't'\n[levels.severe]\nratio = 3.0\nprobaton = true\n", "unknown keys ['probaton']"),
    ("name = 't'\n[levels.severe]\nprobation = true\n", "`ratio` (times the baseline that raises this level) is required"),
    ("name = 't'\n[levels.severe]\nratio = 'six'\n", "[levels.severe] ratio: must be a number, got str 'six'"),
    ("name = 't'\n[levels.severe]\nratio = 6\nprobation = 'yes'\n", "probation: must be true or false"),
    ("name = 't'\n[levels.severe]\nratio = 6\nprobation_clean_frames = 0\n", "probation_clean_frames: must be a whole number of 1 or more"),
    ("name = 't'\n[levels.elevated]\nratio = 6\n[levels.severe]\nratio = 3\n", "[levels.severe] ratio 3 must be above [levels.elevated] ratio 6"),
    ("name = 't'\n[surge.floors]\nreprots = 2\n[levels.severe]\nratio = 6\n", "unknown metrics ['reprots']"),
    ("name = 't'\n[surge]\nhold = 5\n[levels.severe]\nratio = 6\n", "unknown [surge] keys ['hold']"),
    ("name = 't'\n", "[levels] needs at least one of"),
    ("[levels.severe]\nratio = 6\n", "`name` (a non-empty string) is required"),
    ("name = 't'\n[levels.severe\n", "not valid TOML"),
])
def test_playbook_errors_name_the_key_and_problem(text, message):
    with pytest.raises(PlaybookError) as err:
        parse_playbook(text, source="mine.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("mine.toml")


def test_a_valid_playbook_parses():
    pb = parse_playbook(GOOD)
    assert pb.hold_s == 300 and pb.play(2).probation and pb.play(3) is None


def _engine_with_response():
    from floodwall.adapters.enforcer import RecordingEnforcer
    from floodwall.clock import VirtualClock
    from floodwall.engine.engine import Engine
    from floodwall.engine.policy import load_policy
    from floodwall.response.incident import IncidentResponse

    clock = VirtualClock(T0)
    rec = RecordingEnforcer()
    resp = IncidentResponse.for_policy("floodwall", T0)
    return Engine(load_policy("floodwall"), clock=clock, enforcer=rec, responder=resp), clock, rec, resp


def _frames(stream, account, t, n, seed=0):
    import numpy as np

    from floodwall.events import FrameSampled

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), dtype=np.uint8))
        out.append(FrameSampled(id=f"f-{stream}-{t}-{i}", ts=t, stream=stream, account=account, width=64, height=64,
                                pixels=img.tobytes()))
    return out


def test_probation_limits_an_untrusted_go_live_at_severe_and_lifts_after_clean_frames():
    from floodwall.events import AccountRegistered, StreamStarted

    engine, clock, rec, resp = _engine_with_response()
    # Aged, but no avatar: not trusted, low risk (no gate rule limits it).
    engine.handle([AccountRegistered(id="r1", ts=T0 - 90 * 86400, account="a1", phone="8613800001111",
                                     device="d1", ip="1.2.3.4")])
    resp.set_level(engine, 2, "alice", "drill")
    clock.advance_to(T0 + 1)
    engine.handle([StreamStarted(id="s1", ts=T0 + 1, stream="s1", account="a1", device="d1", ip="1.2.3.4")])
    limits = [o for o in rec.orders if o.action in ("limit", "restore")]
    assert [(o.action, o.target) for o in limits] == [("limit", "s1")]
    assert limits[0].reason.startswith("probation: level severe")
    for k in range(5):
        clock.advance_to(T0 + 2 + k)
        engine.handle(_frames("s1", "a1", T0 + 2 + k, 1, seed=k))
    assert not any(o.action == "restore" for o in rec.orders)  # five clean frames: still in probation
    clock.advance_to(T0 + 10)
    engine.handle(_frames("s1", "a1", T0 + 10, 1, seed=9))
    lifted = [o for o in rec.orders if o.action == "restore"]
    assert len(lifted) == 1 and lifted[0].target == "s1" and "6 clean frames" in lifted[0].reason
    assert engine.streams["s1"].limited is False and resp.probation_lifted == 1


def test_a_trusted_streamer_goes_live_unlimited_at_critical():
    from floodwall.events import AccountRegistered, ProfileChanged, StreamStarted

    engine, clock, rec, resp = _engine_with_response()
    engine.handle([AccountRegistered(id="r1", ts=T0 - 90 * 86400, account="m1", phone="8613800002222",
                                     device="d2", ip="1.2.3.5"),
                   ProfileChanged(id="p1", ts=T0 - 90 * 86400, account="m1", avatar=True, title="shop")])
    resp.set_level(engine, 3, "alice", "drill")
    clock.advance_to(T0 + 1)
    engine.handle([StreamStarted(id="s2", ts=T0 + 1, stream="s2", account="m1", device="d2", ip="1.2.3.5")])
    assert not [o for o in rec.orders if o.action in ("limit", "takedown")]
    assert engine.streams["s2"].live and not engine.streams["s2"].limited
