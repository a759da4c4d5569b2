"""hash_frames_torch: PDQ on a torch device gives pdq.hash_frames' hashes (tested on CPU here)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="optional dependency torch not installed: pip install 'floodwall[gpu]'", exc_type=ImportError
)

from floodwall.content import gpu, pdq
from floodwall.content.gpu import gpu_available, hash_frames_torch
from floodwall.sim.render import sample_frames


def _gratings(n: int, h: int, w: int, seed: int = 1) -> np.ndarray:
    """Low-amplitude sine gratings: DCT coefficients that tie at the median (the hard case)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        f = rng.uniform(0.5, 20, 2)
        amp = rng.choice([1, 2, 4, 10, 60])
        v = 128 + amp * np.sin(2 * np.pi * (f[0] * x / w + f[1] * y / h) + rng.uniform(0, 6.3))
        out[i] = np.clip(v[..., None], 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_cpu_path_is_bit_exact_on_sample_frames(size):
    fr = sample_frames(300 if size < 256 else 80, size, seed=size)
    want_h, want_q, want_m = pdq.hash_frames(fr, with_mirror=True)
    got_h, got_q, got_m = hash_frames_torch(fr, device="cpu", with_mirror=True)
    assert got_h.dtype == np.uint64 and got_h.shape == want_h.shape
    assert got_q.dtype == np.int32
    d = pdq.hamming(want_h, got_h)
    print(f"{size}px: {len(fr)} frames, max distance {d.max()}, frames differing {(d > 0).sum()}")
    assert d.max() == 0  # bit-exact
    assert np.array_equal(want_q, got_q)
    assert np.array_equal(want_m, got_m)


@pytest.mark.parametrize("shape", [(240, 320), (200, 360), (33, 47), (5, 5)])
def test_cpu_path_other_shapes_and_hard_frames(shape):
    h, w = shape
    rng = np.random.default_rng(h * w)
    fr = np.concatenate(
        [
            _gratings(24, h, w),
            rng.integers(0, 256, (8, h, w, 3), dtype=np.uint8),
            np.full((4, h, w, 3), rng.integers(0, 256, (4, 1, 1, 3)), np.uint8),  # exactly flat
        ]
    )
    want_h, want_q = pdq.hash_frames(fr)
    got_h, got_q = hash_frames_torch(fr, device="cpu")
    assert np.array_equal(want_q, got_q)
    assert pdq.hamming(want_h, got_h).max() == 0


def test_luma_downsample_is_bit_identical():
    for size in (64, 128, 256, 512):
        fr = sample_frames(16, size, seed=3)
        want = pdq._downsample(np.ascontiguousarray(fr), pdq._workspace()).copy()
        got = gpu._downsample(torch.from_numpy(fr), "cpu").numpy()
        assert np.array_equal(want, got), size


def test_float64_dct_within_a_few_bits():
    """The CUDA default (float64 DCT), run on CPU: differs only at median ties."""
    fr = np.concatenate([sample_frames(200, 128, seed=9), _gratings(100, 128, 128)])
    want_h, want_q = pdq.hash_frames(fr)
    got_h, got_q = hash_frames_torch(fr, device="cpu", dct_dtype="float64")
    assert np.array_equal(want_q, got_q)
    d = pdq.hamming(want_h, got_h)
    good = want_q >= pdq.MIN_QUALITY
    print(f"float64 DCT: max distance {d[good].max()} on quality>=50, {(d > 0).sum()} of {len(d)} frames differ")
    assert d[good].max() <= 4


def test_tensor_input_chunks_and_tiny_frames():
    fr = sample_frames(50, 64, seed=11)
    want_h, want_q = pdq.hash_frames(fr)
    got_h, got_q = hash_frames_torch(torch.from_numpy(fr), device="cpu", chunk=7)
    assert np.array_equal(want_h, got_h) and np.array_equal(want_q, got_q)
    h, q = hash_frames_torch(np.zeros((3, 4, 9, 3), np.uint8), device="cpu")
    assert not h.any() and not q.any()
    h, q = hash_frames_torch(np.zeros((0, 64, 64, 3), np.uint8), device="cpu")
    assert h.shape == (0, 4) and q.shape == (0,)


def test_bad_input_rejected():
    with pytest.raises(ValueError):
        hash_frames_torch(np.zeros((2, 64, 64), np.uint8), device="cpu")
    with pytest.raises(ValueError):
        hash_frames_torch(np.zeros((2, 64, 64, 3), np.float32), device="cpu")
    with pytest.raises(ValueError):
        hash_frames_torch(np.zeros((2, 64, 64, 3), np.uint8), device="cpu", dct_dtype="float16")


def test_gpu_available_is_a_bool():
    assert isinstance(gpu_available(), bool)
    if not gpu_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            hash_frames_torch(np.zeros((1, 64, 64, 3), np.uint8), device="cuda")


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert gpu.gpu_available() is False and gpu.torch_available() is False
    with pytest.raises(ImportError, match=r"floodwall\[gpu\]"):
        hash_frames_torch(np.zeros((1, 64, 64, 3), np.uint8), device="cpu")


@pytest.mark.skipif(not gpu_available(), reason="no CUDA device")
@pytest.mark.parametrize("size", [64, 128, 256])
def test_cuda_matches_cpu_reference(size):
    fr = sample_frames(1000, size, seed=size)
    want_h, want_q = pdq.hash_frames(fr)
    pinned = torch.from_numpy(fr).pin_memory()
    got_h, got_q = hash_frames_torch(pinned, device="cuda")
    assert np.array_equal(want_q, got_q)
    d = pdq.hamming(want_h, got_h)
    print(f"cuda {size}px: max distance {d.max()}, frames differing {(d > 0).sum()}")
    assert d[want_q >= pdq.MIN_QUALITY].max() <= 4
