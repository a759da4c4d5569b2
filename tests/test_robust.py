"""Robust matching (floodwall.content.robust): border trimming, derived bank views, calibration.

Originals are the simulator's frames rendered at 256 px; perturbed copies are made here
with Pillow the way bench/bench_robust.py makes them (geometry at full size, then the
platform's antialiased scale to a 64 px keyframe).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from floodwall.content import pdq
from floodwall.content.index import HashIndex
from floodwall.content.robust import (
    DEFAULT_VARIANTS,
    THRESHOLD,
    RobustMatcher,
    Variant,
    border_boxes,
    calibrate,
    crop_grid,
    detect_border,
    luma,
    min_distances,
    resample,
    resample_boxes,
)
from floodwall.sim.render import sample_frames

R, Q = 256, 64
# A 20 % pad (of the picture, each side) shrinks a 256 px picture to 183 px at offset 36:
# in the 64 px keyframe the content box is rows/columns [9, 54.75).
PAD_BOX = np.array([9.0, 9.0, 54.75, 54.75])


@pytest.fixture(scope="module")
def originals() -> np.ndarray:
    return sample_frames(160, size=R, seed=11)


@pytest.fixture(scope="module")
def matcher() -> RobustMatcher:
    return RobustMatcher()


def keyframe(im: Image.Image) -> np.ndarray:
    return np.asarray(im.resize((Q, Q), Image.BILINEAR))


def padded(img: np.ndarray, mode: str, rng: np.random.Generator, frac: float = 0.2) -> np.ndarray:
    """64 px keyframe of img shrunk into a border of frac * picture size: solid colour or blurred picture."""
    im = Image.fromarray(img)
    w = round(R / (1 + 2 * frac))
    if mode == "solid":
        bg = Image.new("RGB", (R, R), tuple(int(c) for c in rng.integers(0, 256, 3)))
    else:
        bg = im.filter(ImageFilter.GaussianBlur(R / 12))
    bg.paste(im.resize((w, w), Image.BILINEAR), ((R - w) // 2, (R - w) // 2))
    return keyframe(bg)


def cropped(img: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    """64 px keyframe of img with frac of each axis cut, split at random between the two sides."""
    sx, sy = rng.uniform(0, 1, 2)
    box = (frac * sx * R, frac * sy * R, frac * sx * R + (1 - frac) * R, frac * sy * R + (1 - frac) * R)
    return np.asarray(Image.fromarray(img).resize((Q, Q), Image.BILINEAR, box=box))


def rotated(img: np.ndarray, deg: float) -> np.ndarray:
    return keyframe(Image.fromarray(img).rotate(deg, resample=Image.BILINEAR, fillcolor=(0, 0, 0)))


def noise_frames(n: int, size: int, seed: int) -> np.ndarray:
    """Busy content with no smooth run anywhere: uniform noise, smoothed a little."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, size + 1, size + 1, 3)).astype(np.float32)
    return ((x[:, 1:, 1:] + x[:, :-1, :-1]) / 2).astype(np.uint8)


# ----------------------------------------------------------------------------- borders


def test_hard_bars_are_found_to_the_pixel() -> None:
    # Black or white bars of whole pixels, different on every side, on busy content (the
    # hardest texture for the sub-pixel step: it pulls the edge inwards).
    frames = noise_frames(40, Q, seed=1)
    rng = np.random.default_rng(2)
    depth = rng.integers(3, 16, (40, 4))
    for f, (t, l, b, r) in zip(frames, depth):
        col = 255 * rng.integers(0, 2)
        f[:t], f[Q - b :], f[:, :l], f[:, Q - r :] = col, col, col, col
    box = detect_border(luma(frames))
    want = np.stack([depth[:, 0], depth[:, 1], Q - depth[:, 2], Q - depth[:, 3]], 1)
    assert np.abs(box - want).max() < 0.35


def test_busy_frames_without_borders_keep_the_whole_frame() -> None:
    boxes = border_boxes(luma(noise_frames(50, Q, seed=3)))
    assert boxes.shape == (50, 4, 4)
    assert np.array_equal(boxes, np.broadcast_to([0.0, 0.0, Q, Q], boxes.shape))


