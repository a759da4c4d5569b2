"""Benchmark the simulator's frame renderer: single-core frames/s and PDQ robustness of looks.

Usage:  python bench/bench_render.py [--batches 30] [--draws 300]

Speed is measured on ONE core (BLAS/OpenMP pinned to one thread before numpy loads) for a
realistic 2,048-frame batch (~85 % honest rooms without a look, ~5 % EVENT rooms and ~10 %
CLIP rooms with "mild" looks), advanced by 2 s of stream time per batch (a keyframe every
2 s per room) after a warm-up, so base-image cache misses happen at the steady-state rate.
Both wall-clock (best of 3 runs) and process CPU time are reported: CPU time is the honest
single-core figure on a shared machine.

PDQ distances are Hamming distances between the perturbed frame and the same frame with no
look, using the ``pdqhash`` package; "dihedral" takes the minimum over the 8 dihedral hashes
of the perturbed frame, which is how PDQ deployments catch mirrored copies.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import pdqhash

from floodwall.sim.render import CLIP, EVENT, KIND_NAMES, Look, Renderer

MATCH = 31


def realistic_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Look | None]]:
    """~85 % honest rooms (no look), ~5 % EVENT rooms and ~10 % CLIP rooms with mild looks."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    kinds = np.where(u < 0.85, rng.integers(0, 4, n), np.where(u < 0.90, EVENT, CLIP))
    seeds = np.where(kinds < 4, rng.choice(10**9, n, replace=False), np.where(kinds == EVENT, rng.integers(0, 3, n), rng.integers(0, 4, n)))
    # Honest rooms have been live for up to 4 h; events share their clock; attack rooms
    # each started their clip loop at a random moment.
    t0 = np.where(kinds < 4, rng.uniform(0, 4 * 3600, n), np.where(kinds == EVENT, 1800.0 + 600.0 * seeds, rng.uniform(0, 600, n)))
    looks = [Look.random(rng, "mild") if k >= EVENT else None for k in kinds]
    return kinds, seeds, t0, looks


def throughput(kinds: np.ndarray, seeds: np.ndarray, t0: np.ndarray, looks: list[Look | None] | None, batches: int, step: float = 2.0) -> dict[str, float]:
    """Steady-state frames/s (wall best of 3, CPU) plus cold-start and cache-miss figures."""
    r = Renderer(64)
    n = len(kinds)
    c0 = time.process_time()
    w0 = time.perf_counter()
    r.render(kinds, seeds, t0, looks)
    cold_cpu = time.process_time() - c0
    cold_wall = time.perf_counter() - w0
    for i in range(1, 4):  # warm-up
        r.render(kinds, seeds, t0 + step * i, looks)
    walls, cpus, clock = [], [], 4
    m0 = r.misses
    for _ in range(3):
        c0 = time.process_time()
        w0 = time.perf_counter()
        for _ in range(batches):
            r.render(kinds, seeds, t0 + step * clock, looks)
            clock += 1
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    frames = n * batches
    return {
        "wall_fps": frames / min(walls),
        "cpu_fps": frames / min(cpus),
        "cold_wall_fps": n / cold_wall,
        "cold_cpu_fps": n / cold_cpu,
        "miss_per_batch": (r.misses - m0) / (3 * batches),
    }


def pdq(img: np.ndarray) -> np.ndarray:
    return np.asarray(pdqhash.compute(np.ascontiguousarray(img))[0], np.uint8)


def pdq8(img: np.ndarray) -> np.ndarray:
    return np.asarray(pdqhash.compute_dihedral(np.ascontiguousarray(img))[0], np.uint8)


def distances(kind: int, look_of: Callable[[np.random.Generator], Look], draws: int, seed: int, dihedral: bool) -> np.ndarray:
    """PDQ distance of look-perturbed frames to the clean frame, over random sources and times."""
    rng = np.random.default_rng(seed)
    r = Renderer(64)
    ids = rng.integers(0, 500, draws)
    t = rng.uniform(0, 300, draws) if kind == CLIP else rng.uniform(0, 3 * 3600, draws)
    looks = [look_of(rng) for _ in range(draws)]
    clean = r.render(np.full(draws, kind), ids, t, None)
    pert = r.render(np.full(draws, kind), ids, t, looks)
    out = []
    for a, b in zip(clean, pert):
        hb = pdq8(b) if dihedral else pdq(b)[None]
        out.append(int((pdq(a)[None] != hb.reshape(-1, 256)).sum(1).min()))
    return np.array(out)


