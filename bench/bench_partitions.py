"""What partitioning the log by account costs the defence, with and without the coordinator.

Plays one scenario's plan three ways on the same seed: one engine (the embedded service), N engines on
a log partitioned by account with nothing between them, and N engines with the coordinator between
them (the NATS service's shape: ``partitions/inprocess.py``, the coordinator's answers reaching the
partitions one tick, 1 s, later). The scorer reads the simulator's truth, as in every replay.

    python bench/bench_partitions.py --scenario kuaishou-2025-12-22 --scale 0.05 --partitions 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from floodwall.engine.policy import load_policy
from floodwall.sim.replay import run_policy
from floodwall.sim.scenario import load_scenario

ROWS = [
    ("time to takedown, median (s)", lambda r: r["ttd_seconds"]["median"]),
    ("time to takedown, p90 (s)", lambda r: r["ttd_seconds"]["p90"]),
    ("time to takedown, p99 (s)", lambda r: r["ttd_seconds"]["p99"]),
    ("attack streams", lambda r: r["attack_streams"]),
    ("attack streams never removed", lambda r: r["attack_streams_never_removed"]),
    ("exposure (viewer-minutes)", lambda r: r["exposure_viewer_minutes"]),
    ("honest streams interrupted", lambda r: r["legit_streams_wrongly_interrupted"]),
    ("honest streams limited", lambda r: r["legit_streams_limited"]),
    ("review items", lambda r: r["review_items"]),
    ("rings found", lambda r: r["rings"]),
    ("hijacked owners notified", lambda r: r["hijacked_owners_notified"]),
    ("wall seconds", lambda r: r["wall_seconds"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="kuaishou-2025-12-22")
    ap.add_argument("--policy", default="floodwall")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--json", help="write every run's full report here")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    policy = load_policy(args.policy)
    n = args.partitions
    runs = {"one engine": (1, True), f"{n} partitions, no coordinator": (n, False),
            f"{n} partitions + coordinator": (n, True)}
    results = {}
    print(f"{args.scenario} seed {args.seed} scale {args.scale}, policy {args.policy}, {os.cpu_count()} CPUs",
          flush=True)
    for name, (parts, coord) in runs.items():
        t = time.perf_counter()
        results[name] = run_policy(scenario, policy, seed=args.seed, scale=args.scale, partitions=parts,
                                   coordinator=coord, progress=sys.stderr.isatty())
        print(f"  {name}: {time.perf_counter() - t:.0f} s", flush=True)
    width = max(len(r[0]) for r in ROWS)
    cols = list(runs)
    print(f"{'':{width}}  " + "  ".join(f"{c:>30}" for c in cols))
    for label, get in ROWS:
        print(f"{label:{width}}  " + "  ".join(f"{get(results[c])!s:>30}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "series"}
                                               for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
