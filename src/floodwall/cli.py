"""The `floodwall` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from floodwall.engine.policy import PolicyError, load_policy


def _replay(args: argparse.Namespace) -> int:
    from floodwall.engine.signals import PhoneRanges
    from floodwall.sim.replay import backtest, run_replay
    from floodwall.sim.report import html_report, table
    from floodwall.sim.scenario import load_scenario

    policies = args.policy or ["manual", "floodwall"]
    for name in policies:
        load_policy(name)  # fail fast on a bad policy, before minutes of simulation
    if args.events:
        report = backtest(args.events, policies, labels_path=args.labels, store_url=args.store,
                          progress=not args.quiet)
        print(json.dumps(report, indent=2))
    else:
        if not args.scenario:
            print("floodwall replay: give a SCENARIO (name or .toml file) or --events FILE.jsonl", file=sys.stderr)
            return 2
        scenario = load_scenario(args.scenario)
        ranges = PhoneRanges(args.phone_ranges) if args.phone_ranges else None
        report = run_replay(scenario, policies, seed=args.seed, scale=args.scale, store_url=args.store,
                            phone_ranges=ranges, progress=not args.quiet)
        print(table(report))
        if args.html:
            Path(args.html).write_text(html_report(report), encoding="utf-8")
            print(f"HTML report: {args.html}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"JSON report: {args.json}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from floodwall.sim.replay import record_events
    from floodwall.sim.scenario import load_scenario

    n = record_events(load_scenario(args.scenario), args.policy, seed=args.seed, scale=args.scale, path=args.out,
                      progress=not args.quiet)
    print(f"{n} events written to {args.out}")
    return 0


def _check_policy(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    print(f"policy {policy.name}: {len(policy.rules)} rules OK ({sum(r.shadow for r in policy.rules)} shadow)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="floodwall", description="Real-time defence against saturation attacks on live streaming")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="replay a scenario (or recorded events) against policies, side by side")
    rp.add_argument("scenario", nargs="?", help="scenario name (e.g. kuaishou-2025-12-22) or .toml file")
    rp.add_argument("--policy", action="append", help="policy name or .toml file; repeat to compare (first is the baseline)")
    rp.add_argument("--seed", type=int, default=1)
    rp.add_argument("--scale", type=float, default=0.1, help="fraction of the platform's size (default 0.1)")
    rp.add_argument("--json", help="write the JSON report here")
    rp.add_argument("--html", help="write the HTML report (with plots) here")
    rp.add_argument("--events", help="backtest: a JSON Lines file of a platform's recorded events")
    rp.add_argument("--labels", help="backtest: attack stream ids, one per line, for truth-based figures")
    rp.add_argument("--store", default="sqlite://", help="SQLAlchemy URL for decisions (default: in memory)")
    rp.add_argument("--phone-ranges", help="CSV of virtual-operator number prefixes (replaces the shipped one)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    rp.set_defaults(func=_replay)

    rc = sub.add_parser("record", help="write the events of a simulated replay to JSON Lines (for backtests)")
    rc.add_argument("scenario")
    rc.add_argument("--out", required=True)
    rc.add_argument("--policy", default="manual")
    rc.add_argument("--seed", type=int, default=1)
    rc.add_argument("--scale", type=float, default=0.02)
    rc.add_argument("--quiet", action="store_true")
    rc.set_defaults(func=_record)

    cp = sub.add_parser("check-policy", help="validate a policy file")
    cp.add_argument("policy")
    cp.set_defaults(func=_check_policy)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PolicyError as exc:
        print(f"floodwall: policy error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"floodwall: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
