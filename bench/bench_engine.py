"""The engine alone on a recorded event log, this tree against a baseline tree, side by side.

The log is recorded once (``floodwall record``, by the baseline tree, whose log both trees read:
frames as raw pixels, so both engines hash them). Each round then runs, per tree in a fresh
process: read and decode the whole log (not timed), build the engine as ``floodwall replay
--events`` does (the chat model loaded or trained before the clock starts), and time only
``Engine.handle`` over the log's one-second batches: no simulation, no rendering, no decoding.
The order of the trees alternates between rounds.

    python bench/bench_engine.py --base /tmp/base/src --scale 0.005 --seed 7 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE_SRC = Path(__file__).resolve().parent.parent / "src"

# Runs inside each tree's process; uses only names both trees have.
WORKER = r"""
import gc, json, sys, time
from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.eventlog import read_jsonl
from floodwall.adapters.store import SqlStore
from floodwall.clock import VirtualClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import DeadLetters
from floodwall.sim.replay import TICK, chat_classifier

path, policy_name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
dead = DeadLetters()
events = list(read_jsonl(path, dead))
batches, batch, end = [], [], None
if size:  # by count, as a service's loop takes whatever queued; the clock at each batch's last event
    batches = [(events[min(i + size, len(events)) - 1].ts, events[i:i + size]) for i in range(0, len(events), size)]
else:  # one simulated second each: the batching of floodwall replay --events (sim/replay.py: backtest)
    for ev in events:
        if end is not None and ev.ts >= end:
            batches.append((end, batch))
            batch = []
        if not batch or end is None or ev.ts >= end:
            end = (int(ev.ts / TICK) + 1) * TICK
        batch.append(ev)
    if batch:
        batches.append((end, batch))
policy = load_policy(policy_name)
chat = chat_classifier() if policy.engine.chat else None
clock = VirtualClock(events[0].ts)
enforcer = RecordingEnforcer()
engine = Engine(policy, clock=clock, enforcer=enforcer, store=SqlStore("sqlite://", run="bench"), chat=chat)
gc.collect()
t0, c0 = time.perf_counter(), time.process_time()
for end, b in batches:
    clock.advance_to(max(clock.now(), end))
    engine.handle(b)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
orders = sorted((o.action, o.subject, o.target, round(o.ts, 3)) for o in enforcer.orders)
print(json.dumps({"seconds": seconds, "cpu": cpu, "events": len(events), "batches": len(batches), "dead": len(dead),
                  "frames": engine.frames, "orders": len(orders),
                  "orders_digest": hash(tuple(orders)) & 0xFFFFFFFF,
                  "actions": dict(sorted(engine.actions_by_kind.items()))}))
"""


def record(base: Path, args: argparse.Namespace, out: Path) -> None:
    """Record the scenario's events once with the baseline tree."""
    cmd = [sys.executable, "-m", "floodwall.cli", "record", args.scenario, "--out", str(out),
           "--policy", args.policy, "--scale", str(args.scale), "--seed", str(args.seed), "--quiet"]
    subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(base)}, check=True, stdout=subprocess.DEVNULL)


def run_once(src: Path, log: Path, policy: str, batch: int = 0) -> dict:
    """The engine over the log in a fresh process under ``src``; its timing and what it ordered."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    p = subprocess.run([sys.executable, "-c", WORKER, str(log), policy, str(batch)], env=env, capture_output=True,
                       text=True, cwd=str(src.parent))
    if p.returncode:
        raise SystemExit(f"{src}: engine run failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Record (unless the log exists), run the rounds, print times and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=Path("/tmp/base/src"), help="the baseline tree's src/")
    ap.add_argument("--scenario", default="kuaishou-2025-12-22")
    ap.add_argument("--policy", default="floodwall")
    ap.add_argument("--scale", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0,
                    help="events per batch, as a service's loop takes what queued (default: one simulated second)")
    ap.add_argument("--log", type=Path, help="the event log (recorded here if missing; default under /tmp)")
    args = ap.parse_args(argv)
    trees = {"base": args.base.resolve(), "this": HERE_SRC}
    log = args.log or Path(f"/tmp/floodwall-bench-engine/{args.scenario}-{args.scale:g}-{args.seed}.jsonl")
    if not log.exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"recording {log} with {trees['base']} ...", flush=True)
        record(trees["base"], args, log)
    print(f"engine alone on {log} ({log.stat().st_size / 1e6:.0f} MB), policy {args.policy}; "
          f"base={trees['base']} this={trees['this']}", flush=True)
    secs: dict[str, list[float]] = {k: [] for k in trees}
    cpus: dict[str, list[float]] = {k: [] for k in trees}
    last: dict[str, dict] = {}
    for r in range(args.rounds):
        for name in (["base", "this"] if r % 2 == 0 else ["this", "base"]):
            res = run_once(trees[name], log, args.policy, args.batch)
            secs[name].append(res["seconds"])
            cpus[name].append(res["cpu"])
            last[name] = res
            print(f"round {r + 1} {name:>4}: {res['seconds']:7.2f} s wall, {res['cpu']:7.2f} s CPU  ({res['events']:,} events, "
                  f"{res['frames']:,} frames, {res['batches']:,} batches, {res['orders']} orders)", flush=True)
    mb, mt = statistics.median(secs["base"]), statistics.median(secs["this"])
    ev = last["this"]["events"]
    print(f"median: base {mb:.2f} s ({ev / mb:,.0f} events/s), this {mt:.2f} s ({ev / mt:,.0f} events/s); "
          f"this is {mb / mt:.2f}x faster (per round: {', '.join(f'{b / t:.2f}x' for b, t in zip(secs['base'], secs['this']))})")
    cb, ct = statistics.median(cpus["base"]), statistics.median(cpus["this"])
    print(f"median CPU: base {cb:.2f} s, this {ct:.2f} s; this is {cb / ct:.2f}x faster (CPU time is steadier than "
          f"wall time on a shared machine)")
    for name in trees:
        print(f"{name}: actions {last[name]['actions']}")
    same = all(last["base"][k] == last["this"][k] for k in ("orders", "orders_digest"))
    print(f"same orders as the baseline: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
