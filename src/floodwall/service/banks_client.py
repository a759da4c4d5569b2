"""`floodwall banks import/export`: move ThreatExchange hash lists in and out of a running service's banks.

They talk to the service's API (``/v1/banks``) with an operate key, so the engine (embedded or
every NATS worker) matches an imported list at once, whichever backend runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from floodwall.content.exchange import FORMATS, dump, parse

__all__ = ["add_parsers"]

_BATCH = 50_000  # hashes per request (the API takes up to 100,000)


def _client(args: argparse.Namespace):
    import httpx

    key = args.key or os.environ.get("FLOODWALL_KEY")
    if not key:
        raise SystemExit("floodwall banks: give an operate key with --key or FLOODWALL_KEY")
    return httpx.Client(base_url=args.url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _fail(r) -> int:
    try:
        msg = r.json()["error"]["message"]
    except Exception:  # noqa: BLE001  (any non-Floodwall body: show it raw)
        msg = r.text[:300]
    print(f"floodwall banks: {r.request.method} {r.request.url.path} -> HTTP {r.status_code}: {msg}", file=sys.stderr)
    return 1


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"floodwall banks import: {path} does not exist", file=sys.stderr)
        return 2
    try:
        lst = parse(path.read_text(encoding="utf-8", errors="replace"), args.format)
    except ValueError as exc:
        print(f"floodwall banks import: {path}: {exc}", file=sys.stderr)
        return 2
    with _client(args) as c:
        r = c.get("/v1/banks")
        if r.status_code != 200:
            return _fail(r)
        if args.bank not in {b["name"] for b in r.json()["items"]}:
            r = c.post("/v1/banks", json={"name": args.bank, "kind": args.kind})
            if r.status_code != 201:
                return _fail(r)
        added = 0
        for i in range(0, len(lst.hashes), _BATCH):
            r = c.post(f"/v1/banks/{args.bank}/hashes",
                       json={"hashes": lst.hashes[i:i + _BATCH], "note": f"import:{path.name}"[:500]})
            if r.status_code != 200:
                return _fail(r)
            added += r.json()["added"]
    skipped = "".join(f", skipped {n} {st}" for st, n in sorted(lst.skipped.items()))
    print(f"{args.bank}: read {len(lst.hashes)} PDQ hashes from {path.name}, {added} new{skipped}")
    return 0


def _export(args: argparse.Namespace) -> int:
    with _client(args) as c:
        r = c.get(f"/v1/banks/{args.bank}/export")
        if r.status_code != 200:
            return _fail(r)
    text = dump(r.text.split(), args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{args.bank}: wrote {len(text.splitlines())} hashes to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_parsers(sub) -> None:
    """The ``banks`` command and its ``import``/``export`` subcommands."""
    bk = sub.add_parser("banks", help="import/export hash lists (ThreatExchange formats) on a running service")
    bk_sub = bk.add_subparsers(dest="banks_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default="http://127.0.0.1:8080", help="the service's base URL")
    common.add_argument("--key", help="an operate key (default: $FLOODWALL_KEY)")
    common.add_argument("--bank", required=True, help="bank name")
    bi = bk_sub.add_parser("import", parents=[common], help="add a list's PDQ hashes to a bank (created if missing)")
    bi.add_argument("file", help="the list: PDQ hex a line, or python-threatexchange's 'signal_type,signal' CSV")
    bi.add_argument("--format", default="auto", choices=FORMATS, help="default: detected from the content")
    bi.add_argument("--kind", default="block", choices=["block", "allow"], help="kind of a bank this creates")
    bi.set_defaults(func=_import)
    be = bk_sub.add_parser("export", parents=[common], help="write a bank's live hashes")
    be.add_argument("--format", default="pdq", choices=["pdq", "te-csv"])
    be.add_argument("-o", "--output", help="file to write (default: stdout)")
    be.set_defaults(func=_export)
