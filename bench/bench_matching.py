"""Bank matching: floodwall HashIndex (numpy MIH) vs python-threatexchange's PDQIndex (faiss MIH).

Usage: python bench/bench_matching.py [--bank N] [--queries M] [--threads 1,2] [--single K]

Bank: N random PDQ hashes. Queries: half are near copies of bank entries at Hamming
distance 0..30 (uniform), half are unrelated random hashes. Radius 31 (PDQ's
confident-match threshold). With several thread counts the script re-runs itself
once per count, pinned to that many CPUs.
"""

from __future__ import annotations

import os
import sys


def _thread_arg(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1,2"


# Thread count must be fixed before numpy / faiss load their thread pools.
_THREADS = _thread_arg(sys.argv)
if "," not in _THREADS:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _THREADS
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: int(_THREADS)]))

import argparse
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from floodwall.content.index import HashIndex
from floodwall.content.pdq import from_hex_many, to_hex_many

RADIUS = 31


def make_data(n_bank: int, n_queries: int, seed: int):
    """Random bank; queries = planted near copies (distance 0..30) then random hashes."""
    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 2**64 - 1, (n_bank, 4), dtype=np.uint64, endpoint=True)
    n_plant = n_queries // 2
    src = rng.integers(0, n_bank, n_plant)
    dist = rng.integers(0, 31, n_plant)
    # d distinct bit positions per planted query: the d smallest of 256 random keys.
    ranks = np.argsort(rng.random((n_plant, 256)), axis=1).argsort(axis=1)
    flips = np.packbits(ranks < dist[:, None], axis=1).view(">u8").astype(np.uint64)
    planted = bank[src] ^ flips
    unrelated = rng.integers(0, 2**64 - 1, (n_queries - n_plant, 4), dtype=np.uint64, endpoint=True)
    return bank, np.concatenate([planted, unrelated]), src, dist


def recall(pairs: set[tuple[int, int]], src: np.ndarray) -> float:
    return float(np.mean([(i, int(s)) in pairs for i, s in enumerate(src)]))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run_ours(bank, queries, src, threads: int, n_single: int) -> dict:
    index, t_build = timed(lambda: _build_ours(bank))

    def batched():
        if threads == 1:
            return index.query(queries, RADIUS)
        parts = np.array_split(np.arange(len(queries)), threads)
        with ThreadPoolExecutor(threads) as ex:
            res = list(ex.map(lambda p: index.query(queries[p], RADIUS), parts))
        return tuple(np.concatenate([r[j] + (p[0] if j == 0 else 0) for r, p in zip(res, parts)]) for j in range(3))

    batched()  # warm-up (page-ins)
    (qi, ids, _), t_query = timed(batched)
    sample = queries[:n_single]
    _, t_single = timed(lambda: [index.query(sample[i : i + 1], RADIUS) for i in range(len(sample))])
    pairs = set(zip(qi.tolist(), ids.tolist()))
    return {"build": t_build, "batch": t_query, "single": t_single / max(1, n_single),
            "recall": recall(pairs, src), "pairs": pairs, "random_hits": int((qi >= len(src)).sum())}


def _build_ours(bank: np.ndarray) -> HashIndex:
    index = HashIndex()
    index.add(bank, np.arange(len(bank), dtype=np.int64))
    return index


def run_threatexchange(bank_hex, queries, query_hex, src, threads: int, n_single: int) -> dict:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    faiss.omp_set_num_threads(threads)
    index, t_build = timed(lambda: PDQIndex(entries=zip(bank_hex, range(len(bank_hex)))))
    multi = index.index  # PDQMultiHashIndex: batched API of the same faiss index
    (res, t_query) = timed(lambda: multi.search_with_distance_in_result(query_hex, RADIUS))
    pairs = set()
    for i, h in enumerate(query_hex):
        for match_id, _, _ in res.get(h, []):
            pairs.add((i, int(match_id)))
    # The faiss engine alone, without the Python result conversion.
    raw = queries.astype(">u8").view(np.uint8).reshape(len(queries), 32)
    multi.mih_index.nflip = RADIUS // multi.mih_index.nhash
    _, t_raw = timed(lambda: multi.faiss_index.range_search(raw, RADIUS + 1))
    sample = query_hex[:n_single]
    _, t_single = timed(lambda: [index.query(h) for h in sample])
    return {"build": t_build, "batch": t_query, "raw": t_raw, "single": t_single / max(1, n_single),
            "recall": recall(pairs, src), "pairs": pairs, "random_hits": sum(1 for i, _ in pairs if i >= len(src))}


def child(args) -> None:
    threads = int(args.threads)
    bank, queries, src, _ = make_data(args.bank, args.queries, args.seed)
    bank_hex = to_hex_many(bank)
    query_hex = to_hex_many(queries)
    _, t_parse = timed(lambda: from_hex_many(bank_hex))
    m = len(queries)
    print(f"## {threads} thread(s): bank {args.bank:,}, queries {m:,} ({len(src):,} planted at 0..30 bits, "
          f"rest random), radius {RADIUS}, one-at-a-time sample {args.single}")
    ours = run_ours(bank, queries, src, threads, args.single)
    rows = [("floodwall HashIndex (numpy MIH)", ours, None)]
    te = None
    if not args.skip_threatexchange:
        try:
            te = run_threatexchange(bank_hex, queries, query_hex, src, threads, args.single)
            rows.append(("threatexchange PDQIndex (faiss MIH)", te, te["raw"]))
        except ImportError as exc:
            print(f"threatexchange/faiss not importable: {exc}")
    print(f"{'index':<38} | {'build s':>8} | {'batch q/s':>10} | {'us/query':>9} | {'engine-only q/s':>15} | "
          f"{'single us/q':>11} | {'recall':>6} | random hits")
    for name, r, raw in rows:
        eng = f"{m / raw:>15,.0f}" if raw else f"{'(same)':>15}"
        print(f"{name:<38} | {r['build']:>8.2f} | {m / r['batch']:>10,.0f} | {r['batch'] / m * 1e6:>9.1f} | {eng} | "
              f"{r['single'] * 1e6:>11.1f} | {r['recall']:>6.4f} | {r['random_hits']}")
    if te is not None:
        same = ours["pairs"] == te["pairs"]
        print(f"ratio (ours / threatexchange): batched {te['batch'] / ours['batch']:.1f}x, "
              f"vs faiss engine alone {te['raw'] / ours['batch']:.1f}x, "
              f"one-at-a-time {te['single'] / ours['single']:.1f}x, "
              f"build {te['build'] / ours['build']:.1f}x; identical result sets: {same}")
    print(f"(hex parsing of the bank for our index, not included above: {t_parse:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-threatexchange", action="store_true")
    args = ap.parse_args()
    if "," in args.threads:
        for t in args.threads.split(","):
            argv = [a for a in sys.argv[1:]]
            if "--threads" in argv:
                i = argv.index("--threads")
                del argv[i : i + 2]
            argv = [a for a in argv if not a.startswith("--threads=")]
            subprocess.run([sys.executable, __file__, *argv, "--threads", t.strip()], check=True)
            print()
        return
    child(args)


if __name__ == "__main__":
    main()
