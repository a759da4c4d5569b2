"""The engine end to end on small, hand-made event streams."""

import numpy as np

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.store import SqlStore
from floodwall.clock import VirtualClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy, parse_policy
from floodwall.events import (
    AccountRegistered,
    FrameSampled,
    Login,
    ProfileChanged,
    ReviewDecided,
    StreamStarted,
)
from floodwall.sim.render import CLIP, MERCHANT, Look, Renderer

T0 = 1_766_412_000.0  # 2025-12-22 22:00 +08:00
YEAR = 365 * 86400.0


class Harness:
    def __init__(self, policy="floodwall"):
        self.clock = VirtualClock(T0)
        self.enforcer = RecordingEnforcer()
        self.store = SqlStore("sqlite://", run="test")
        pol = load_policy(policy) if "\n" not in policy else parse_policy(policy)
        self.engine = Engine(pol, clock=self.clock, enforcer=self.enforcer, store=self.store)
        self.renderer = Renderer(64)
        self.n = 0

    def send(self, *events, dt=1.0):
        self.clock.advance_to(self.clock.now() + dt)
        return self.engine.handle(list(events))

    def eid(self):
        self.n += 1
        return f"e{self.n}"

    def account(self, aid, *, fresh, phone="8613800000000", device=None, ip="1.2.3.4", avatar=True):
        ts = self.clock.now() - (600 if fresh else 3 * YEAR)
        evs = [AccountRegistered(id=self.eid(), ts=ts, account=aid, phone=phone, device=device or f"d-{aid}", ip=ip)]
        if avatar:
            evs.append(ProfileChanged(id=self.eid(), ts=ts + 1, account=aid, avatar=True, title=f"room of {aid}"))
        return evs

    def frame(self, sid, aid, pixels):
        return FrameSampled(id=self.eid(), ts=self.clock.now(), stream=sid, account=aid, width=64, height=64,
                            pixels=pixels.tobytes())

    def render(self, kind, seed, t, look=None):
        return self.renderer.render(np.array([kind]), np.array([seed]), np.array([t]), [look])[0]

    def actions(self, action):
        return {o.target for o in self.enforcer.orders if o.action == action}


def test_bank_match_takes_down_perturbed_copy_but_not_honest_room():
    h = Harness()
    bank = h.engine.banks["confirmed"]
    from floodwall.content.pdq import hash_frames

    original = h.render(CLIP, 3, 42.0)
    hashes, quality = hash_frames(original[None])
    assert quality[0] >= 50
    bank.add(hashes, source="test")
    look = Look(crop=(0.01, 0.01, 0.01, 0.01), mirror=True, brightness=0.05, noise=3.0, jpeg=70)
    copy = h.render(CLIP, 3, 42.0, look)
    honest = h.render(MERCHANT, 99, 42.0)
    evs = h.account("bad", fresh=True, avatar=False) + h.account("good", fresh=False)
    h.send(*evs)
    h.send(
        StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-bad", account="bad", device="d-bad", ip="5.6.7.8"),
        StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-good", account="good", device="d-good", ip="1.2.3.4"),
    )
    h.send(h.frame("s-bad", "bad", copy), h.frame("s-good", "good", honest))
    assert h.actions("takedown") == {"s-bad"}
    rows = h.store.decisions_for("s-bad")
    taken = [r for r in rows if r["action"] == "takedown"]
    assert "bank-match" in taken[0]["rules"]
    assert taken[0]["evidence"]["stream.bank_match"] is True


def test_confirmed_takedown_acts_on_every_room_showing_the_content():
    h = Harness()
    rooms = [f"x{i}" for i in range(4)]
    evs = []
    for a in rooms:
        evs += h.account(a, fresh=True, avatar=False, phone="8617012345678")
    h.send(*evs)
    h.send(*[StreamStarted(id=h.eid(), ts=h.clock.now(), stream=f"s-{a}", account=a, device=f"d-{a}", ip="45.1.1.9")
             for a in rooms])
    h.send(h.frame("s-x0", "x0", h.render(CLIP, 1, 10.0)))
    # A reviewer confirms the first room: its frames go to a bank, its cluster and ring are marked.
    item, _ = h.engine.review.open_case("stream", "s-x0", {"s-x0"}, h.clock.now(), 1.0, {})
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=item.id, reviewer="r1", violating=True))
    assert h.actions("takedown") == {"s-x0"}
    assert len(h.engine.banks["reviewed"]) >= 1
    rng = np.random.default_rng(5)
    later = [h.frame(f"s-{a}", a, h.render(CLIP, 1, 10.0, Look.random(rng, "mild"))) for a in rooms[1:]]
    h.send(*later)
    assert {f"s-{a}" for a in rooms[1:]} <= h.actions("takedown")


def test_honest_co_broadcast_survives_its_own_cluster():
    h = Harness()
    rooms = [f"c{i}" for i in range(6)]
    evs = []
    for a in rooms:
        evs += h.account(a, fresh=False)
    h.send(*evs)
    h.send(*[StreamStarted(id=h.eid(), ts=h.clock.now(), stream=f"s-{a}", account=a, device=f"d-{a}", ip=f"8.8.{i}.1")
             for i, a in enumerate(rooms)])
    rng = np.random.default_rng(1)
    from floodwall.sim.render import EVENT

    for t in range(0, 60, 10):
        h.send(*[h.frame(f"s-{a}", a, h.render(EVENT, 1000, float(t), Look.random(rng, "broadcast"))) for a in rooms])
    root = h.engine.clusters.root("s-c0")
    assert len(h.engine.clusters.members[root]) >= 3  # they really are near duplicates
    assert h.actions("takedown") == set()
    assert h.actions("freeze") == set()


def test_hijack_signs_come_from_new_device_credential_change_and_go_live():
    h = Harness()
    h.send(*h.account("old", fresh=False))
    h.send(Login(id=h.eid(), ts=h.clock.now(), account="old", device="d-old", ip="1.2.3.4"))
    acc = h.engine.accounts["old"]
    assert h.engine.account_signals(acc)["hijack_signs"] == 0
    assert h.engine.account_signals(acc)["trusted"] is True
    h.send(Login(id=h.eid(), ts=h.clock.now(), account="old", device="farm-1", ip="45.9.9.9"))
    h.send(Login(id=h.eid(), ts=h.clock.now(), account="old", device="farm-1", ip="45.9.9.9", credential_change="password"))
    h.send(StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-old", account="old", device="farm-1", ip="45.9.9.9"))
    sig = h.engine.account_signals(acc)
    assert sig["hijack_signs"] == 3
    assert sig["trusted"] is False


def test_shadow_rule_is_recorded_and_does_not_act():
    policy = (
        'name = "shadowy"\n[engine]\nclassifier = false\nchat = false\n'
        '[[rules]]\nname = "would-take-down"\nwhen = "account.age_s < 3600.0"\naction = "takedown"\nshadow = true\n'
    )
    h = Harness(policy)
    h.send(*h.account("n", fresh=True))
    h.send(StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-n", account="n", device="d-n", ip="1.1.1.1"))
    assert h.actions("takedown") == set()
    assert h.engine.shadow_hits["would-take-down"] == 1
    rows = h.store.decisions_for("s-n")
    assert rows[0]["shadow"] is True and rows[0]["shadow_rules"] == ["would-take-down"]
