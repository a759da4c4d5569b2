"""The floodwall replay, this tree against a baseline tree, side by side in one run.

Each round runs ``floodwall replay`` once per tree in a fresh process (same scenario, scale, seed and
policy; the order alternates between rounds so drift on a shared machine hits both), and reports
wall time, peak memory and the ratio. The replay's figures must be the same in every round of a tree;
``--same-figures`` also requires them to equal the baseline's (only where no bug fix changed them).

    python bench/bench_replay.py --base /tmp/base/src --scale 0.02 --seed 7 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE_SRC = Path(__file__).resolve().parent.parent / "src"
# Figures that depend on the machine, not on what the engine decided.
_VOLATILE = {"wall_seconds", "wall_clock_seconds", "command", "provenance", "elapsed", "generated_at"}


def _strip(x: object) -> object:
    """The report without wall-clock fields, for comparing what the engine decided."""
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in _VOLATILE}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def run_once(src: Path, args: argparse.Namespace, out: Path) -> tuple[float, float, int, dict]:
    """One replay in a fresh process under ``src``: (wall seconds, CPU seconds, peak RSS in KiB, report)."""
    cmd = [sys.executable, "-m", "floodwall.cli", "replay", args.scenario, "--policy", args.policy,
           "--scale", str(args.scale), "--seed", str(args.seed), "--quiet", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(src.parent))
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    cpu = ru.ru_utime + ru.ru_stime
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode:
        raise SystemExit(f"{src}: replay failed ({p.returncode}):\n{err[-2000:]}")
    return wall, cpu, int(ru.ru_maxrss), json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print each wall time, the medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=Path("/tmp/base/src"), help="the baseline tree's src/")
    ap.add_argument("--scenario", default="kuaishou-2025-12-22")
    ap.add_argument("--policy", default="floodwall")
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--same-figures", action="store_true", help="fail unless both trees' figures are equal")
    args = ap.parse_args(argv)
    trees = {"base": args.base.resolve(), "this": HERE_SRC}
    walls: dict[str, list[float]] = {k: [] for k in trees}
    cpus: dict[str, list[float]] = {k: [] for k in trees}
    rss: dict[str, list[int]] = {k: [] for k in trees}
    figures: dict[str, object] = {}
    print(f"replay {args.scenario} --policy {args.policy} --scale {args.scale:g} --seed {args.seed}; "
          f"base={trees['base']} this={trees['this']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ["base", "this"] if r % 2 == 0 else ["this", "base"]
            for name in order:
                wall, cpu, peak, report = run_once(trees[name], args, Path(tmp) / f"{name}.json")
                walls[name].append(wall)
                cpus[name].append(cpu)
                rss[name].append(peak)
                fig = _strip(report.get("policies", report))
                if name in figures and figures[name] != fig:
                    raise SystemExit(f"{name}: figures differ between rounds (the replay is not deterministic)")
                figures[name] = fig
                print(f"round {r + 1} {name:>4}: {wall:7.2f} s wall, {cpu:7.2f} s CPU, peak RSS {peak / 1024:6.0f} MiB", flush=True)
    mb, mt = statistics.median(walls["base"]), statistics.median(walls["this"])
    print(f"median wall: base {mb:.2f} s, this {mt:.2f} s; this is {mb / mt:.2f}x faster "
          f"(per round: {', '.join(f'{b / t:.2f}x' for b, t in zip(walls['base'], walls['this']))})")
    cb, ct = statistics.median(cpus["base"]), statistics.median(cpus["this"])
    print(f"median CPU: base {cb:.2f} s, this {ct:.2f} s; this is {cb / ct:.2f}x faster (CPU time is steadier than "
          f"wall time on a shared machine)")
    print(f"peak RSS: base {max(rss['base']) / 1024:.0f} MiB, this {max(rss['this']) / 1024:.0f} MiB")
    same = figures["base"] == figures["this"]
    print(f"figures equal to the baseline's: {same}")
    return 1 if args.same_figures and not same else 0


if __name__ == "__main__":
    sys.exit(main())
