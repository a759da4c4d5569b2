"""PDQ hashing throughput: floodwall.content.pdq (batched numpy) vs pdqhash (C++, one call per frame).

Usage: python bench/bench_hashing.py [--frames N] [--sizes 64,128,256] [--seed S] [--repeats R] [--synthetic]
       python bench/bench_hashing.py --agreement N [--sizes ...]   (bit agreement sweep only)

Runs on one core: thread-count variables are set before numpy is imported and the
process is pinned to a single CPU.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import platform
import time

import numpy as np
import pdqhash

from floodwall.content import pdq


def synthetic_frames(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth frames with structure: bilinear-upsampled random colour grid plus boxes and discs."""
    rng = np.random.default_rng(seed)
    g = 6
    grid = rng.integers(0, 256, (n, g, g, 3)).astype(np.float32)
    pos = np.linspace(0, g - 1, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int64), g - 2)
    w = pos - i0
    wy = w[None, :, None, None]
    rows = grid[:, i0] * (1 - wy) + grid[:, i0 + 1] * wy  # (n, size, g, 3)
    wx = w[None, None, :, None]
    img = rows[:, :, i0] * (1 - wx) + rows[:, :, i0 + 1] * wx  # (n, size, size, 3)
    yy, xx = np.mgrid[0:size, 0:size]
    for k in range(n):
        for _ in range(2):
            y0, x0 = rng.integers(0, size, 2)
            h, w = rng.integers(size // 8, size // 2, 2)
            img[k, y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
        cy, cx, r = rng.integers(0, size), rng.integers(0, size), rng.integers(size // 10, size // 3)
        img[k][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return np.ascontiguousarray(img.clip(0, 255).astype(np.uint8))


def load_frames(n: int, size: int, seed: int) -> tuple[np.ndarray, str]:
    """Frames from floodwall.sim.render.sample_frames when it works, else the synthetic generator."""
    try:
        from floodwall.sim.render import sample_frames  # type: ignore[import-not-found]
    except ImportError:
        return synthetic_frames(n, size, seed), "synthetic (grid + shapes)"
    try:
        frames = np.asarray(sample_frames(n, size, seed))
    except Exception as exc:  # another team's module, possibly mid-edit: fall back, say why
        return synthetic_frames(n, size, seed), f"synthetic (sim.render failed: {type(exc).__name__})"
    if frames.shape != (n, size, size, 3) or frames.dtype != np.uint8:
        return synthetic_frames(n, size, seed), f"synthetic (sim.render gave {frames.shape} {frames.dtype})"
    # Frames arrive contiguous from a decoder; do not time a strided layout.
    return np.ascontiguousarray(frames), "floodwall.sim.render.sample_frames"


def sinusoid_frames(n: int, size: int, seed: int) -> np.ndarray:
    """Noise-free gratings of random amplitude: near-flat spectra, qualities spread over 0..100."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        amp = rng.uniform(0, 150)
        fx, fy = rng.uniform(0.5, 4, 2)
        base = 128 + amp * np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 6))
        out[k] = np.stack([base * c for c in rng.uniform(0.6, 1.2, 3)], -1).clip(0, 255)
    return out


def agreement(n_frames: int, sizes: list[int], seed: int) -> None:
    """Bit agreement with pdqhash.compute over several frame families."""
    print(f"# agreement with pdqhash.compute, up to {n_frames} frames per family and size (~256 MB cap)")
    header = (f"{'size':>7} | {'family':<26} | {'frames':>6} | {'differ':>6} | {'max ham':>7} | "
              f"{'differ q>=50':>12} | {'max q>=50':>9} | quality diffs")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(seed)
    for size in sizes:
        n = min(n_frames, max(50, (256 << 20) // (size * size * 3)))  # ~256 MB per family
        fams = {
            "uniform random": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
            "grid + shapes": synthetic_frames(n, size, seed + size),
            "sine gratings (near-flat)": sinusoid_frames(n, size, seed + size),
        }
        frames, source = load_frames(n, size, seed + 7 * size)
        if source.startswith("floodwall"):
            fams["sim.render.sample_frames"] = frames
        for fam, frames in fams.items():
            ours, q = pdq.hash_frames(frames)
            out = [pdqhash.compute(f) for f in frames]
            ref = pdq.bits_to_hashes(np.stack([b for b, _ in out]))
            ref_q = np.array([x for _, x in out])
            d = pdq.hamming(ours, ref)
            good = q >= pdq.MIN_QUALITY
            dg = d[good] if good.any() else np.zeros(1, np.int32)
            print(f"{size:>4}^2 | {fam:<26} | {n:>6} | {(d > 0).sum():>6} | {d.max():>7} | "
                  f"{(dg > 0).sum():>12} | {dg.max():>9} | {(q != ref_q).sum()}")


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1024)
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--agreement", type=int, default=0, help="run only the agreement sweep, N frames per family")
    ap.add_argument("--synthetic", action="store_true", help="use the built-in generator even if sim.render exists")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.agreement:
        agreement(args.agreement, sizes, args.seed)
        return

    print(f"# PDQ hashing, 1 core ({platform.processor() or platform.machine()}), numpy {np.__version__}, "
          f"pdqhash {pdqhash.__version__}, {args.frames} frames per size, best of {args.repeats}")
    header = (f"{'size':>7} | {'pdqhash fr/s':>12} | {'ours fr/s':>10} | {'ratio':>5} | "
              f"{'+mirror fr/s':>12} | {'max ham':>7} | {'mean ham':>8} | {'differ':>6} | {'q>=50':>5} | frames")
    print(header)
    print("-" * len(header))
    for size in sizes:
        if args.synthetic:
            frames, source = synthetic_frames(args.frames, size, args.seed + size), "synthetic (grid + shapes)"
        else:
            frames, source = load_frames(args.frames, size, args.seed + size)
        ref_out = [pdqhash.compute(f) for f in frames]  # warm-up and reference
        t_ref = best_of(args.repeats, lambda fr=frames: [pdqhash.compute(f) for f in fr])
        pdq.hash_frames(frames)  # warm-up: sizes the reusable scratch buffers
        t_ours = best_of(args.repeats, lambda fr=frames: pdq.hash_frames(fr))
        t_mirror = best_of(args.repeats, lambda fr=frames: pdq.hash_frames(fr, with_mirror=True))
        ours, quality = pdq.hash_frames(frames)
        ref = pdq.bits_to_hashes(np.stack([b for b, _ in ref_out]))
        ref_q = np.array([q for _, q in ref_out])
        d = pdq.hamming(ours, ref)
        assert (ref_q == quality).all(), "quality differs from pdqhash"
        n = len(frames)
        print(f"{size:>4}^2 | {n / t_ref:>12,.0f} | {n / t_ours:>10,.0f} | {t_ref / t_ours:>5.2f} | "
              f"{n / t_mirror:>12,.0f} | {d.max():>7d} | {d.mean():>8.4f} | {(d > 0).sum():>6d} | "
              f"{(quality >= pdq.MIN_QUALITY).sum():>5d} | {source}")


if __name__ == "__main__":
    main()