def row(name: str, d: np.ndarray) -> str:
    return f"| {name} | {np.median(d):.0f} | {np.percentile(d, 90):.0f} | {d.max()} | {np.mean(d <= MATCH):.1%} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=30, help="batches per timed run (3 runs)")
    ap.add_argument("--draws", type=int, default=300, help="source frames per PDQ distribution")
    args = ap.parse_args()

    print(f"# Frame renderer benchmark\n\npython {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, 1 thread\n")
    print("## Speed (2,048-frame batches, stream clock +2 s per batch)\n")
    print("| batch | steady wall fps (best of 3) | steady CPU fps | cold wall fps | cold CPU fps | base-image misses / batch |")
    print("|---|---|---|---|---|---|")
    kinds, seeds, t0, looks = realistic_batch(2048, seed=0)
    cases: list[tuple[str, tuple]] = [("realistic mix (85 % honest, 5 % event + mild, 10 % clip + mild)", (kinds, seeds, t0, looks))]
    rng = np.random.default_rng(1)
    for k in range(6):
        ks = np.full(2048, k)
        ss = rng.choice(10**9, 2048, replace=False) if k < EVENT else rng.integers(0, 4, 2048)
        ts = rng.uniform(0, 4 * 3600, 2048) if k != CLIP else rng.uniform(0, 600, 2048)
        cases.append((f"{KIND_NAMES[k]}, no look", (ks, ss, ts, None)))
        if k >= EVENT:
            cases.append((f"{KIND_NAMES[k]}, mild looks", (ks, ss, ts, [Look.random(rng, "mild") for _ in range(2048)])))
    cases.append(("clip, strong looks", (np.full(2048, CLIP), rng.integers(0, 4, 2048), rng.uniform(0, 600, 2048), [Look.random(rng, "strong") for _ in range(2048)])))
    for name, (k_, s_, t_, l_) in cases:
        res = throughput(k_, s_, t_, l_, args.batches if "realistic" in name else max(3, args.batches // 3))
        print(f"| {name} | {res['wall_fps']:,.0f} | {res['cpu_fps']:,.0f} | {res['cold_wall_fps']:,.0f} | {res['cold_cpu_fps']:,.0f} | {res['miss_per_batch']:.1f} |")

    print(f"\n## PDQ distance to the unperturbed frame ({args.draws} CLIP frames per row, threshold {MATCH})\n")
    print(f"| perturbation | median | p90 | max | share <= {MATCH} |")
    print("|---|---|---|---|---|")
    n = args.draws
    fixed: list[tuple[str, Look, bool]] = [
        ("crop 5 % (2.5 % each side)", Look(crop=(0.025,) * 4), False),
        ("crop 10 % (5 % each side)", Look(crop=(0.05,) * 4), False),
        ("crop 5 % left only", Look(crop=(0.05, 0, 0, 0)), False),
        ("pad 20 % solid", Look(pad=0.2), False),
        ("pad 20 % blur", Look(pad=0.2, pad_mode="blur"), False),
        ("rotate 4 deg", Look(rotate=4.0), False),
        ("mirror (plain PDQ)", Look(mirror=True), False),
        ("mirror (dihedral)", Look(mirror=True), True),
        ("jpeg 50", Look(jpeg=50), False),
        ("brightness +0.1, contrast 1.2", Look(brightness=0.1, contrast=1.2), False),
        ("half size (scale 0.5)", Look(scale=0.5), False),
        ("hue 20 deg", Look(hue=20.0), False),
        ("noise sigma 6", Look(noise=6.0), False),
    ]
    print(row("overlay (random watermark)", distances(CLIP, lambda g: Look(overlay=int(g.integers(0, 2**31))), n, 2, False)))
    for i, (name, lk, dih) in enumerate(fixed):
        print(row(name, distances(CLIP, lambda g, lk=lk: lk, n, 3 + i, dih)))
    print(row("**mild** (dihedral)", distances(CLIP, lambda g: Look.random(g, "mild"), n, 40, True)))
    print(row("mild (plain PDQ)", distances(CLIP, lambda g: Look.random(g, "mild"), n, 40, False)))
    print(row("mild, EVENT frames (dihedral)", distances(EVENT, lambda g: Look.random(g, "mild"), n, 41, True)))
    print(row("**strong** (dihedral)", distances(CLIP, lambda g: Look.random(g, "strong"), n, 42, True)))
    print(row("broadcast, EVENT frames", distances(EVENT, lambda g: Look.random(g, "broadcast"), n, 43, False)))


if __name__ == "__main__":
    main()
