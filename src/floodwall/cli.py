"""The `floodwall` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from floodwall.engine.policy import PolicyError, load_policy


def _scale(text: str) -> float:
    """An argparse type: a fraction of the platform's size, in (0, 1]."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < x <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} must be in (0, 1]: a fraction of the platform's size")
    return x


def _missing_files(command: str, **paths: str | None) -> str | None:
    """An error line naming the first given option whose file does not exist, else None."""
    for opt, path in paths.items():
        if path is not None and not Path(path).is_file():
            return f"floodwall {command}: --{opt} {path}: no such file"
    return None


def _replay(args: argparse.Namespace) -> int:
    from floodwall.engine.signals import PhoneRanges
    from floodwall.sim.replay import backtest, run_replay
    from floodwall.sim.provenance import cli_command
    from floodwall.sim.report import html_report, table
    from floodwall.sim.scenario import load_scenario

    if args.serve:
        return _serve_replay(args)
    policies = args.policy or ["manual", "floodwall"]
    for name in policies:
        load_policy(name)  # fail fast on a bad policy, before minutes of simulation
    if args.events or args.labels:
        bad = _missing_files("replay", events=args.events, labels=args.labels)
        if bad or not args.events:
            print(bad or "floodwall replay: --labels needs --events (labels score a backtest)", file=sys.stderr)
            return 2
        report = backtest(args.events, policies, labels_path=args.labels, store_url=args.store,
                          progress=not args.quiet, command=cli_command(args.argv))
        print(table(report))
        if args.html:
            Path(args.html).write_text(html_report(report), encoding="utf-8")
            print(f"HTML report: {args.html}")
    else:
        if not args.scenario:
            print("floodwall replay: give a SCENARIO (name or .toml file) or --events FILE.jsonl", file=sys.stderr)
            return 2
        scenario = load_scenario(args.scenario)
        ranges = PhoneRanges(args.phone_ranges) if args.phone_ranges else None
        report = run_replay(scenario, policies, seed=args.seed, scale=args.scale, store_url=args.store,
                            phone_ranges=ranges, progress=not args.quiet, image_model=args.image_model,
                            command=cli_command(args.argv))
        print(table(report))
        if args.html:
            Path(args.html).write_text(html_report(report), encoding="utf-8")
            print(f"HTML report: {args.html}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"JSON report: {args.json}")
    return 0


def _serve_replay(args: argparse.Namespace) -> int:
    """A replay paced on the wall clock, with the reviewer console and status page served over it."""
    import uvicorn

    from floodwall.service.web import make_app
    from floodwall.sim.live import LiveReplay
    from floodwall.sim.report import table
    from floodwall.sim.scenario import load_scenario

    if not args.scenario:
        print("floodwall replay --serve: give a SCENARIO (name or .toml file)", file=sys.stderr)
        return 2
    if args.policy and len(args.policy) > 1:
        print("floodwall replay --serve: one --policy at a time (people review one engine)", file=sys.stderr)
        return 2
    policy = load_policy((args.policy or ["floodwall"])[0])
    live = LiveReplay(load_scenario(args.scenario), policy, seed=args.seed, scale=args.scale, speed=args.speed,
                      reviewer_count=args.reviewers)
    print(f"building the plan for {args.scenario} at scale {args.scale:g} ...", flush=True)
    hub = live.start()
    url = f"http://{args.host}:{args.port}"
    print(f"replay running at {args.speed:g}x: reviewer console {url}/review, status page {url}/status "
          "(Ctrl-C stops)", flush=True)
    try:
        uvicorn.run(make_app(hub), host=args.host, port=args.port, log_level="warning")
    finally:
        live.stop()
    if live.report is not None:
        print(table({"scenario": args.scenario, "seed": args.seed, "scale": args.scale,
                     "policies": {policy.name: live.report}}))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from floodwall.sim.evalsets import load_sets
    from floodwall.sim.evaluate import matrix_html, matrix_text, run_eval
    from floodwall.sim.provenance import cli_command
    from floodwall.sim.scenario import ScenarioError, load_scenario

    chosen = load_sets().get(args.set)
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else list(chosen.families)
    seeds = args.seeds or list(chosen.seeds)
    policies = args.policy or ["manual", "floodwall"]
    if len(policies) != 2:
        print("floodwall eval: --policy twice (the baseline, then the policy), or not at all", file=sys.stderr)
        return 2
    for name in policies:
        load_policy(name)
    for f in families:
        try:
            load_scenario(f)  # fail fast on a bad family name, before minutes of simulation
        except ScenarioError as exc:
            print(f"floodwall eval: --families: {exc}", file=sys.stderr)
            return 2
    print(f"{len(families)} families x {len(seeds)} seeds at scale {args.scale:g} ({args.set} set), "
          f"{policies[0]} vs {policies[1]}", flush=True)
    def done(c: dict) -> None:
        if not args.quiet:
            print(f"  {c['family']} seed {c['seed']}: {'bars met' if c['all_pass'] else 'bars missed'} "
                  f"({c['wall_seconds']:g} s)", flush=True)

    result = run_eval(families, seeds, scale=args.scale, policies=(policies[0], policies[1]), jobs=args.jobs,
                      progress=not args.quiet, on_cell=done)
    result["set"], result["command"] = args.set, cli_command(args.argv)
    print(matrix_text(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"JSON: {args.json}")
    if args.html:
        Path(args.html).write_text(matrix_html(result), encoding="utf-8")
        print(f"HTML: {args.html}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from floodwall.sim.record import ASK_ABOVE, record
    from floodwall.sim.scenario import load_scenario

    out = record(load_scenario(args.scenario), args.policy, seed=args.seed, scale=args.scale, out=args.out,
                 frames=args.frames, yes=args.yes, progress=not args.quiet)
    if not out.written:
        print(f"floodwall record: {out.bytes / 1e6:.0f} MB is over {ASK_ABOVE / 1e6:.0f} MB; nothing written. "
              "Add --yes to write it, or use --frames pdq (the smallest) or a smaller --scale.", file=sys.stderr)
        return 2
    print(f"{out.events} events written to {out.events_path}; attack stream ids ({out.attack_streams}) "
          f"to {out.labels_path}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from floodwall.schema import events_markdown, events_schema

    print(events_markdown() if args.markdown else json.dumps(events_schema(), indent=2))
    return 0


def _check_policy(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    print(f"policy {policy.name}: {len(policy.rules)} rules OK ({sum(r.shadow for r in policy.rules)} shadow)")
    return 0


def _check_playbook(args: argparse.Namespace) -> int:
    from floodwall.response.levels import LEVELS
    from floodwall.response.playbook import load_playbook

    pb = load_playbook(args.playbook)
    print(f"playbook {pb.name}: levels {', '.join(LEVELS[n] for n in sorted(pb.levels))} OK")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from floodwall.response.audit import verify_store

    store = args.store_url or args.store
    if store is None:
        print("floodwall audit verify: give a store (FILE.db or an SQLAlchemy URL)", file=sys.stderr)
        return 2
    if "://" not in store:  # a bare path is an SQLite file
        if not Path(store).exists():
            print(f"floodwall audit verify: no such file {store}", file=sys.stderr)
            return 2
        store = f"sqlite:///{Path(store).resolve()}"
    checked, breaks = verify_store(store, chain=args.chain, head=args.head)
    for b in breaks:
        print(f"BROKEN {b}")
    if not breaks:
        print(f"audit log OK: {checked} entries verified")
    return 1 if breaks else 0


def _one_blas_thread() -> None:
    """Keep numpy's BLAS to one thread (set before numpy loads; an explicit OPENBLAS_NUM_THREADS wins).

    The engine's matrix products (the PDQ DCT) are many small ones: BLAS threads cost more than they give
    and spin on the other cores. On 2 cores: the service's engine batches 0.79 -> 0.52 s, with the HTTP
    thread getting its core back; a replay at scale 0.05 282 -> 253 s wall, 504 -> 251 s CPU, same figures.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _serve(args: argparse.Namespace) -> int:
    from floodwall.service.serve import build_app, run_server

    app = build_app(store_url=args.store, log_url=args.log, run=args.run, partitions=args.partitions,
                    policy=args.policy, clock=args.clock, tick=args.tick, notify=args.notify,
                    image_model=args.image_model, orders_webhook=args.orders_webhook,
                    hma_fetch_urls=args.hma_fetch_urls, max_body=args.max_body, compact_every=args.compact_every)
    run_server(app, args.host, args.port)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from floodwall.service.worker import run_worker

    if not args.log.startswith("nats://"):
        print("floodwall worker: --log must be a nats:// URL (the embedded service needs no workers)", file=sys.stderr)
        return 2
    return run_worker(nats_url=args.log, store_url=args.store, run=args.run, partition=args.partition,
                      partitions=args.partitions, policy=args.policy, idle_exit=args.idle_exit,
                      image_model=args.image_model, metrics_port=args.metrics_port)


def _coordinator(args: argparse.Namespace) -> int:
    from floodwall.service.coordinator import run_coordinator

    if not args.log.startswith("nats://"):
        print("floodwall coordinator: --log must be a nats:// URL (the embedded service sees everything itself)",
              file=sys.stderr)
        return 2
    return run_coordinator(nats_url=args.log, store_url=args.store, run=args.run, partitions=args.partitions,
                           policy=args.policy, idle_exit=args.idle_exit, metrics_port=args.metrics_port)


def _service_parsers(sub) -> None:
    """`serve`, `worker`, `coordinator` and `keys`: Floodwall as a service."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default="sqlite:///floodwall.db",
                        help="SQLAlchemy URL (default sqlite:///floodwall.db; postgresql+psycopg://... at scale)")
    common.add_argument("--run", default="service", help="name of this deployment's records and JetStream stream")
    common.add_argument("--policy", default="floodwall")
    common.add_argument("--partitions", type=int, default=2, help="JetStream partitions (= workers)")
    sv = sub.add_parser("serve", parents=[common], help="the HTTP API (embedded engine, or NATS with --log nats://)")
    sv.add_argument("--log", default="memory", help="'memory' (embedded, default) or nats://host:4222")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--clock", default="wall", choices=["wall", "event"],
                    help="embedded: wall time, or event time (replaying recorded events)")
    sv.add_argument("--tick", type=float, default=0.15, help="embedded: seconds between engine batches")
    sv.add_argument("--compact-every", type=int, default=500_000, metavar="EVENTS",
                    help="embedded: snapshot the engine and cut the journal every EVENTS processed events (0: never)")
    sv.add_argument("--notify", help="embedded: where owner messages go: an http(s) webhook URL, or an Apprise "
                                     "service URL (sms://, mailto://, ...); without it they wait in the outbox")
    sv.add_argument("--image-model", default="none", choices=["none", "open_nsfw"],
                    help="embedded: score frames with this model (open_nsfw needs the 'classifier' extra)")
    sv.add_argument("--orders-webhook", metavar="URL",
                    help="embedded: POST every action order (JSON {\"orders\": [...]}, Idempotency-Key header) "
                         "to this http(s) URL; they stay in the actions table too")
    sv.add_argument("--hma-fetch-urls", action="store_true",
                    help="let HMA's routes (/hma/h/hash?url=, ...) fetch photos from URLs callers give (off: 403)")
    sv.add_argument("--max-body", type=int, default=8 * 1024 * 1024,
                    help="largest request body in bytes (default 8 MiB); larger ones get 413")
    sv.set_defaults(func=_serve)
    wk = sub.add_parser("worker", parents=[common], help="consume one JetStream partition through the engine")
    wk.add_argument("--log", default="nats://127.0.0.1:4222")
    wk.add_argument("--partition", type=int, required=True)
    wk.add_argument("--idle-exit", type=float, default=None, help="exit after this many idle seconds")
    wk.add_argument("--image-model", default="none", choices=["none", "open_nsfw"],
                    help="score frames with this model (open_nsfw needs the 'classifier' extra)")
    wk.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    wk.set_defaults(func=_worker)
    co = sub.add_parser("coordinator", parents=[common],
                        help="across partitions: content clusters, rings, shared keys, the incident level")
    co.add_argument("--log", default="nats://127.0.0.1:4222")
    co.add_argument("--idle-exit", type=float, default=None, help="exit after this many idle seconds")
    co.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    co.set_defaults(func=_coordinator)
    from floodwall.adapters.keys_cli import add_parsers as keys_parsers  # keys create / list / revoke / pepper

    keys_parsers(sub)


def _level(args: argparse.Namespace) -> int:
    import httpx

    from floodwall.response.levels import level_number

    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    base = args.url.rstrip("/")
    if args.level_command == "set":
        level_number(args.level)  # a typo fails here, before anything is sent
        r = httpx.post(f"{base}/incident/level", json={"level": args.level, "reason": args.reason}, headers=headers)
    else:
        r = httpx.post(f"{base}/incident/release", headers=headers)
    print(r.text)
    return 0 if r.is_success else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    _one_blas_thread()
    parser = argparse.ArgumentParser(prog="floodwall", description="Real-time defence against saturation attacks on live streaming")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="replay a scenario (or recorded events) against policies, side by side")
    rp.add_argument("scenario", nargs="?", help="scenario name (e.g. kuaishou-2025-12-22) or .toml file")
    rp.add_argument("--policy", action="append", help="policy name or .toml file; repeat to compare (first is the baseline)")
    rp.add_argument("--seed", type=int, default=1)
    rp.add_argument("--scale", type=_scale, default=0.1, help="fraction of the platform's size, in (0, 1] (default 0.1)")
    rp.add_argument("--json", help="write the JSON report here")
    rp.add_argument("--html", help="write the HTML report (with plots) here")
    rp.add_argument("--events", help="backtest: a JSON Lines file of a platform's recorded events")
    rp.add_argument("--labels", help="backtest: attack stream ids, one per line, for truth-based figures")
    rp.add_argument("--store", default="sqlite://", help="SQLAlchemy URL for decisions (default: in memory)")
    rp.add_argument("--phone-ranges", help="CSV of virtual-operator number prefixes (replaces the shipped one)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    rp.add_argument("--image-model", default="none", choices=["none", "open_nsfw"],
                    help="also score every frame with a real image model (beside the scenario's declared one, "
                         "which stands in for content the simulator cannot render); slow: ~10 ms a frame")
    rp.add_argument("--serve", action="store_true",
                    help="watch and act: pace one policy's replay and serve the reviewer console and status page")
    rp.add_argument("--speed", type=float, default=10.0, help="--serve: simulated seconds per wall second (0: flat out)")
    rp.add_argument("--reviewers", type=int, default=None,
                    help="--serve: simulated reviewers beside you (default: the scenario's team; 0: only you)")
    rp.add_argument("--host", default="127.0.0.1", help="--serve: address to listen on")
    rp.add_argument("--port", type=int, default=8000, help="--serve: port to listen on")
    rp.set_defaults(func=_replay)

    rc = sub.add_parser("record", help="write the events of a simulated replay to JSON Lines (for backtests), "
                                       "and NAME.labels.txt (the attack streams' ids) beside it")
    rc.add_argument("scenario")
    rc.add_argument("--out", required=True, help="NAME.jsonl; the labels go to NAME.labels.txt")
    rc.add_argument("--policy", default="manual")
    rc.add_argument("--seed", type=int, default=1)
    rc.add_argument("--scale", type=_scale, default=0.02, help="fraction of the platform's size, in (0, 1]")
    rc.add_argument("--frames", default="pdq", choices=["pdq", "jpeg", "webp", "raw"],
                    help="how frames are written: pdq (hash, quality, mirror hash; smallest, default), jpeg or "
                         "webp (pixels for robust policies and image models), raw (base64 RGB, largest)")
    rc.add_argument("--yes", action="store_true", help="write even when the log is over 250 MB")
    rc.add_argument("--quiet", action="store_true")
    rc.set_defaults(func=_record)

    ev = sub.add_parser("eval", help="the scenario library: every family x seed, baseline vs policy, as a matrix of bars")
    ev.add_argument("--set", default="test", choices=["tune", "test"], help="data/eval-sets.toml (default test)")
    ev.add_argument("--families", help="comma-separated family names (default: the set's)")
    ev.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the set's)")
    ev.add_argument("--scale", type=_scale, default=0.01, help="fraction of the platform's size (default 0.01)")
    ev.add_argument("--policy", action="append", help="baseline then policy (default: manual, floodwall)")
    ev.add_argument("--jobs", type=int, default=1, help="cells played in parallel processes (default 1)")
    ev.add_argument("--json", help="write the matrix as JSON here")
    ev.add_argument("--html", help="write the matrix as an HTML page here")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_eval)

    sc = sub.add_parser("schema", help="the event reference: JSON Schema generated from events.py")
    sc.add_argument("what", choices=["events"])
    sc.add_argument("--markdown", action="store_true", help="the Markdown of docs/events.md instead")
    sc.set_defaults(func=_schema)

    cp = sub.add_parser("check-policy", help="validate a policy file")
    cp.add_argument("policy")
    cp.set_defaults(func=_check_policy)

    cb = sub.add_parser("check-playbook", help="validate an incident playbook file")
    cb.add_argument("playbook", help="playbook name (e.g. floodwall) or .toml file")
    cb.set_defaults(func=_check_playbook)

    au = sub.add_parser("audit", help="the tamper-evident audit log")
    au_sub = au.add_subparsers(dest="audit_command", required=True)
    av = au_sub.add_parser("verify", help="verify the hash chain; names the first broken entry (exit 1)")
    av.add_argument("store_url", nargs="?", metavar="STORE", help="an SQLite file or SQLAlchemy URL")
    av.add_argument("--store", help="the same, as an option")
    av.add_argument("--chain", help="verify only this chain (default: every chain)")
    av.add_argument("--head", help="the published hash of the newest entry, to pin the chain's end")
    av.set_defaults(func=_audit_verify)

    lv = sub.add_parser("level", help="set the incident level by hand on a running service, or release it")
    lv_sub = lv.add_subparsers(dest="level_command", required=True)
    ls = lv_sub.add_parser("set", help="pin the level (recorded with your key's name and the reason)")
    ls.add_argument("level", help="normal, elevated, severe, critical (or 0-3)")
    ls.add_argument("--reason", required=True)
    lr = lv_sub.add_parser("release", help="hand the level back to the surge detector")
    for p in (ls, lr):
        p.add_argument("--url", default="http://127.0.0.1:8000", help="the service's base URL")
        p.add_argument("--key", help="an API key with the operate scope")
        p.set_defaults(func=_level)

    bt = sub.add_parser("backtest", help="run policies over a platform's recorded events (a table; --html a page)")
    bt.add_argument("--events", required=True, help="a JSON Lines file of a platform's recorded events")
    bt.add_argument("--labels", help="attack stream ids, one per line, for precision, recall and time to takedown")
    bt.add_argument("--policy", action="append", help="policy name or .toml file; repeat to compare")
    bt.add_argument("--json", help="write the JSON report here")
    bt.add_argument("--html", help="write the HTML report here")
    bt.add_argument("--store", default="sqlite://", help="SQLAlchemy URL for decisions (default: in memory)")
    bt.add_argument("--quiet", action="store_true", help="no progress bars")
    bt.set_defaults(func=_replay, scenario=None, serve=False)

    _service_parsers(sub)
    from floodwall.persistence.cli import add_parsers as db_parsers  # db upgrade / current
    from floodwall.service.banks_client import add_parsers as banks_parsers  # banks import/export

    banks_parsers(sub)
    db_parsers(sub)

    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the report records the command it came from
    try:
        return args.func(args)
    except PolicyError as exc:
        print(f"floodwall: policy error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"floodwall: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unwritable --out, a vanished file: one line, not a traceback
        print(f"floodwall: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
