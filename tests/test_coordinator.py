"""The coordinator between partitions: what a partitioned deployment sees with it, and does not without it.

Each test runs the same events through two engines on a log partitioned by account (in one process,
``coordination/inprocess.py``), once with the coordinator between them and once without, and checks
the global fact against both: with the coordinator each partition sees it, without it none does.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.nats_log import (
    decode_batch,
    decode_sketch,
    encode_batches,
    encode_sketch,
)
from floodwall.adapters.store import SqlStore
from floodwall.clock import VirtualClock
from floodwall.content.pdq import hash_frames, to_hex_many
from floodwall.partitions.coordinator import Coordinator
from floodwall.partitions.inprocess import Partitioned
from floodwall.coordination.partition import partition_of
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import (
    AccountRegistered,
    AccountSeen,
    AccountsNoticed,
    BankChanged,
    ClusterNoticed,
    EventError,
    FrameSampled,
    KeyCount,
    KeysNoticed,
    LevelNoticed,
    Login,
    ReportFiled,
    RingNoticed,
    RoomFrames,
    Sketch,
    StreamStarted,
    decode_event,
)
from floodwall.response.incident import IncidentResponse
from floodwall.sim.render import CLIP, MERCHANT, Renderer

T0 = 1_766_412_000.0
YEAR = 365 * 86400.0


def accounts_in(partition: int, n: int, prefix: str, partitions: int = 2) -> list[str]:
    """n account ids that the partitioner puts in ``partition``."""
    out, i = [], 0
    while len(out) < n:
        aid = f"{prefix}{i}"
        if partition_of(aid, partitions) == partition:
            out.append(aid)
        i += 1
    return out


class Deployment:
    """Two partitions of the floodwall policy, with or without the coordinator, on a virtual clock."""

    def __init__(self, coordinator: bool, partitions: int = 2) -> None:
        self.clock = VirtualClock(T0)
        self.enforcer = RecordingEnforcer()
        store = SqlStore("sqlite://", run="coord")
        pol = load_policy("floodwall")
        engines = [Engine(pol, clock=self.clock, enforcer=self.enforcer, store=store) for _ in range(partitions)]
        self.d = Partitioned(engines, Coordinator(partitions) if coordinator else None)
        self.engines = engines
        self.renderer = Renderer(64)
        self.n = 0

    def eid(self) -> str:
        self.n += 1
        return f"e{self.n}"

    def tick(self, *events, dt: float = 1.0) -> None:
        self.clock.advance_to(self.clock.now() + dt)
        self.d.handle(list(events))

    def engine_of(self, account: str) -> Engine:
        return self.engines[partition_of(account, len(self.engines))]

    def signals(self, account: str) -> dict:
        e = self.engine_of(account)
        return e.account_signals(e.accounts[account])

    def register(self, aid: str, *, fresh: bool = True, device: str | None = None,
                 phone: str = "8613800000000", ip: str | None = None) -> AccountRegistered:
        ts = self.clock.now() - (60 if fresh else 3 * YEAR)
        return AccountRegistered(id=self.eid(), ts=ts, account=aid, phone=phone, device=device or f"d-{aid}",
                                 ip=ip or f"10.{self.n % 200}.{self.n % 7}.9")

    def start(self, sid: str, aid: str) -> StreamStarted:
        return StreamStarted(id=self.eid(), ts=self.clock.now(), stream=sid, account=aid, device=f"d-{aid}",
                             ip="10.9.9.9")

    def frame(self, sid: str, aid: str, pixels: np.ndarray) -> FrameSampled:
        return FrameSampled(id=self.eid(), ts=self.clock.now(), stream=sid, account=aid, width=64, height=64,
                            pixels=pixels.tobytes())

    def render(self, kind: int, seed: int, t: float) -> np.ndarray:
        return self.renderer.render(np.array([kind]), np.array([seed]), np.array([t]), [None])[0]

    def taken_down(self) -> set[str]:
        return {o.target for o in self.enforcer.orders if o.action == "takedown"}

    def frozen(self) -> set[str]:
        return {o.target for o in self.enforcer.orders if o.action == "freeze"}


@pytest.mark.parametrize("coordinator", [True, False])
def test_a_device_shared_across_partitions_is_counted_whole(coordinator):
    d = Deployment(coordinator)
    farm = accounts_in(0, 4, "f") + accounts_in(1, 4, "f")
    d.tick(*(d.register(a, device="farm-phone") for a in farm))
    d.tick()  # the coordinator's count reaches each partition with its next batch
    counts = {d.signals(a)["device_accounts"] for a in farm}
    assert counts == ({8} if coordinator else {4})


@pytest.mark.parametrize("coordinator", [True, False])
def test_one_confident_takedown_acts_on_the_same_content_in_every_partition(coordinator):
    d = Deployment(coordinator)
    p0, p1 = accounts_in(0, 3, "a"), accounts_in(1, 3, "a")
    rooms = {a: f"s-{a}" for a in p0 + p1}
    # Numbers from different blocks: the content is their only link (no ring forms).
    d.tick(*(d.register(a, phone=f"8613{i:03d}000000") for i, a in enumerate(p0 + p1)))
    d.tick(*(d.start(rooms[a], a) for a in p0 + p1))
    clip = d.render(CLIP, 5, 30.0)
    for _ in range(3):  # the rooms show the same clip; the coordinator clusters them across partitions
        d.tick(*(d.frame(rooms[a], a, clip) for a in p0 + p1))
    e0, e1 = d.engines
    seen = {e1.stream_signals(e1.streams[rooms[a]])["cluster_rooms"] for a in p1}
    assert seen == ({6} if coordinator else {3})
    assert not d.taken_down()
    # Partition 0 alone learns that the clip is bad (a bank entry) and takes its rooms down with confidence.
    e0.banks["confirmed"].add(hash_frames(clip[None])[0], source="analyst")
    d.tick(*(d.frame(rooms[a], a, clip) for a in p0))
    assert {rooms[a] for a in p0} <= d.taken_down()
    d.tick()
    d.tick()
    if coordinator:
        assert {rooms[a] for a in p1} <= d.taken_down()  # cluster-confirmed, from partition 0's decision
        assert len(e1.banks["confirmed"]) > 0  # and partition 1 holds the entries for the next copy
        reasons = {o.reason for o in d.enforcer.orders if o.target in {rooms[a] for a in p1}}
        assert any("cluster-confirmed" in r for r in reasons), reasons
    else:
        assert not ({rooms[a] for a in p1} & d.taken_down())
        assert len(e1.banks["confirmed"]) == 0


@pytest.mark.parametrize("coordinator", [True, False])
def test_a_ring_split_across_partitions_is_found_and_frozen_everywhere(coordinator):
    d = Deployment(coordinator)
    ring = accounts_in(0, 3, "r") + accounts_in(1, 3, "r")
    # One number block and one device: two kinds of evidence over six accounts, three in each partition.
    d.tick(*(d.register(a, device="farm-2", phone=f"861700000{i:04d}") for i, a in enumerate(ring)))
    d.tick()
    in_ring = {d.signals(a)["in_ring"] for a in ring}
    assert in_ring == ({True} if coordinator else {False})
    # A confident takedown of one member's room confirms the ring: every member is frozen.
    first = ring[0]
    d.tick(d.start("s-first", first))
    clip = d.render(CLIP, 9, 12.0)
    d.engine_of(first).banks["confirmed"].add(hash_frames(clip[None])[0], source="analyst")
    d.tick(d.frame("s-first", first, clip))
    assert "s-first" in d.taken_down()
    for _ in range(3):
        d.tick()
    if coordinator:
        assert set(ring) - {first} <= d.frozen()
    else:
        assert not (set(ring[3:]) & d.frozen())


@pytest.mark.parametrize("coordinator", [True, False])
def test_fresh_reporters_in_another_partition_weigh_little(coordinator):
    d = Deployment(coordinator)
    merchant = accounts_in(0, 1, "m")[0]
    reporters = accounts_in(1, 10, "x")
    d.tick(d.register(merchant, fresh=False), *(d.register(a) for a in reporters))
    d.tick(d.start("shop", merchant))
    d.tick(d.frame("shop", merchant, d.render(MERCHANT, 3, 5.0)))
    d.tick(*(ReportFiled(id=d.eid(), ts=d.clock.now(), stream="shop", reporter=a) for a in reporters))
    st = d.engine_of(merchant).streams["shop"]
    if coordinator:
        assert st.report_weight <= 1.0  # fresh accounts together count for one at most
        assert d.d.review.created == 0
    else:
        assert st.report_weight == pytest.approx(10.0)  # unknown reporters count as aged ones
        assert d.d.review.created == 1


def sketch(partition: int, seq: int, ts: float, **kw) -> Sketch:
    return Sketch(partition=partition, seq=seq, ts=ts, **kw)


def test_the_level_is_set_from_every_partitions_counts_and_followers_take_it():
    c = Coordinator(2)
    t = T0
    quiet = {"risky_golives": 0.02, "takedowns": 0.0, "reports": 0.02}  # about one a minute
    for k in range(400):  # learn a quiet baseline, each partition reporting half of it
        t += 1.0
        out = c.handle(sketch(k % 2, k // 2 + 1, t, counts={m: v / 2 for m, v in quiet.items()},
                              closed=["x"]))
        assert not any(isinstance(ev, LevelNoticed) for evs in out.values() for ev in evs)
    notices = []
    for k in range(120):  # a surge, split over both partitions
        t += 1.0
        out = c.handle(sketch(k % 2, 201 + k // 2, t, counts={"risky_golives": 20.0, "takedowns": 20.0},
                              closed=["x"]))
        notices += [(q, ev) for q, evs in out.items() for ev in evs if isinstance(ev, LevelNoticed)]
    assert c.level == 3
    assert {q for q, _ in notices} == {0, 1}  # every partition is told
    top = max(ev.level for _, ev in notices)
    assert top == 3
    # A follower partition takes the coordinator's level with its why.
    clock = VirtualClock(t)
    eng = Engine(load_policy("floodwall"), clock=clock, enforcer=RecordingEnforcer(),
                 responder=IncidentResponse.for_policy("floodwall", t, follower=True))
    eng.partitioned()
    last = [ev for q, ev in notices if q == 1][-1]
    eng.handle([last])
    assert eng.incident_level == last.level
    assert eng.responder.timeline()[-1]["source"] == "coordinator"


def test_the_coordinator_is_a_function_of_its_sketches_and_skips_a_repeat():
    h = hash_frames(Renderer(64).render(np.array([CLIP]), np.array([1]), np.array([3.0]), [None]))[0]
    raw = np.ascontiguousarray(h, "<u8").tobytes()
    sketches = [
        sketch(0, 1, T0, seen=[AccountSeen("a", T0, "registered", "dev", "net", "blk", T0, True)]),
        sketch(1, 1, T0 + 1, seen=[AccountSeen("b", T0, "registered", "dev", "net", "blk", T0, True)]),
        sketch(0, 2, T0 + 2, frames=[RoomFrames("s1", "a", T0 + 2, raw, raw, 4.0, False)]),
        sketch(1, 2, T0 + 3, frames=[RoomFrames("s2", "b", T0 + 3, raw, raw, 4.0, False)]),
    ]
    a, b = Coordinator(2), Coordinator(2)
    outs_a = [a.handle(s) for s in sketches]
    outs_b = [b.handle(s) for s in sketches]
    assert outs_a == outs_b
    kinds = {type(ev) for out in outs_a for evs in out.values() for ev in evs}
    assert {KeysNoticed, AccountsNoticed, ClusterNoticed} <= kinds
    ids = [ev.id for out in outs_a for evs in out.values() for ev in evs]
    assert len(ids) == len(set(ids))
    assert a.handle(sketches[2]) == {} and a.duplicates == 1  # a worker re-sending after a crash


def test_bank_edits_in_the_log_are_applied_by_the_engine():
    eng = Engine(load_policy("floodwall"), clock=VirtualClock(T0), enforcer=RecordingEnforcer())
    hexes = to_hex_many(np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.uint64))
    eng.handle([BankChanged(id="b1", ts=T0, bank="partner", op="create", kind="block"),
                BankChanged(id="b2", ts=T0, bank="partner", op="add", hashes=hexes, source="import:ops")])
    assert eng.banks["partner"].hexes() == hexes
    eng.handle([BankChanged(id="b3", ts=T0, bank="partner", op="remove", hashes=hexes[:1])])
    assert eng.banks["partner"].hexes() == hexes[1:]
    eng.handle([BankChanged(id="b4", ts=T0, bank="partner", op="remove_source", source="import:ops")])
    assert len(eng.banks["partner"]) == 0
    eng.handle([BankChanged(id="b2", ts=T0, bank="partner", op="add", hashes=hexes)])  # a repeated id: dropped
    assert len(eng.banks["partner"]) == 0


def test_log_events_and_sketches_survive_the_wire_and_clients_cannot_send_notices():
    events = [
        BankChanged(id="1", ts=T0, bank="b", op="add", hashes=["0" * 64]),
        ClusterNoticed(id="2", ts=T0, cluster="c", streams=["s"], rooms=3, accounts=3, risky_share=1.0,
                       trusted_share=0.0, confirmed=True),
        RingNoticed(id="3", ts=T0, ring="ring-1", accounts=["a"], size=6, confirmed=False, evidence={"device": 3}),
        KeysNoticed(id="4", ts=T0, keys=[KeyCount("net", "10.0.0.0/24", 9, 4, [T0], [T0])]),
        AccountsNoticed(id="5", ts=T0, created={"a": T0}),
        LevelNoticed(id="6", ts=T0, level=2, why="surge", evidence={"reports": {"ratio": 7.0}}),
    ]
    (payload,) = encode_batches(events)
    assert decode_batch(payload) == events
    sk = sketch(1, 7, T0, frames=[RoomFrames("s", "a", T0, b"\1" * 32, b"\2" * 32, 1.5, True)],
                withdrawn=["v9"], counts={"reports": 2.0})
    assert decode_sketch(encode_sketch(sk)) == sk
    for ev in events:
        with pytest.raises(EventError) as err:
            decode_event(msgspec.json.encode(ev))
        assert err.value.field == "type"


@settings(max_examples=25, deadline=None)
@given(devices=st.lists(st.integers(0, 3), min_size=2, max_size=40), partitions=st.integers(2, 4))
@example(devices=[0] * 30 + [1] * 3, partitions=2)  # a busy key: told within NOTICE_EVERY, not at once
def test_every_partition_counts_a_shared_device_as_one_engine_would(devices, partitions):
    d = Deployment(coordinator=True, partitions=partitions)
    accounts = [f"u{i}" for i in range(len(devices))]
    d.tick(*(d.register(a, device=f"dev{k}") for a, k in zip(accounts, devices)))
    for _ in range(3):  # traffic goes on (a login a second in each partition): the coordinator's time moves
        d.tick(*(Login(id=d.eid(), ts=d.clock.now(), account=accounts_in(q, 1, "other", partitions)[0],
                       device="phone", ip="10.8.8.8") for q in range(partitions)))
    for a, k in zip(accounts, devices):
        assert d.signals(a)["device_accounts"] == devices.count(k)
