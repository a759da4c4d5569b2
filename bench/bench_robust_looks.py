"""Robust matching on the simulator's own keyframes: which per-room looks it recalls, as the engine banks them.

Usage:  python bench/bench_robust_looks.py [--frames 300] [--honest 2000] [--seed 0]

Each row renders --frames clip keyframes (64 px, sim/render.py) under one look, and asks whether
each is within radius of the same keyframe in a bank. "clean bank": the keyframe without a look.
"strong bank": the keyframe under another room's strong look, which is what the engine banks in
the strong-looks scenario (a confirmed attack room's own frame). Plain is the engine's plain path
(PDQ and its mirror hash, at 31); robust is content/robust.py at 47 (query views x derived views).
Unrelated: honest keyframes (a third with a broadcast look) against the derived views of every
strong-look clip keyframe.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from floodwall.content import pdq
from floodwall.content.robust import THRESHOLD, RobustMatcher, min_distances
from floodwall.sim.render import CLIP, HONEST_KINDS, Look, Renderer


def _plain(query: np.ndarray, bank: np.ndarray) -> np.ndarray:
    h, _, m = pdq.hash_frames(query, with_mirror=True)
    b = pdq.hash_frames(bank)[0]
    return np.diagonal(min_distances(np.stack([h, m], 1), b[:, None]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--honest", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    n = a.frames
    rng = np.random.default_rng(a.seed)
    ren, rm = Renderer(64), RobustMatcher()
    clips, ts = rng.integers(0, 6, n), rng.uniform(0, 3000, n)

    def render(looks: list[Look] | None) -> np.ndarray:
        return ren.render(np.full(n, CLIP), clips, ts, looks)

    strong = [Look.random(rng, "strong") for _ in range(n)]
    banks = {"clean": render(None), "strong": render([Look.random(rng, "strong") for _ in range(n)])}
    derived = {k: rm.bank_variants(v) for k, v in banks.items()}

    def geometry(look: Look, **kw: object) -> Look:
        return Look(crop=look.crop, rotate=look.rotate, pad=look.pad, pad_mode=look.pad_mode, **kw)  # type: ignore[arg-type]

    def split(r: np.random.Generator) -> tuple[float, float, float, float]:
        sx, sy = r.random(2)
        return (0.05 * sx, 0.05 * sy, 0.05 * (1 - sx), 0.05 * (1 - sy))

    r2 = np.random.default_rng(a.seed + 1)
    rows: list[tuple[str, list[Look]]] = [
        ("crop 5%", [Look(crop=split(r2)) for _ in range(n)]),
        ("pad 20% solid", [Look(pad=0.2)] * n),
        ("pad 20% blurred", [Look(pad=0.2, pad_mode="blur")] * n),
        ("rotate 4 degrees", [Look(rotate=4.0 if r2.random() < 0.5 else -4.0) for _ in range(n)]),
        ("mirror", [Look(mirror=True)] * n),
        ("strong: its crop only", [Look(crop=x.crop) for x in strong]),
        ("strong: its rotation only", [Look(rotate=x.rotate) for x in strong]),
        ("strong: its padding only", [Look(pad=x.pad, pad_mode=x.pad_mode) for x in strong]),
        ("strong: its crop and rotation", [Look(crop=x.crop, rotate=x.rotate) for x in strong]),
        ("strong: crop, rotation, padding", [geometry(x) for x in strong]),
        ("strong: all but geometry", [dataclasses.replace(x, crop=(0, 0, 0, 0), rotate=0.0, pad=0.0) for x in strong]),
        ("strong look (the preset)", strong),
    ]
    print(f"{n} clip keyframes at 64 px, seed {a.seed}; share matched")
    print("| look | plain at 31, clean bank | robust at 47, clean bank | plain at 31, strong bank | robust at 47, strong bank |")
    print("| --- | --- | --- | --- | --- |")
    for name, looks in rows:
        q = render(looks)
        cells = []
        for b in ("clean", "strong"):
            p = _plain(q, banks[b])
            r = np.diagonal(rm.distances(q, derived[b]))
            cells += [f"{np.mean(p <= 31):.1%}", f"{np.mean(r <= THRESHOLD):.1%}"]
        print(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    m = a.honest
    kinds = np.asarray(HONEST_KINDS)[rng.integers(0, len(HONEST_KINDS), m)]
    looks = [Look.random(rng, "broadcast") if i % 3 == 0 else None for i in range(m)]
    honest = ren.render(kinds, rng.integers(0, 10**6, m), rng.uniform(0, 3600, m), looks)
    d = rm.distances(honest, derived["strong"])
    print(f"unrelated: {m} honest keyframes x {n} strong-look bank keyframes: {int((d <= THRESHOLD).sum())} of "
          f"{d.size:,} pairs within {THRESHOLD}; the closest is {int(d.min())} bits")


if __name__ == "__main__":
    main()