def test_border_removal_recovers_content_box_solid(originals: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    frames = np.stack([padded(o, "solid", rng) for o in originals])
    boxes = border_boxes(luma(frames))
    err = np.abs(boxes - PAD_BOX).max(axis=2)  # worst side, per candidate box
    # Sub-pixel: within half a pixel on all four sides (1 px off costs PDQ ~40 bits).
    assert np.mean(err.min(axis=1) <= 0.5) >= 0.95
    assert np.mean(err[:, 0] <= 0.5) >= 0.8  # bars on all four sides: mostly the first box already


def test_border_removal_recovers_content_box_blurred(originals: np.ndarray) -> None:
    # The border is the picture itself, stretched and blurred: its edge against the
    # shrunk copy is weaker, and a side lost against smooth picture is restored from the
    # other sides (boxes 1-3).
    rng = np.random.default_rng(4)
    frames = np.stack([padded(o, "blur", rng) for o in originals])
    err = np.abs(border_boxes(luma(frames)) - PAD_BOX).max(axis=2).min(axis=1)
    assert np.mean(err <= 0.5) >= 0.8
    assert np.mean(err <= 1.0) >= 0.9


def test_resample_boxes_whole_frame_matches_resample() -> None:
    y = luma(noise_frames(6, 100, seed=5))
    a = resample_boxes(y, np.tile([0.0, 0.0, 100.0, 100.0], (6, 1)))
    assert np.abs(a - resample(y)).max() < 1e-3


# ----------------------------------------------------------------------------- matching


def plain_distance(originals: np.ndarray, frames: np.ndarray) -> np.ndarray:
    return pdq.hamming(pdq.hash_frames(frames)[0], pdq.hash_frames(originals)[0])


@pytest.mark.parametrize(
    "name, make",
    [
        ("pad solid", lambda o, rng: padded(o, "solid", rng)),
        ("pad blurred", lambda o, rng: padded(o, "blur", rng)),
        ("crop 10%", lambda o, rng: cropped(o, 0.10, rng)),
        ("crop 5% + mirror", lambda o, rng: cropped(o, 0.05, rng)[:, ::-1]),
        ("rotate 4deg", lambda o, rng: rotated(o, 4.0 * rng.choice((-1, 1)))),
    ],
)
def test_perturbed_copies_match_where_plain_pdq_misses(
    originals: np.ndarray, matcher: RobustMatcher, name: str, make
) -> None:
    bank = originals[:60]
    rng = np.random.default_rng(6)
    frames = np.ascontiguousarray(np.stack([make(o, rng) for o in bank]))
    index = HashIndex()
    ids = np.arange(len(bank)) * 7 + 3
    matcher.add_to_index(index, bank, ids)
    res = matcher.match(frames, index)
    right = res.matched & (res.id == ids)
    plain_hit = plain_distance(bank, frames) <= 31
    assert np.mean(plain_hit) <= 0.05, name
    assert np.mean(right) >= 0.95, name
    assert np.all(res.distance[res.matched] <= THRESHOLD)
    assert not np.any(res.matched & (res.id != ids))


def test_unrelated_frames_do_not_match(originals: np.ndarray, matcher: RobustMatcher) -> None:
    bank, others = originals[:80], originals[80:]
    rng = np.random.default_rng(7)
    makes = [
        lambda o: keyframe(Image.fromarray(o)),
        lambda o: padded(o, "solid", rng),
        lambda o: padded(o, "blur", rng),
        lambda o: cropped(o, 0.1, rng),
        lambda o: rotated(o, 4.0),
    ]
    frames = np.stack([mk(o) for mk in makes for o in others])  # 400 frames x 80 images = 32,000 pairs
    index = HashIndex()
    matcher.add_to_index(index, bank, np.arange(len(bank)))
    assert not matcher.match(frames, index).matched.any()
    d = matcher.distances(frames, matcher.bank_variants(bank))
    assert d.shape == (len(frames), len(bank))
    assert d.min() > THRESHOLD


def test_a_plain_hex_bank_still_catches_mirrors_and_pads(originals: np.ndarray, matcher: RobustMatcher) -> None:
    # Banks imported from ThreatExchange hold only hex, no image: the query side still helps.
    bank = np.stack([keyframe(Image.fromarray(o)) for o in originals[:40]])
    index = HashIndex()
    index.add(pdq.hash_frames(bank)[0], np.arange(40))
    rng = np.random.default_rng(8)
    frames = np.stack([padded(o, "solid", rng)[:, ::-1] for o in originals[:40]])
    res = matcher.match(frames, index, threshold=31)
    assert np.mean(res.matched & (res.id == np.arange(40))) >= 0.9
    assert set(np.unique(res.query_variant[res.matched])) <= set(range(matcher.m // 2, matcher.m))  # mirrored views


def test_low_quality_views_can_be_kept_out(matcher: RobustMatcher) -> None:
    flat = np.full((3, Q, Q, 3), 128, np.uint8)
    index = HashIndex()
    matcher.add_to_index(index, flat, np.arange(3))
    assert matcher.match(flat, index).matched.all()  # flat frames hash alike ...
    assert not matcher.match(flat, index, min_quality=pdq.MIN_QUALITY).matched.any()  # ... and the gate drops them


# ----------------------------------------------------------------------------- hashes


def test_derived_bank_hashes_are_deterministic(originals: np.ndarray, matcher: RobustMatcher) -> None:
    a = matcher.bank_variants(originals[:12])
    b = RobustMatcher().bank_variants(originals[:12].copy())
    assert a.shape == (12 * matcher.k, 4) and a.dtype == np.uint64
    assert np.array_equal(a, b)
    # Independent of batch make-up: one image alone gives the same rows.
    assert np.array_equal(matcher.bank_variants(originals[5:6]), a[5 * matcher.k : 6 * matcher.k])
    entries = matcher.bank_entries(originals[0])
    assert entries[0] == (pdq.to_hex(pdq.hash_frames(originals[:1])[0][0]), "plain")
    assert [t for _, t in entries[1:]] == [f"derived:{v.name}" for v in matcher.variants]
    assert pdq.to_hex_many(a[: matcher.k]) == [h for h, _ in entries[1:]]
    assert len({t for _, t in entries}) == len(entries)


def test_query_hashes_are_deterministic_and_batch_independent(originals: np.ndarray, matcher: RobustMatcher) -> None:
    rng = np.random.default_rng(9)
    frames = np.stack(
        [padded(o, "blur", rng) for o in originals[:10]] + [keyframe(Image.fromarray(o)) for o in originals[10:20]]
    )
    a = matcher.query_variants(frames)
    assert a.shape == (20 * matcher.m, 4)
    assert np.array_equal(a, matcher.query_variants(frames))
    assert np.array_equal(matcher.query_variants(frames[13:14]), a[13 * matcher.m : 14 * matcher.m])


def test_query_views_of_a_clean_frame(matcher: RobustMatcher) -> None:
    # No border: every trimmed view repeats the frame's own hash, every mirrored one the
    # flipped frame's; the own hash is PDQ of the frame (up to the grey-level rounding).
    f = noise_frames(4, Q, seed=10)
    h = matcher.query_variants(f).reshape(4, matcher.m, 4)
    half = matcher.m // 2
    flipped = matcher.query_variants(np.ascontiguousarray(f[:, :, ::-1])).reshape(4, matcher.m, 4)
    assert np.array_equal(h[:, :half], np.broadcast_to(h[:, :1], (4, half, 4)))
    assert np.array_equal(h[:, half:], np.broadcast_to(flipped[:, :1], (4, half, 4)))
    assert pdq.hamming(h[:, 0], pdq.hash_frames(f)[0]).max() <= 4


def test_min_distances_is_the_brute_force_minimum() -> None:
    rng = np.random.default_rng(12)
    q = rng.integers(0, 2**64 - 1, (7, 3, 4), dtype=np.uint64, endpoint=True)
    b = rng.integers(0, 2**64 - 1, (5, 4, 4), dtype=np.uint64, endpoint=True)
    b[2, 1] = q[4, 2]
    b[2, 1, 0] ^= np.uint64(0b1011)  # one close pair: 3 bits
    want = pdq.hamming(q[:, None, :, None], b[None, :, None, :]).min(axis=(2, 3))
    got = min_distances(q, b)
    assert np.array_equal(got, want)
    assert got[4, 2] == 3


def test_calibrate_takes_the_largest_radius_within_the_rate() -> None:
    u = np.concatenate([np.full(5, 40), np.full(5, 50), np.full(99_990, 120)])
    assert calibrate(u, 5e-5) == 49  # 5 of 100,000 at <= 40 is exactly the rate
    assert calibrate(u, 1e-4) == 119
    assert calibrate(u, 1e-5) == 39
    assert calibrate(np.zeros(10), 0.01) == -1


def test_crop_grid_covers_every_split() -> None:
    for scale, g in ((0.95, 3), (0.9, 5)):
        grid = np.array([v.dx for v in crop_grid(scale, g)])
        assert len(grid) == g * g
        # The centre of a crop cutting 1 - scale, split u : 1 - u, sits at (u - 0.5)(1 - scale).
        centres = (np.linspace(0, 1, 1001) - 0.5) * (1 - scale)
        gap = np.abs(centres[:, None] - np.unique(grid)[None]).min(1).max()
        assert gap <= (1 - scale) / (2 * g) + 1e-9
    assert DEFAULT_VARIANTS[0] == Variant() and len(DEFAULT_VARIANTS) == 39


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        luma(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        luma(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError):
        RobustMatcher(variants=())
    with pytest.raises(ValueError):
        RobustMatcher().add_to_index(HashIndex(), np.zeros((2, 64, 64, 3), np.uint8), np.arange(3))
