"""Batched PDQ against Meta's reference vectors and the pdqhash package (C++ reference)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from floodwall.content import pdq

DATA = Path(__file__).parent / "data" / "pdq"
LOW_QUALITY = {"misc-images__small.jpg", "reg-test-input__labelme-subset__q0004.jpg"}


def _reference_rows() -> list[dict[str, str]]:
    with open(DATA / "expected.csv", newline="") as f:
        return list(csv.DictReader(f))


def _load(name: str) -> np.ndarray:
    with Image.open(DATA / name) as im:
        return np.asarray(im.convert("RGB"))


def _pdqhash(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = [pdqhash.compute(np.ascontiguousarray(f)) for f in frames]
    return pdq.bits_to_hashes(np.stack([b for b, _ in out])), np.array([q for _, q in out])


def structured_frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """Smooth frames with structure: upsampled random colour grid, a few boxes, mild noise."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, (n, 5, 5, 3)).astype(np.float32)
    ys = (np.arange(h) * 5 // h)[:, None]
    xs = (np.arange(w) * 5 // w)[None, :]
    img = grid[:, ys, xs]
    for k in range(n):
        for _ in range(3):
            y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
            y1, x1 = y0 + rng.integers(2, h // 2 + 3), x0 + rng.integers(2, w // 2 + 3)
            img[k, y0:y1, x0:x1] = rng.integers(0, 256, 3)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return img.clip(0, 255).astype(np.uint8)


def sinusoid_frames(n: int, size: int, seed: int) -> np.ndarray:
    """Noise-free gratings of random amplitude: qualities spread over 0..100."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        amp = rng.uniform(0, 150)
        fx, fy = rng.uniform(0.5, 4, 2)
        base = 128 + amp * np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 6))
        out.append(np.stack([base * k for k in rng.uniform(0.6, 1.2, 3)], -1))
    return np.stack(out).clip(0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- reference images


def test_reference_images_within_meta_tolerance_and_match_pdqhash():
    rows = _reference_rows()
    assert len(rows) == 30
    for row in rows:
        img = _load(row["file"])
        h, q = pdq.hash_frame(img)
        expected = pdq.from_hex(row["pdq_hex"])
        ref_bits, ref_q = pdqhash.compute(img)
        ref = pdq.bits_to_hashes(ref_bits)
        dist = int(pdq.hamming(h, expected))
        assert dist <= 16, (row["file"], dist)
        # Same decoder, same algorithm: we land where the C++ reference lands.
        assert int(pdq.hamming(h, ref)) <= 2, row["file"]
        assert q == ref_q, row["file"]


def test_reference_quality_gate():
    qualities = {row["file"]: pdq.hash_frame(_load(row["file"]))[1] for row in _reference_rows()}
    for name in LOW_QUALITY:
        assert qualities[name] < pdq.MIN_QUALITY, name
    # The bridge photos and the other labelme images are well textured.
    assert all(q == 100 for name, q in qualities.items() if "bridge" in name)
    assert qualities["reg-test-input__labelme-subset__q0122.jpg"] == 100


def test_reference_dihedral_mirror_matches_flipped_image():
    orig = _load("reg-test-input__dih__bridge-1-original.jpg")
    _, _, mirrored = pdq.hash_frames(orig[None], with_mirror=True)
    flipped = pdq.hash_frame(_load("reg-test-input__dih__bridge-6-flipy.jpg"))[0]
    # Different JPEG encodes of the same flipped picture: close, not identical.
    assert int(pdq.hamming(mirrored[0], flipped)) <= 16
    assert int(pdq.hamming(mirrored[0], pdq.hash_frame(orig)[0])) > 64


# ----------------------------------------------------------------------------- pdqhash agreement


@pytest.mark.parametrize(
    ("h", "w", "n"),
    [(64, 64, 120), (100, 100, 60), (128, 128, 60), (256, 256, 24), (512, 512, 8), (96, 160, 20), (160, 96, 20)],
)
def test_structured_frames_agree_with_pdqhash(h, w, n):
    frames = structured_frames(n, h, w, seed=h * 1000 + w)
    ours, q = pdq.hash_frames(frames)
    ref, ref_q = _pdqhash(frames)
    # pdqhash rounds luma from float64 and its box filter carries a float32 running
    # sum: about 1 frame in 1,000 lands one quality unit away, at a /90 boundary.
    assert np.abs(q - ref_q).max() <= 1 and (q != ref_q).sum() <= max(1, n // 100)
    d = pdq.hamming(ours, ref)
    # Coefficients differ from the C++ by float rounding (~1e-3); a bit can only flip
    # when two coefficients straddle the median that closely.
    assert d.max() <= 4, d
    assert (d > 0).sum() <= max(1, n // 50), d


@pytest.mark.parametrize("size", [64, 128, 256, 512])
def test_random_frames_agree_with_pdqhash(size):
    rng = np.random.default_rng(size)
    frames = rng.integers(0, 256, (12, size, size, 3), dtype=np.uint8)
    ours, q = pdq.hash_frames(frames)
    ref, ref_q = _pdqhash(frames)
    np.testing.assert_array_equal(q, ref_q)
    assert pdq.hamming(ours, ref).max() <= 2


@pytest.mark.parametrize("size", [64, 128, 256])
def test_quality_matches_pdqhash_across_range(size):
    frames = sinusoid_frames(150, size, seed=size)
    ours, q = pdq.hash_frames(frames)
    ref, ref_q = _pdqhash(frames)
    np.testing.assert_array_equal(q, ref_q)
    assert q.min() < 10 and q.max() == 100 and ((q > 20) & (q < 90)).sum() >= 10
    good = q >= pdq.MIN_QUALITY
    d = pdq.hamming(ours, ref)[good]
    assert d.max() <= 4 and (d > 0).sum() <= 2


@pytest.mark.parametrize("shape", [(5, 5), (32, 48), (63, 65), (300, 17)])
def test_odd_sizes_agree_with_pdqhash(shape):
    rng = np.random.default_rng(sum(shape))
    frames = rng.integers(0, 256, (6, *shape, 3), dtype=np.uint8)
    ours, q = pdq.hash_frames(frames)
    ref, ref_q = _pdqhash(frames)
    np.testing.assert_array_equal(q, ref_q)
    assert pdq.hamming(ours, ref).max() <= 2


def test_too_small_frames_hash_to_zero():
    frames = np.full((2, 4, 40, 3), 200, dtype=np.uint8)
    h, q = pdq.hash_frames(frames)
    assert not h.any() and not q.any()
    bits, ref_q = pdqhash.compute(frames[0])
    assert not bits.any() and ref_q == 0


def test_mirror_matches_pdqhash_dihedral_and_flipped_frame():
    frames = structured_frames(20, 64, 64, seed=5)
    h, q, m = pdq.hash_frames(frames, with_mirror=True)
    for i, f in enumerate(frames):
        dihedral, _ = pdqhash.compute_dihedral(f)
        assert int(pdq.hamming(m[i], pdq.bits_to_hashes(dihedral[5]))) <= 2  # FlipY = left-right
        # At 64x64 the sampling grid is symmetric, so this is the flipped frame's hash.
        assert int(pdq.hamming(m[i], pdq.hash_frame(f[:, ::-1])[0])) <= 2
    h2, q2 = pdq.hash_frames(frames)
    np.testing.assert_array_equal(h, h2)
    np.testing.assert_array_equal(q, q2)


def test_batch_equals_single_frames_across_chunks():
    frames = structured_frames(200, 64, 64, seed=9)  # > one internal chunk
    h, q = pdq.hash_frames(frames)
    for i in (0, 84, 85, 86, 170, 199):
        hi, qi = pdq.hash_frame(frames[i])
        np.testing.assert_array_equal(hi, h[i])
        assert qi == q[i]


def test_non_contiguous_input():
    frames = structured_frames(4, 128, 128, seed=2)
    view = frames[:, ::2, ::2]  # strided (4, 64, 64, 3)
    np.testing.assert_array_equal(pdq.hash_frames(view)[0], pdq.hash_frames(view.copy())[0])


def test_empty_batch():
    h, q = pdq.hash_frames(np.zeros((0, 64, 64, 3), np.uint8))
    assert h.shape == (0, 4) and h.dtype == np.uint64 and q.shape == (0,) and q.dtype == np.int32


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 64, 64), np.uint8), np.zeros((2, 64, 64, 4), np.uint8), np.zeros((1, 64, 64, 3), np.float32)],
)
def test_bad_frames_rejected(bad):
    with pytest.raises(ValueError):
        pdq.hash_frames(bad)


# ----------------------------------------------------------------------------- hex, bits, hamming

words = st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4).map(lambda w: np.array(w, dtype=np.uint64))


@given(words)
@settings(max_examples=200)
def test_hex_round_trip(h):
    s = pdq.to_hex(h)
    assert len(s) == 64 and s == s.lower()
    assert s == "".join(f"{int(w):016x}" for w in h)
    np.testing.assert_array_equal(pdq.from_hex(s), h)
    np.testing.assert_array_equal(pdq.from_hex(s.upper()), h)


@given(st.lists(words, min_size=0, max_size=8))
def test_hex_many_and_bits_round_trip(hs):
    arr = np.stack(hs) if hs else np.zeros((0, 4), np.uint64)
    strings = pdq.to_hex_many(arr)
    assert strings == [pdq.to_hex(h) for h in arr]
    np.testing.assert_array_equal(pdq.from_hex_many(strings), arr)
    np.testing.assert_array_equal(pdq.bits_to_hashes(pdq.hashes_to_bits(arr)), arr)


def test_bit_order_matches_hex_reading_order():
    bits = np.zeros(256, np.uint8)
    bits[0] = 1  # first bit of pdqhash's vector = most significant bit of the hex
    bits[255] = 1
    assert pdq.to_hex(pdq.bits_to_hashes(bits)) == "8" + "0" * 62 + "1"
    for row in _reference_rows()[:3]:
        h = pdq.from_hex(row["pdq_hex"])
        assert pdq.to_hex(h) == row["pdq_hex"]
        assert int("".join(map(str, pdq.hashes_to_bits(h))), 2) == int(row["pdq_hex"], 16)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0" * 63, "64 hex digits"),
        ("0" * 65, "64 hex digits"),
        ("0x" + "0" * 62, "non-hex character 'x'"),
        ("g" + "0" * 63, "non-hex character 'g'"),
        (" " + "0" * 63, "non-hex character ' '"),
        ("_" + "0" * 63, "non-hex character '_'"),
        ("", "64 hex digits"),
    ],
)
def test_from_hex_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        pdq.from_hex(bad)


def test_from_hex_rejects_non_str():
    with pytest.raises(ValueError, match="must be a str"):
        pdq.from_hex(b"0" * 64)  # type: ignore[arg-type]


@given(st.lists(words, min_size=1, max_size=5), st.lists(words, min_size=1, max_size=5))
def test_hamming_broadcasts_and_counts_bits(a, b):
    A, B = np.stack(a), np.stack(b)
    d = pdq.hamming(A[:, None, :], B[None, :, :])
    assert d.shape == (len(a), len(b)) and d.dtype == np.int32
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            expect = sum(bin(int(u) ^ int(v)).count("1") for u, v in zip(x, y))
            assert d[i, j] == expect


def test_hamming_extremes():
    z = np.zeros(4, np.uint64)
    assert pdq.hamming(z, ~z) == 256
    assert pdq.hamming(z, z) == 0


def test_batched_hash_quality_and_mirror_equal_one_at_a_time() -> None:
    # Hash and mirror share one median pass, quality one buffer: rows must not see each other.
    from floodwall.sim.render import sample_frames

    frames = sample_frames(9, size=64, seed=3)
    h, q, m = pdq.hash_frames(frames, with_mirror=True)
    for i in range(len(frames)):
        hi, qi, mi = pdq.hash_frames(frames[i : i + 1], with_mirror=True)
        assert (hi[0] == h[i]).all() and qi[0] == q[i] and (mi[0] == m[i]).all()
    assert not (h == m).all(axis=1).all()  # the mirror hash is its own
