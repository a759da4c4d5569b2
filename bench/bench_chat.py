"""Benchmark for floodwall.content.chat: set sizes, held-out P/R/F1, a PR table, throughput, training time.

Usage: python bench/bench_chat.py
"""

from __future__ import annotations

import platform
import time

import numpy as np

from floodwall.content.chat import load_lines, train


def prf(y: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float, float, int, int, int]:
    """Precision, recall, F1, tp, fp, fn at threshold ``t``."""
    pred = s >= t
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    f = 2 * p * r / max(1e-12, p + r)
    return p, r, f, tp, fp, fn


def main() -> None:
    """Run the benchmark and print a plain-text report."""
    lines = load_lines()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    for split in ("train", "test"):
        ys = [ln.label for ln in lines if ln.split == split]
        print(f"{split:5s}: {len(ys):4d} lines  positives={sum(ys):4d}  negatives={len(ys) - sum(ys):4d}")

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        clf = train(lines)
        times.append(time.perf_counter() - t0)
    print(f"training (4-fold CV threshold + final fit): best {min(times):.3f} s, mean {np.mean(times):.3f} s")
    print(f"threshold chosen on train (out-of-fold F0.5): {clf.threshold:.2f}")

    test = [ln for ln in lines if ln.split == "test"]
    y = np.array([ln.label for ln in test])
    s = clf.score_many([ln.text for ln in test])
    p, r, f, tp, fp, fn = prf(y, s, clf.threshold)
    print(f"\nheld-out test @ {clf.threshold:.2f}: precision={p:.4f} recall={r:.4f} F1={f:.4f} "
          f"(tp={tp} fp={fp} fn={fn})")

    print("\nthreshold  precision  recall  F1      fp  fn")
    for t in sorted({0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, round(clf.threshold, 2)}):
        p, r, f, _, fp, fn = prf(y, s, t)
        mark = "  <- default" if t == round(clf.threshold, 2) else ""
        print(f"  {t:.2f}     {p:.4f}     {r:.4f}  {f:.4f}  {fp:3d} {fn:3d}{mark}")

    errs = np.flatnonzero((s >= clf.threshold) != (y == 1))
    if len(errs):
        print("\nheld-out errors at the default threshold:")
        for i in errs:
            print(f"  label={y[i]} score={s[i]:.3f} {test[i].text!r}")

    texts = [ln.text for ln in lines] * 10
    clf.score_many(texts[:100])  # warm caches
    t0 = time.perf_counter()
    clf.score_many(texts)
    dt = time.perf_counter() - t0
    print(f"\nscore_many: {len(texts)} lines in {dt:.3f} s = {len(texts) / dt:,.0f} lines/s (single thread)")
    t0 = time.perf_counter()
    for t in texts[:2000]:
        clf.score(t)
    dt = time.perf_counter() - t0
    print(f"score (one at a time): {2000 / dt:,.0f} lines/s")


if __name__ == "__main__":
    main()
