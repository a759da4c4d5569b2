"""Report ingestion: reports per second per core, and the time to add one (p50/p99).

Floodwall aggregates reports per room (deduplicated, reputation-weighted, rate-limited, each one
stored); the `manual` baseline puts every report in a FIFO review queue. Both run through the same
engine, one core, batches of 1,000 as the service hands them over, with the SQLite store on.

    python bench/bench_reports.py --reports 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.store import SqlStore
from floodwall.adapters.store import reports as reports_table
from floodwall.clock import VirtualClock
from floodwall.engine import ingest
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import AccountRegistered, ReportFiled, StreamStarted

T0 = 1_766_412_000.0


def _setup(policy: str, rooms: int, fresh: int) -> tuple[Engine, VirtualClock, SqlStore]:
    clock = VirtualClock(T0)
    store = SqlStore("sqlite://", run=f"bench-{policy}")
    engine = Engine(load_policy(policy), clock=clock, enforcer=RecordingEnforcer(), store=store)
    evs = [AccountRegistered(id=f"a{i}", ts=T0 - 3e7, account=f"acc{i}", phone="8613800000000", device=f"d{i}",
                             ip=f"10.{i // 250 % 250}.{i % 250}.1") for i in range(rooms)]
    evs += [AccountRegistered(id=f"f{i}", ts=T0 - 600, account=f"fresh{i}", phone="8617000000000", device=f"farm{i % 50}",
                              ip="203.0.113.7") for i in range(fresh)]
    engine.handle(evs)
    clock.advance_to(T0 + 1)
    engine.handle([StreamStarted(id=f"s{i}", ts=T0 + 1, stream=f"room{i}", account=f"acc{i}", device=f"d{i}",
                                 ip=f"10.{i // 250 % 250}.{i % 250}.1") for i in range(rooms)])
    return engine, clock, store


def _reports(n: int, rooms: int, fresh: int, seed: int) -> list[ReportFiled]:
    rng = np.random.default_rng(seed)
    hot = rng.random(n) < 0.5  # half of all reports pile onto one room
    room = np.where(hot, 0, rng.integers(0, rooms, n))
    who = rng.integers(0, 300_000, n)
    is_fresh = rng.random(n) < 0.3
    out = []
    for k in range(n):
        reporter = f"fresh{who[k] % fresh}" if is_fresh[k] else f"viewer{who[k]}"
        out.append(ReportFiled(id=f"r{k}", ts=T0 + 2 + k * 1e-4, stream=f"room{room[k]}", reporter=reporter,
                               reason="illegal_content"))
    return out


def run(policy: str, reports: list[ReportFiled], rooms: int, fresh: int, batch: int) -> dict:
    """Ingest the reports in batches; throughput and per-report add times."""
    engine, clock, store = _setup(policy, rooms, fresh)
    add = ingest.HANDLERS[ReportFiled]
    times = np.empty(len(reports))
    k = 0

    def timed(e, b, ev):  # the time to add one report to its room (or to the queue)
        nonlocal k
        t = time.perf_counter_ns()
        add(e, b, ev)
        times[k] = time.perf_counter_ns() - t
        k += 1

    ingest.HANDLERS[ReportFiled] = timed  # the handler table is the engine's; put back below
    t0 = time.process_time()
    try:
        for i in tqdm(range(0, len(reports), batch), desc=f"{policy:>10}", unit="batch", leave=False):
            chunk = reports[i:i + batch]
            clock.advance_to(chunk[-1].ts)
            engine.handle(chunk)
    finally:
        ingest.HANDLERS[ReportFiled] = add
    cpu = time.process_time() - t0
    return {
        "policy": policy,
        "reports": len(reports),
        "cpu_s": cpu,
        "per_s": len(reports) / cpu,
        "add_p50_us": float(np.percentile(times, 50)) / 1e3,
        "add_p99_us": float(np.percentile(times, 99)) / 1e3,
        "review_items": engine.review.created,
        "accepted": engine.reports_accepted,
        "stored": store.count(reports_table),
        "hot_room_weight": round(engine.streams["room0"].report_weight, 1),
    }


def main() -> None:
    """Print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--rooms", type=int, default=1_000)
    ap.add_argument("--fresh", type=int, default=5_000, help="fresh accounts among the reporters")
    ap.add_argument("--batch", type=int, default=1_000)
    args = ap.parse_args()
    reports = _reports(args.reports, args.rooms, args.fresh, seed=1)
    rows = [run(p, reports, args.rooms, args.fresh, args.batch) for p in ("floodwall", "manual")]
    print(f"{args.reports:,} reports, {args.rooms:,} rooms (half the reports on one room), batches of {args.batch:,}, "
          "one core, SQLite store")
    print(f"{'policy':<10} {'reports/s':>11} {'add p50 us':>11} {'add p99 us':>11} {'review items':>13} "
          f"{'accepted':>10} {'stored':>10} {'hot room weight':>16}")
    for r in rows:
        print(f"{r['policy']:<10} {r['per_s']:>11,.0f} {r['add_p50_us']:>11.2f} {r['add_p99_us']:>11.2f} "
              f"{r['review_items']:>13,} {r['accepted']:>10,} {r['stored']:>10,} {r['hot_room_weight']:>16}")
    f, m = rows
    print(f"floodwall/manual: throughput {f['per_s'] / m['per_s']:.2f}x, review items "
          f"{f['review_items'] / max(1, m['review_items']):.6f}x")


if __name__ == "__main__":
    main()
