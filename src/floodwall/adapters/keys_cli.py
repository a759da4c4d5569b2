"""`floodwall keys create|list|revoke|pepper --store URL`: API keys, and the pepper their hashes are under."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub) -> None:
    """The `keys` command and its subcommands."""
    ky = sub.add_parser("keys", help="API keys: create (prints the secret once), list, revoke, pepper")
    ky_sub = ky.add_subparsers(dest="keys_command", required=True)
    kc = ky_sub.add_parser("create")
    kc.add_argument("--scope", action="append", required=True,
                    choices=["ingest", "gate", "review", "operate", "admin"], help="repeat for several")
    kc.add_argument("--name", default="cli")
    kc.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    kc.add_argument("--burst", type=float, default=2000.0)
    kl = ky_sub.add_parser("list")
    kr = ky_sub.add_parser("revoke")
    kr.add_argument("id")
    kp = ky_sub.add_parser("pepper", help="the keys' pepper: fingerprints and keys under each; rotate or drop")
    kp_do = kp.add_mutually_exclusive_group()
    kp_do.add_argument("--rotate", action="store_true", help="put a new pepper first in the pepper file")
    kp_do.add_argument("--drop-previous", action="store_true", help="keep only the current pepper")
    kp.add_argument("--force", action="store_true", help="--drop-previous even with keys still under an earlier one")
    for p in (kc, kl, kr, kp):
        p.add_argument("--store", default="sqlite:///floodwall.db")
    ky.set_defaults(func=run)


def _pepper(args: argparse.Namespace, keys) -> int:
    """`keys pepper`: the peppers in use and the active keys under each; --rotate, --drop-previous."""
    from floodwall.adapters import pepper

    active = [k for k in keys.list() if not k["revoked"]]
    left = [k["id"] for k in active if k["pepper"] in ("previous", "unnamed", "argon2")]
    try:
        if args.rotate:
            pepper.rotate()
            print("a new pepper is first in the pepper file; the earlier ones are still accepted. Restart every "
                  "process serving this store; each key moves to the new pepper when next used.")
        elif args.drop_previous:
            if left and not args.force:
                print(f"floodwall keys pepper: {len(left)} active key(s) may still be under an earlier pepper "
                      f"({', '.join(left[:10])}); they stop working once it is dropped. Use them first, "
                      "or add --force", file=sys.stderr)
                return 1
            pepper.drop_previous()
            print("only the current pepper is left; restart every process serving this store")
    except ValueError as exc:
        print(f"floodwall keys pepper: {exc}", file=sys.stderr)
        return 2
    now = pepper.load_peppers()
    active = [k for k in type(keys)(keys.engine, now).list() if not k["revoked"]]  # as read after the change
    print(f"current pepper {pepper.fingerprint(now.current)}; earlier, still accepted: "
          f"{', '.join(pepper.fingerprint(p) for p in now.previous) or 'none'}")
    counts: dict[str, int] = {}
    for k in active:
        counts[k["pepper"]] = counts.get(k["pepper"], 0) + 1
    print("active keys by pepper (as this process reads them): "
          + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `keys create|list|revoke|pepper`."""
    import sqlalchemy as sa

    from floodwall.adapters.keys import KeyStore

    keys = KeyStore(sa.create_engine(args.store))
    if args.keys_command == "create":
        secret, key = keys.create(args.name, args.scope, rate=args.rate, burst=args.burst)
        keys.audit("cli", "key.create", key.id, {"name": key.name, "scopes": sorted(key.scopes)})
        print(f"key {key.id} ({', '.join(sorted(key.scopes))}); the secret is shown once:")
        print(secret)
    elif args.keys_command == "list":
        for k in keys.list():
            state = "revoked" if k["revoked"] else "active"
            print(f"{k['id']}  {state:8} {','.join(k['scopes']):30} {k['rate']:g}/s  pepper:{k['pepper']:8} {k['name']}")
    elif args.keys_command == "pepper":
        return _pepper(args, keys)
    else:
        if not keys.revoke(args.id):
            print(f"floodwall keys: no active key {args.id}", file=sys.stderr)
            return 1
        keys.audit("cli", "key.revoke", args.id)
        print(f"revoked {args.id}")
    return 0
