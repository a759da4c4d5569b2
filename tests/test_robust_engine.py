"""Robust matching in the engine: content/matching.py, the `robust` policy setting, and what ships with it.

Frames are the simulator's 64 px keyframes (sim/render.py), as the engine sees them in a replay;
transformed copies are the same frames rendered through a per-room Look.
"""

from __future__ import annotations

import dataclasses

import msgspec
import numpy as np
import pytest

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.clock import VirtualClock
from floodwall.content.bank import BankSet, HashBank
from floodwall.content.matching import FrameMatcher
from floodwall.content.pdq import hash_frames
from floodwall.content.robust import THRESHOLD, RobustMatcher
from floodwall.engine.engine import Engine
from floodwall.engine.policy import PolicyError, load_policy, parse_policy
from floodwall.events import (
    AccountRegistered,
    FrameSampled,
    ReviewDecided,
    ReviewReversed,
    StreamStarted,
)
from floodwall.response.playbook import load_playbook
from floodwall.sim.render import CLIP, HONEST_KINDS, Look, Renderer
from floodwall.sim.scenario import load_scenario

T0 = 1_766_412_000.0  # 2025-12-22 22:00 +08:00
N = 60  # banked frames per property test

# Single transforms of the brief; crops split at random between the two sides of each axis.
TRANSFORMS = {
    "crop 5%": lambda r: Look(crop=_split(0.05, r)),
    "pad 20% solid": lambda r: Look(pad=0.2),
    "pad 20% blurred": lambda r: Look(pad=0.2, pad_mode="blur"),
    "rotate 4 degrees": lambda r: Look(rotate=4.0 if r.random() < 0.5 else -4.0),
    "mirror": lambda r: Look(mirror=True),
}


