"""Run the detection bars: replays of scenarios and seeds, manual vs floodwall, with pass/fail per bar.

    python bench/bars.py --scale 0.1 --seeds 1 2 3 --scenarios kuaishou-2025-12-22 hijacked-aged --json out/bars.json
"""

from __future__ import annotations

import argparse
import json
import time

from floodwall.sim.replay import run_replay
from floodwall.sim.scenario import load_scenario


def check(fw: dict, manual: dict) -> dict[str, tuple[bool, str]]:
    """Issue 3's bars for one replay: name -> (met, measured)."""
    exp_ratio = manual["exposure_viewer_minutes"] / max(fw["exposure_viewer_minutes"], 1e-9)
    ttd = fw["ttd_seconds"]
    legit = fw["legit_streams"]
    wrong = fw["legit_streams_wrongly_interrupted"]
    return {
        "exposure >= 100x lower": (exp_ratio >= 100, f"{exp_ratio:,.0f}x"),
        "ttd median <= 5 s": (ttd["median"] is not None and ttd["median"] <= 5, f"{ttd['median']}"),
        "ttd p99 <= 30 s": (ttd["p99"] is not None and ttd["p99"] <= 30, f"{ttd['p99']}"),
        "never removed = 0": (fw["attack_streams_never_removed"] == 0, f"{fw['attack_streams_never_removed']}"),
        "honest interrupted <= 0.1%": (wrong <= 0.001 * legit, f"{wrong} of {legit}"),
        "every frame hashed": (fw["frames_hashed"] == fw["frames"], f"{fw['frames_hashed']:,} of {fw['frames']:,}"),
    }


def main() -> None:
    """Run the grid and print a table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scenarios", nargs="+", default=["kuaishou-2025-12-22", "hijacked-aged"])
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for name in args.scenarios:
        for seed in args.seeds:
            t0 = time.time()
            rep = run_replay(load_scenario(name), ["manual", "floodwall"], seed=seed, scale=args.scale, progress=False)
            fw, manual = rep["policies"]["floodwall"], rep["policies"]["manual"]
            bars = check(fw, manual)
            rows.append({"scenario": name, "seed": seed, "scale": args.scale, "bars": bars, "report": rep,
                         "manual_ttd_median": manual["ttd_seconds"]["median"], "wall": round(time.time() - t0)})
            ok = all(b[0] for b in bars.values())
            print(f"{name} seed {seed} scale {args.scale}: {'ALL MET' if ok else 'SHORT'}  ({round(time.time() - t0)} s)", flush=True)
            for k, (met, val) in bars.items():
                print(f"    {'met  ' if met else 'SHORT'} {k:28} {val}", flush=True)
            if args.json:
                with open(args.json, "w") as fh:
                    json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
