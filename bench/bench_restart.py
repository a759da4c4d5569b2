"""How long the embedded service takes to come back after a SIGKILL, with its journal whole or cut.

Posts the same events to `floodwall serve` on a fresh SQLite file, waits until the loop has processed
them, SIGKILLs it, starts it again and times the start until `/readyz` answers 200 (the journal replayed,
or the snapshot loaded and the rest replayed). Then reports journal rows and the database's size.

    python bench/bench_restart.py --minutes 30 --compact-every 0,10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import chunks, free_port, post_all, scenario_events  # noqa: E402

from floodwall.adapters.keys import KeyStore  # noqa: E402
from floodwall.persistence.tables import journal, journal_marks, journal_snapshots  # noqa: E402
from floodwall.service.runtime import open_store  # noqa: E402


def start(url: str, port: int, every: int, log) -> tuple[subprocess.Popen, float]:
    """`floodwall serve`; returns the process and the seconds until /readyz answered 200."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "floodwall.cli", "serve", "--store", url, "--port", str(port),
                             "--compact-every", str(every)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def one(every: int, bodies: list[bytes], n_events: int) -> dict:
    """Fill, kill, restart one service; what it measured."""
    d = Path(tempfile.mkdtemp(prefix="fwrestart-"))
    url = f"sqlite:///{d}/fw.db"
    open_store(url, "service").engine.dispose()
    secret = KeyStore(sa.create_engine(url)).create("bench", ["ingest"], rate=1e6, burst=1e6)[0]
    port = free_port()
    with open(d / "serve.log", "wb") as log:
        proc, first = start(url, port, every, log)
        t = time.perf_counter()
        accepted = asyncio.run(post_all(port, secret, bodies, 2))
        db = sa.create_engine(url)
        with db.connect() as conn:
            top = conn.execute(sa.select(sa.func.max(journal.c.seq))).scalar() or 0
        while True:  # until the loop has processed everything (and cut the journal, if it does)
            with db.connect() as conn:
                if conn.execute(sa.select(journal_marks.c.processed)).scalar() >= top:
                    break
            time.sleep(0.2)
        processed_s = time.perf_counter() - t
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with db.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(journal)).scalar()
            snaps = conn.execute(sa.select(sa.func.count(sa.distinct(journal_snapshots.c.seq)))).scalar()
        size = sum(f.stat().st_size for f in d.glob("fw.db*"))
        proc, again = start(url, port, every, log)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return {"every": every, "events": accepted, "processed_s": processed_s, "rows": rows, "snapshots": snaps,
            "db_mb": size / 1e6, "first_start_s": first, "restart_s": again, "expected": n_events}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30, help="minutes of the tiny scenario to post")
    ap.add_argument("--compact-every", default="0,10000", help="comma-separated --compact-every values to compare")
    args = ap.parse_args()
    events = scenario_events(args.minutes, 1)
    bodies = chunks(events, 200)
    print(f"{len(events)} events from {args.minutes:g} min of the tiny scenario; {os.cpu_count()} CPUs", flush=True)
    for every in (int(x) for x in args.compact_every.split(",")):
        r = one(every, bodies, len(events))
        print(f"--compact-every {every}: {r['events']} events processed in {r['processed_s']:.1f} s; after a SIGKILL "
              f"the journal holds {r['rows']} rows, {r['snapshots']} snapshot(s), the database {r['db_mb']:.0f} MB; "
              f"back up in {r['restart_s']:.2f} s (an empty start took {r['first_start_s']:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
