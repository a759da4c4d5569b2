"""`floodwall db upgrade|current --url URL`: bring a database to the newest schema, or say where it is."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub) -> None:
    """The `db` command and its subcommands."""
    db = sub.add_parser("db", help="the store's schema: upgrade a database to the newest revision, or show where it is")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply every missing migration (idempotent; adopts pre-migration stores)")
    cur = db_sub.add_parser("current", help="print the revision a database is at, and the newest one shipped")
    for p in (up, cur):
        p.add_argument("--url", required=True,
                       help="SQLAlchemy URL: sqlite:///floodwall.db or postgresql+psycopg://...")
    db.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `db upgrade` or `db current`; 1 with the database's error if it cannot be reached."""
    import sqlalchemy as sa

    from floodwall.persistence import schema

    try:
        if args.db_command == "upgrade":
            before = schema.current(args.url)
            rev = schema.upgrade(args.url)
            print(f"{args.url}: at {rev}" + ("" if before == rev else f" (was {before or 'unmigrated'})"))
        else:
            print(f"current {schema.current(args.url) or 'none'}; newest {schema.head()}")
    except sa.exc.SQLAlchemyError as exc:
        print(f"floodwall db: --url: the database refused: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except schema.SchemaError as exc:
        print(f"floodwall db: --url: {exc}", file=sys.stderr)
        return 1
    return 0