def _split(frac: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    sx, sy = rng.random(2)
    return (frac * sx, frac * sy, frac * (1 - sx), frac * (1 - sy))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(64)


@pytest.fixture(scope="module")
def clips(renderer: Renderer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clip ids, times, frames): N clip keyframes spread over the six clips and their shots."""
    rng = np.random.default_rng(3)
    ids, ts = rng.integers(0, 6, N), rng.uniform(0, 3000, N)
    return ids, ts, renderer.render(np.full(N, CLIP), ids, ts, None)


def _banked(frames: np.ndarray, robust: RobustMatcher | None) -> tuple[BankSet, FrameMatcher]:
    """A confirmed bank as the engine fills it: each frame's hash, plus its derived views when robust."""
    bank = HashBank("confirmed")
    banks = BankSet([bank, HashBank("honest", kind="allow")])
    fm = FrameMatcher(banks, robust)
    bank.add(hash_frames(frames)[0], source="v1")
    for f in frames:
        h, notes = fm.bank_views(f)
        bank.add(h, source="v1", note=notes)
    return banks, fm


def _match(fm: FrameMatcher, frames: np.ndarray):
    h, q, m = hash_frames(frames, with_mirror=True)
    return fm.match_frames(frames, h, m, q)


# ---- content/matching.py ----------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transformed_copies_match_robustly_where_plain_pdq_misses(renderer, clips, name: str) -> None:
    ids, ts, frames = clips
    rng = np.random.default_rng(17)
    copies = renderer.render(np.full(N, CLIP), ids, ts, [TRANSFORMS[name](rng) for _ in range(N)])
    _, robust = _banked(frames, RobustMatcher())
    _, plain = _banked(frames, None)
    r, p = _match(robust, copies), _match(plain, copies)
    assert r.matched.all(), f"{name}: robust missed {np.flatnonzero(~r.matched).tolist()}"
    assert set(r.bank) == {"confirmed"} and (r.distance <= THRESHOLD).all()
    plain_hash = hash_frames(copies)[0]
    own = np.array([np.unpackbits(np.bitwise_xor(a, b).view(np.uint8)).sum()
                    for a, b in zip(plain_hash, hash_frames(frames)[0])])
    if name == "mirror":
        # The frame's own hash is far from its original; the plain path catches it through the mirror hash.
        assert (own > 31).all() and p.matched.all()
    else:
        assert p.matched.mean() <= 0.2, f"{name}: plain PDQ matched {p.matched.mean():.0%}"


def test_unrelated_frames_do_not_match(renderer, clips) -> None:
    _, _, frames = clips
    rng = np.random.default_rng(23)
    n = 600
    kinds = np.asarray(HONEST_KINDS)[rng.integers(0, len(HONEST_KINDS), n)]
    looks = [Look.random(rng, "mild") if i % 2 else None for i in range(n)]
    honest = renderer.render(kinds, rng.integers(0, 10**6, n), rng.uniform(0, 3600, n), looks)
    _, fm = _banked(frames, RobustMatcher())
    m = _match(fm, honest)
    assert not m.matched.any() and not m.allowed.any()
    assert m.bank == [None] * n


def test_plain_path_is_the_engine_s_former_inline_match() -> None:
    """Plain PDQ + mirror through FrameMatcher equals what Engine._content computed before it existed."""
    rng = np.random.default_rng(5)
    block = rng.integers(0, 2**63, (200, 4), dtype=np.uint64)
    allow = rng.integers(0, 2**63, (20, 4), dtype=np.uint64)
    banks = BankSet([HashBank("confirmed"), HashBank("reviewed"), HashBank("honest", kind="allow")])
    banks["confirmed"].add(block[:120])
    banks["reviewed"].add(block[100:])
    banks["honest"].add(allow)
    n = 400

    def near(src: np.ndarray) -> np.ndarray:
        out = src[rng.integers(0, len(src), n)].copy()
        bits = out.view(np.uint8).reshape(n, 32)
        for i, k in enumerate(rng.integers(0, 60, n)):  # 0 to 59 bits flipped: both sides of 31
            for b in rng.choice(256, k, replace=False):
                bits[i, b // 8] ^= np.uint8(1 << (b % 8))
        return out

    hashes, mirrored = near(np.concatenate([block, allow])), near(np.concatenate([block, allow]))
    quality = rng.choice([30, 60, 100], n).astype(np.int32)
    m = FrameMatcher(banks).match_frames(np.zeros((n, 64, 64, 3), np.uint8), hashes, mirrored, quality)
    # The former inline code of Engine._content, verbatim.
    good = quality >= 50
    o = banks.match(np.concatenate([hashes, mirrored]))
    allowed = o.allowed[:n] | o.allowed[n:]
    hit = (o.matched[:n] | o.matched[n:]) & ~(o.allowed[:n] | o.allowed[n:])
    first = o.matched[:n] & ((o.distance[:n] <= o.distance[n:]) | ~o.matched[n:])
    dist = np.where(first, o.distance[:n], o.distance[n:])
    side = np.where(first, 0, n)
    assert 0 < (hit & good).sum() < n and allowed.any()
    assert (m.matched == (hit & good)).all()
    assert (m.allowed[good] == allowed[good]).all()  # the engine reads `allowed` only for good frames
    idx = np.flatnonzero(hit & good)
    assert (m.distance[idx] == dist[idx]).all()
    assert [m.bank[i] for i in idx] == [o.bank_name(i + int(side[i])) for i in idx]


class _Views:
    """A stand-in RobustMatcher whose query views and their quality are given."""

    m = 3
    threshold = THRESHOLD

    def __init__(self, hashes: np.ndarray, quality: np.ndarray) -> None:
        self.hashes, self.quality = hashes, quality
        self.calls = 0

    def query_views(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.hashes, self.quality


def test_robust_views_of_low_quality_do_not_match() -> None:
    rng = np.random.default_rng(8)
    target = rng.integers(0, 2**63, (1, 4), dtype=np.uint64)
    other = rng.integers(0, 2**63, (1, 4), dtype=np.uint64)
    banks = BankSet([HashBank("confirmed")])
    banks["confirmed"].add(target)
    # Frame 0: only its low-quality view is the banked hash. Frame 1: a good view is. Frame 2: as frame 1,
    # but the frame's own hash is too flat. Frame 3: nothing near.
    views = np.concatenate([other, target, other, other, other, target, other, other, target, other, other, other])
    vq = np.array([90, 40, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90])
    fm = FrameMatcher(banks, _Views(views, vq))  # type: ignore[arg-type]
    zeros = np.zeros((4, 4), np.uint64)
    m = fm.match_frames(np.zeros((4, 64, 64, 3), np.uint8), zeros, zeros, np.array([90, 90, 40, 90]))
    assert m.matched.tolist() == [False, True, False, False]
    assert m.distance.tolist() == [-1, 0, -1, -1]
    assert m.bank == [None, "confirmed", None, None]


def test_robust_allow_view_suppresses_block_view() -> None:
    rng = np.random.default_rng(9)
    bad, ok = rng.integers(0, 2**63, (2, 4), dtype=np.uint64)
    banks = BankSet([HashBank("confirmed"), HashBank("honest", kind="allow")])
    banks["confirmed"].add(bad)
    banks["honest"].add(ok)
    fm = FrameMatcher(banks, _Views(np.stack([bad, ok, bad]), np.full(3, 90)))  # type: ignore[arg-type]
    zeros = np.zeros((1, 4), np.uint64)
    m = fm.match_frames(np.zeros((1, 64, 64, 3), np.uint8), zeros, zeros, np.array([90]))
    assert m.allowed.tolist() == [True] and m.matched.tolist() == [False]


def test_empty_banks_skip_the_robust_views() -> None:
    views = _Views(np.zeros((3, 4), np.uint64), np.full(3, 90))
    fm = FrameMatcher(BankSet([HashBank("confirmed")]), views)  # type: ignore[arg-type]
    zeros = np.zeros((1, 4), np.uint64)
    m = fm.match_frames(np.zeros((1, 64, 64, 3), np.uint8), zeros, zeros, np.array([90]))
    assert views.calls == 0 and m.matched.tolist() == [False] and m.bank == [None]


def test_bank_views_are_tagged_and_skip_flat_frames(clips) -> None:
    _, _, frames = clips
    rm = RobustMatcher()
    fm = FrameMatcher(BankSet(), rm)
    h, notes = fm.bank_views(frames[0])
    assert h.shape == (rm.k, 4) and len(notes) == rm.k
    assert notes[0] == "derived:view" and all(x.startswith("derived:") for x in notes)
    assert (h == rm.bank_variants(frames[:1])).all()
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert fm.bank_views(flat)[0].shape == (0, 4)
    assert FrameMatcher(BankSet()).bank_views(frames[0])[0].shape == (0, 4)  # plain path: nothing derived


def test_bank_set_radius_overrides_every_bank() -> None:
    rng = np.random.default_rng(4)
    h = rng.integers(0, 2**63, (1, 4), dtype=np.uint64)
    near = h.copy()
    near.view(np.uint8)[0, :5] ^= 0xFF  # 40 bits away
    banks = BankSet([HashBank("confirmed")])
    banks["confirmed"].add(h)
    assert not banks.match(near).matched[0]
    assert banks.match(near, radius=47).distance[0] == 40


def test_per_entry_notes() -> None:
    rng = np.random.default_rng(6)
    bank = HashBank("b")
    bank.add(rng.integers(0, 2**63, (2, 4), dtype=np.uint64), source="s", note=["derived:a", "derived:b"])
    assert bank.note == ["derived:a", "derived:b"]
    with pytest.raises(ValueError, match="2 hashes but 1 notes"):
        bank.add(rng.integers(0, 2**63, (2, 4), dtype=np.uint64), note=["x"])


# ---- the engine -------------------------------------------------------------------------------


class Room:
    """Events of one untrusted room: its own fresh account, device, number block and network."""

    def __init__(self, i: int, t: float) -> None:
        self.account, self.stream = f"a{i}", f"s{i}"
        self.i, self.t = i, t

    def start(self, eid: str) -> list:
        reg = AccountRegistered(id=f"{eid}r", ts=self.t - 600, account=self.account, phone=f"861{self.i:02d}0000000{self.i}",
                                device=f"d{self.i}", ip=f"10.{self.i}.0.1")
        go = StreamStarted(id=f"{eid}g", ts=self.t, stream=self.stream, account=self.account, device=f"d{self.i}",
                           ip=f"10.{self.i}.0.1")
        return [reg, go]

    def frame(self, eid: str, pixels: np.ndarray, ts: float) -> FrameSampled:
        return FrameSampled(id=eid, ts=ts, stream=self.stream, account=self.account, width=64, height=64,
                            pixels=pixels.tobytes())


class Run:
    """One engine on a virtual clock, with the room events of a test."""

    def __init__(self, policy: str) -> None:
        self.clock = VirtualClock(T0)
        self.enforcer = RecordingEnforcer()
        self.engine = Engine(load_policy(policy), clock=self.clock, enforcer=self.enforcer)
        self.n = 0

    def send(self, *events) -> None:
        self.clock.advance_to(self.clock.now() + 1)
        self.engine.handle(list(events))

    def eid(self) -> str:
        self.n += 1
        return f"e{self.n}"

    def taken_down(self) -> set[str]:
        return {o.target for o in self.enforcer.orders if o.action == "takedown"}


def _confirm_by_review(run: Run, room: Room, frame: np.ndarray) -> str:
    run.send(*room.start(run.eid()))
    run.send(room.frame(run.eid(), frame, run.clock.now()))
    item, _ = run.engine.review.open_case("stream", room.stream, {room.stream}, run.clock.now(), 1.0, {})
    run.send(ReviewDecided(id=run.eid(), ts=run.clock.now(), item=item.id, reviewer="r1", violating=True))
    assert room.stream in run.taken_down()
    return item.id


@pytest.mark.parametrize("name", TRANSFORMS)
def test_engine_with_robust_takes_down_a_transformed_copy(renderer, name: str) -> None:
    original = renderer.render(np.array([CLIP]), np.array([2]), np.array([40.0]), None)[0]
    copy = renderer.render(np.array([CLIP]), np.array([2]), np.array([40.0]),
                           [TRANSFORMS[name](np.random.default_rng(1))])[0]
    out = {}
    for policy in ("floodwall", "floodwall-robust"):
        run = Run(policy)
        _confirm_by_review(run, Room(1, run.clock.now()), original)
        b = Room(2, run.clock.now())
        run.send(*b.start(run.eid()))
        run.send(b.frame(run.eid(), copy, run.clock.now()))
        st = run.engine.streams[b.stream]
        out[policy] = (st.bank_match, st.bank, b.stream in run.taken_down())
    assert out["floodwall-robust"] == (True, "reviewed", True)
    if name == "mirror":
        assert out["floodwall"] == (True, "reviewed", True)  # the mirror hash already caught this one
    else:
        assert out["floodwall"] == (False, "", False)


def test_derived_entries_are_banked_only_with_robust(renderer) -> None:
    frame = renderer.render(np.array([CLIP]), np.array([2]), np.array([40.0]), None)[0]
    for policy, derived in (("floodwall", 0), ("floodwall-robust", RobustMatcher().k)):
        run = Run(policy)
        item = _confirm_by_review(run, Room(1, run.clock.now()), frame)
        bank = run.engine.banks["reviewed"]
        notes = [bank.note[bank._row_of[h]] for h in bank.hexes()]
        assert sum(x.startswith("derived:") for x in notes) == derived
        verdict = run.engine.decision_effects[item]["verdict"]
        assert set(bank.source) == {verdict}


def test_undo_withdraws_derived_entries(renderer) -> None:
    frame = renderer.render(np.array([CLIP]), np.array([2]), np.array([40.0]), None)[0]
    copy = renderer.render(np.array([CLIP]), np.array([2]), np.array([40.0]), [Look(rotate=4.0)])[0]
    run = Run("floodwall-robust")
    item = _confirm_by_review(run, Room(1, run.clock.now()), frame)
    assert len(run.engine.banks["reviewed"]) > RobustMatcher().k
    run.send(ReviewReversed(id=run.eid(), ts=run.clock.now(), item=item, reviewer="r1"))
    assert len(run.engine.banks["reviewed"]) == 0
    b = Room(2, run.clock.now())
    run.send(*b.start(run.eid()))
    run.send(b.frame(run.eid(), copy, run.clock.now()))
    assert not run.engine.streams[b.stream].bank_match and b.stream not in run.taken_down()


# ---- what ships -------------------------------------------------------------------------------


def test_robust_setting_defaults_off_and_is_validated() -> None:
    assert load_policy("floodwall").engine.robust is False
    assert load_policy("floodwall-robust").engine.robust is True
    with pytest.raises(PolicyError, match="robust must be true or false"):
        parse_policy('name = "t"\n[engine]\nrobust = "yes"')


def test_floodwall_robust_is_floodwall_with_robust_on() -> None:
    a, b = load_policy("floodwall"), load_policy("floodwall-robust")
    assert b.name == "floodwall-robust"
    assert b.engine == dataclasses.replace(a.engine, robust=True)
    assert b.rules == a.rules and b.scheduled == a.scheduled
    pa, pb = load_playbook("floodwall"), load_playbook("floodwall-robust")
    assert dataclasses.replace(pb, name=pa.name, source=pa.source) == pa


def test_strong_looks_is_the_december_attack_with_strong_looks() -> None:
    base, strong = load_scenario("kuaishou-2025-12-22"), load_scenario("strong-looks")
    assert strong.attack.look == "strong"
    same = msgspec.structs.replace(base, name=strong.name, description=strong.description,
                                   attack=msgspec.structs.replace(base.attack, look="strong"))
    assert same == strong


def test_strong_look_preset_covers_the_brief() -> None:
    """5-10 % of each axis cropped, rotation within 4 degrees, 20 % padding on half of the rooms."""
    rng = np.random.default_rng(0)
    looks = [Look.random(rng, "strong") for _ in range(2000)]
    x = np.array([L.crop[0] + L.crop[2] for L in looks])
    y = np.array([L.crop[1] + L.crop[3] for L in looks])
    assert (x >= 0.05).all() and (x <= 0.10).all() and (y >= 0.05).all() and (y <= 0.10).all()
    rot = np.array([L.rotate for L in looks])
    assert (np.abs(rot) <= 4.0).all() and (np.abs(rot) >= 3.0).mean() > 0.2
    pad = np.array([L.pad for L in looks])
    assert set(pad.tolist()) == {0.0, 0.2} and 0.45 < (pad == 0.2).mean() < 0.55
