"""Tests for the simulator's frame renderer (floodwall.sim.render), with PDQ as the yardstick.

The detector clusters rooms whose frames are within PDQ Hamming distance 31, so the
thresholds here are the ones that matter to it. Distributions are printed (run with -s).
Mirrored copies are matched the way PDQ deployments do it: against the 8 dihedral hashes
of one side (``pdqhash.compute_dihedral``); plain PDQ is not mirror-invariant.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pdqhash
import pytest
from PIL import Image

from floodwall.sim.render import (
    CHAT,
    CLIP,
    EVENT,
    GAMER,
    HONEST_KINDS,
    MERCHANT,
    OUTDOOR,
    Look,
    Renderer,
    clip_shots,
    sample_frames,
)

MATCH = 31  # the detector's PDQ clustering threshold


def pdq(img: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ bits (256,) uint8 and quality of one frame."""
    bits, q = pdqhash.compute(np.ascontiguousarray(img))
    return np.asarray(bits, np.uint8), int(q)


def pdq8(img: np.ndarray) -> np.ndarray:
    """The 8 dihedral PDQ hashes (8, 256) of one frame."""
    hs, _ = pdqhash.compute_dihedral(np.ascontiguousarray(img))
    return np.asarray(hs, np.uint8)


def dist(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance; b may hold several hashes (min taken)."""
    return int((a != b).reshape(-1, 256).sum(1).min())


def pairwise(bits: np.ndarray) -> np.ndarray:
    """All pairwise Hamming distances of (n, 256) 0/1 hashes."""
    b = bits.astype(np.int32)
    return b @ (1 - b).T + (1 - b) @ b.T


def summary(name: str, d: np.ndarray) -> str:
    """One printable line with the distribution of distances d."""
    d = np.asarray(d)
    line = (
        f"{name}: n={d.size} median={np.median(d):.0f} p90={np.percentile(d, 90):.0f} "
        f"max={d.max()} within{MATCH}={np.mean(d <= MATCH):.1%}"
    )
    print(line)
    return line


def realistic_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Look | None]]:
    """~85 % honest rooms (no look), ~5 % EVENT and ~10 % CLIP rooms with mild looks."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    kinds = np.where(u < 0.85, rng.integers(0, 4, n), np.where(u < 0.90, EVENT, CLIP))
    seeds = np.where(kinds < 4, rng.choice(10**9, n, replace=False), rng.integers(0, 4, n))
    t = np.where(kinds < 4, rng.uniform(0, 4 * 3600, n), rng.uniform(0, 600, n))
    looks = [Look.random(rng, "mild") if k >= EVENT else None for k in kinds]
    return kinds, seeds, t, looks


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(64)


# ----------------------------------------------------------------------------- basics


def test_shape_dtype_all_kinds(renderer: Renderer) -> None:
    rng = np.random.default_rng(0)
    kinds = np.repeat(np.arange(6), 4)
    looks = [None, Look.random(rng, "mild"), Look.random(rng, "strong"), Look()] * 6
    out = renderer.render(kinds, np.arange(24), rng.uniform(0, 1000, 24), looks)
    assert out.shape == (24, 64, 64, 3) and out.dtype == np.uint8
    assert out.std(axis=(1, 2, 3)).min() > 5  # no blank frames
    # Look() is the identity.
    ident = renderer.render(kinds, np.arange(24), np.full(24, 5.0), [Look()] * 24)
    assert np.array_equal(ident, renderer.render(kinds, np.arange(24), np.full(24, 5.0), None))
    for size in (32, 96):
        small = Renderer(size).render(kinds[:6], np.arange(6), np.full(6, 3.0), [Look.random(rng, "mild")] * 6)
        assert small.shape == (6, size, size, 3) and small.dtype == np.uint8
    assert renderer.render(np.array([], np.int64), np.array([]), np.array([]), []).shape == (0, 64, 64, 3)


def test_bad_inputs() -> None:
    r = Renderer(64)
    with pytest.raises(ValueError):
        r.render(np.array([7]), np.array([1]), np.array([0.0]), None)
    with pytest.raises(ValueError):
        r.render(np.array([0, 1]), np.array([1]), np.array([0.0]), None)
    with pytest.raises(ValueError):
        r.render(np.array([0]), np.array([1]), np.array([np.nan]), None)
    with pytest.raises(ValueError):
        Look(pad_mode="mirror")
    with pytest.raises(ValueError):
        Look(jpeg=0)
    with pytest.raises(ValueError):
        Renderer(60)


def test_deterministic_across_instances_and_batching() -> None:
    kinds, seeds, t, looks = realistic_batch(240, seed=1)
    rng = np.random.default_rng(2)
    looks[:20] = [Look.random(rng, "strong") for _ in range(20)]  # slow path too
    a = Renderer(64).render(kinds, seeds, t, looks)
    b = Renderer(64).render(kinds, seeds, t, looks)
    assert np.array_equal(a, b)
    # Order and batch composition do not matter: render reversed, in two halves.
    r = Renderer(64, cache_entries=50)  # small cache: forces evictions and regeneration
    rev = r.render(kinds[::-1], seeds[::-1], t[::-1], looks[::-1])[::-1]
    assert np.array_equal(a, rev)
    half = np.concatenate([r.render(kinds[:120], seeds[:120], t[:120], looks[:120]), r.render(kinds[120:], seeds[120:], t[120:], looks[120:])])
    assert np.array_equal(a, half)
    assert len(r._cache) <= 50


_DIGEST_SNIPPET = """
import hashlib, numpy as np
from floodwall.sim.render import Renderer, Look, EVENT, CLIP
rng = np.random.default_rng(7)
kinds = np.array([0, 1, 2, 3, 4, 5, 5, 4] * 8)
seeds = np.arange(64) * 1000003 - 5
t = rng.uniform(0, 3000, 64)
looks = [Look.random(rng, "strong" if i % 5 == 0 else "mild") if k >= EVENT else None for i, k in enumerate(kinds)]
print(hashlib.sha256(Renderer(64).render(kinds, seeds, t, looks).tobytes()).hexdigest())
"""


def test_deterministic_across_processes() -> None:
    here = subprocess.run([sys.executable, "-c", _DIGEST_SNIPPET], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", _DIGEST_SNIPPET], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    local = io.StringIO()
    with redirect_stdout(local):
        exec(_DIGEST_SNIPPET, {})
    assert here.stdout.strip() == again.stdout.strip() == local.getvalue().strip()


def test_sample_frames_distinct() -> None:
    f = sample_frames(64, seed=3)
    assert f.shape == (64, 64, 64, 3) and f.dtype == np.uint8
    assert len({hashlib.md5(x.tobytes()).hexdigest() for x in f}) == 64
    assert np.array_equal(f, sample_frames(64, seed=3))


# ----------------------------------------------------------------------------- honest rooms


@pytest.fixture(scope="module")
def honest_frames(renderer: Renderer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10)
    n = 300
    kinds = np.asarray(HONEST_KINDS)[rng.integers(0, 4, n)]
    seeds = rng.choice(10**9, n, replace=False)
    t = rng.uniform(0, 8 * 3600, n)
    return kinds, seeds, t, renderer.render(kinds, seeds, t, None)


def test_honest_rooms_look_different(honest_frames) -> None:
    kinds, _, _, frames = honest_frames
    bits = np.stack([pdq(f)[0] for f in frames])
    d = pairwise(bits)[np.triu_indices(len(bits), 1)]
    print(f"honest rooms: {len(bits)} rooms, {d.size} pairs, min PDQ distance {d.min()}, p0.1 {np.percentile(d, 0.1):.0f}, median {np.median(d):.0f}")
    for k in HONEST_KINDS:
        m = np.flatnonzero(kinds == k)
        dk = pairwise(bits[m])[np.triu_indices(len(m), 1)]
        print(f"  within kind {k}: min {dk.min()}")
    assert d.min() > MATCH


def test_honest_room_changes_over_time(renderer: Renderer, honest_frames) -> None:
    kinds, seeds, t, frames = honest_frames
    later = renderer.render(kinds[:150], seeds[:150], t[:150] + 600.0, None)
    d = np.array([dist(pdq(a)[0], pdq(b)[0]) for a, b in zip(frames[:150], later)])
    summary("same honest room 10 min apart", d)
    assert np.mean(d > MATCH) >= 0.9
    soon = renderer.render(kinds[:150], seeds[:150], t[:150] + 2.0, None)
    summary("same honest room 2 s apart (informational)", np.array([dist(pdq(a)[0], pdq(b)[0]) for a, b in zip(frames[:150], soon)]))


def test_frame_quality(renderer: Renderer, honest_frames) -> None:
    rng = np.random.default_rng(11)
    n = 200
    kinds = np.where(rng.random(n) < 0.5, EVENT, CLIP)
    seeds = rng.integers(0, 50, n)
    t = rng.uniform(0, 3000, n)
    plain = renderer.render(kinds, seeds, t, None)
    mild = renderer.render(kinds, seeds, t, [Look.random(rng, "mild") for _ in range(n)])
    q = np.array([pdq(f)[1] for f in np.concatenate([honest_frames[3], plain, mild])])
    print(f"PDQ quality: min {q.min()}, share >= 50: {np.mean(q >= 50):.2%} of {q.size}")
    assert np.mean(q >= 50) >= 0.99


# ----------------------------------------------------------------------------- events


def test_event_co_broadcasts_are_near_duplicates(renderer: Renderer) -> None:
    rng = np.random.default_rng(12)
    n = 150
    ev = rng.integers(0, 40, n)
    t = rng.uniform(0, 3 * 3600, n)
    two = lambda looks: renderer.render(np.full(2 * n, EVENT), np.repeat(ev, 2), np.repeat(t, 2), looks)
    raw = two(None)
    assert np.array_equal(raw[0::2], raw[1::2])  # same event, same clock: same pixels
    bc = two([Look.random(rng, "broadcast") for _ in range(2 * n)])
    d_bc = np.array([dist(pdq(a)[0], pdq(b)[0]) for a, b in zip(bc[0::2], bc[1::2])])
    mild = two([Look.random(rng, "mild") for _ in range(2 * n)])
    d_mild = np.array([dist(pdq(a)[0], pdq8(b)) for a, b in zip(mild[0::2], mild[1::2])])
    summary("event, two broadcast looks", d_bc)
    summary("event, two mild looks (dihedral)", d_mild)
    assert np.mean(d_bc <= MATCH) >= 0.95
    assert np.mean(d_mild <= MATCH) >= 0.8
    # Different events, or one event's different camera shots, are not near duplicates.
    other = renderer.render(np.full(n, EVENT), (ev + 1) % 40, t, None)
    assert min(dist(pdq(a)[0], pdq(b)[0]) for a, b in zip(raw[0::2], other)) > MATCH


# ----------------------------------------------------------------------------- clips


def test_clip_schedule_and_loop(renderer: Renderer) -> None:
    for cid in range(300):
        loop, starts = clip_shots(cid)
        lengths = np.diff(np.append(starts, loop))
        assert 120 <= loop <= 300 and starts[0] == 0
        assert lengths.min() >= 8 and lengths.max() <= 20
    loop, _ = clip_shots(5)
    t = np.array([3.0, 47.5, 130.0])
    a = renderer.render(np.full(3, CLIP), np.full(3, 5), t, None)
    b = renderer.render(np.full(3, CLIP), np.full(3, 5), t + 2 * loop, None)
    assert np.array_equal(a, b)


def test_clip_mild_looks_match(renderer: Renderer) -> None:
    rng = np.random.default_rng(13)
    n = 300
    cid = rng.integers(0, 200, n)
    t = rng.uniform(0, 300, n)
    looks = [Look.random(rng, "mild") for _ in range(n)]
    clean = renderer.render(np.full(n, CLIP), cid, t, None)
    copy = renderer.render(np.full(n, CLIP), cid, t, looks)
    base = [pdq(f)[0] for f in clean]
    d = np.array([dist(b, pdq8(f)) for b, f in zip(base, copy)])
    plain = np.array([dist(b, pdq(f)[0]) for b, f in zip(base, copy)])
    summary("clip, mild look vs clean (dihedral)", d)
    summary("clip, mild look vs clean (plain PDQ, mirror breaks it)", plain)
    unmirrored = np.array([not lk.mirror for lk in looks])
    summary("clip, mild look without mirror (plain PDQ)", plain[unmirrored])
    assert np.mean(d <= MATCH) >= 0.9


def test_clips_and_shots_are_distinct(renderer: Renderer) -> None:
    frames = []
    for cid in range(40):
        loop, starts = clip_shots(cid)
        mids = (np.append(starts, loop)[:-1] + np.append(starts, loop)[1:]) / 2
        frames.append(renderer.render(np.full(4, CLIP), np.full(4, cid), mids[:4], None))
    bits = np.stack([pdq(f)[0] for f in np.concatenate(frames)])
    d = pairwise(bits)[np.triu_indices(len(bits), 1)]
    print(f"clip frames (40 clips x 4 shots): min pairwise PDQ distance {d.min()}")
    assert d.min() > MATCH


def test_strong_looks_reported(renderer: Renderer) -> None:
    rng = np.random.default_rng(14)
    n = 120
    cid = rng.integers(0, 200, n)
    t = rng.uniform(0, 300, n)
    clean = renderer.render(np.full(n, CLIP), cid, t, None)
    copy = renderer.render(np.full(n, CLIP), cid, t, [Look.random(rng, "strong") for _ in range(n)])
    d = np.array([dist(pdq(a)[0], pdq8(b)) for a, b in zip(clean, copy)])
    summary("clip, strong look vs clean (dihedral, informational)", d)
    assert copy.shape == clean.shape


# ----------------------------------------------------------------------------- looks


def test_look_presets_ranges() -> None:
    rng = np.random.default_rng(15)
    for _ in range(300):
        m = Look.random(rng, "mild")
        assert sum(m.crop) <= 0.03 + 1e-9 and min(m.crop) >= 0
        assert 0.6 <= m.scale <= 1.0 and 50 <= m.jpeg <= 90 and 0 <= m.noise <= 6
        assert m.rotate == 0 and m.pad == 0 and abs(m.brightness) <= 0.3
        s = Look.random(rng, "strong")
        assert 0.05 <= s.crop[0] + s.crop[2] <= 0.1 and 0.05 <= s.crop[1] + s.crop[3] <= 0.1
        assert abs(s.rotate) <= 4 and s.pad in (0.0, 0.2)
    assert Look.random(rng, "none").is_identity
    with pytest.raises(ValueError):
        Look.random(rng, "extreme")


def test_look_ops_do_what_they_say(renderer: Renderer) -> None:
    k, s, t = np.array([MERCHANT]), np.array([42]), np.array([10.0])
    base = renderer.render(k, s, t, None)[0].astype(float)
    one = lambda lk: renderer.render(k, s, t, [lk])[0].astype(float)
    luma = lambda f: f @ np.array([0.299, 0.587, 0.114])
    # Mirror flips columns (up to 4:2:0 chroma rounding).
    assert np.abs(luma(one(Look(mirror=True))) - luma(base)[:, ::-1]).mean() < 1.0
    # Brightness shifts luma by ~0.1 * 255.
    assert 20 < (luma(one(Look(brightness=0.1))) - luma(base)).mean() < 31
    # Solid padding puts black bars around a shrunken picture.
    padded = one(Look(pad=0.2))
    assert padded[:5].max() < 8 and padded[-5:].max() < 8 and padded[28:36, 28:36].mean() > 10
    # Rotation leaves black corners.
    assert one(Look(rotate=4.0))[0, 0].max() < 40
    # Noise is deterministic per frame and changes from frame to frame.
    noisy = Look(noise=6)
    assert np.array_equal(one(noisy), one(noisy))
    t2 = t + 0.5
    res1 = luma(one(noisy) - base)
    res2 = luma(renderer.render(k, s, t2, [noisy])[0].astype(float) - renderer.render(k, s, t2, None)[0])
    assert 4 < res1.std() < 8 and not np.array_equal(res1, res2)


@pytest.mark.parametrize("quality", [50, 75, 90])
def test_jpeg_close_to_pil(renderer: Renderer, quality: int) -> None:
    """The numpy DCT JPEG (Annex K tables, 4:2:0) lands near Pillow's real encoder."""
    k, s, t = np.array([GAMER, CHAT, OUTDOOR, CLIP]), np.array([1, 2, 3, 4]), np.full(4, 30.0)
    clean = renderer.render(k, s, t, None)
    ours = renderer.render(k, s, t, [Look(jpeg=quality)] * 4).astype(float)
    for c, o in zip(clean, ours):
        buf = io.BytesIO()
        Image.fromarray(c).save(buf, "JPEG", quality=quality, subsampling=2)
        pil = np.asarray(Image.open(buf).convert("RGB"), float)
        err_ours_pil = np.abs(o - pil).mean()
        err_pil_clean = np.abs(pil - c).mean()
        assert err_ours_pil < max(2.5, 0.8 * err_pil_clean), (err_ours_pil, err_pil_clean)


def test_hash_draw_memo_overflow_gives_the_same_frames(monkeypatch) -> None:
    # The per-room and per-shot draw memos are bounded; clearing one mid-run must not change a frame.
    import floodwall.sim.render.renderer as renderer_mod

    kinds = np.array([MERCHANT, CLIP, GAMER, CHAT, OUTDOOR, EVENT] * 3)
    seeds = np.arange(len(kinds), dtype=np.int64) * 7919 + 11
    ref = Renderer(64)
    monkeypatch.setattr(renderer_mod, "_DRAW_MEMO", 5)
    small = Renderer(64)
    for t in (0.0, 40.0, 400.0, 4000.0):
        ts = np.full(len(kinds), t) + np.arange(len(kinds))
        assert (small.render(kinds, seeds, ts) == ref.render(kinds, seeds, ts)).all()
