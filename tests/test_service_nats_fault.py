"""Faults with NATS and PostgreSQL: while a client posts 20,000 events, the API and the workers are
SIGKILLed at random points and restarted; every event answered 202 is stored, and every log message
is committed exactly once (issue 12)."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
import uuid

import httpx
import sqlalchemy as sa
from service_helpers import bearer, new_pg_database, port_open, wait_for
from test_service_crash import _delete_stream, _free_port, _spawn, _stop, _subject_counts

from floodwall.adapters import store as store_tables
from floodwall.adapters.keys import KeyStore
from floodwall.persistence.tables import log_batches

T0 = 1766412000.0


def test_20000_events_api_and_workers_killed_three_times(tmp_path):
    t_begin = time.monotonic()
    rnd = random.Random(7)
    run = f"fault{uuid.uuid4().hex[:8]}"
    url, drop = new_pg_database("fwfault")
    port = _free_port()
    common = ["--store", url, "--run", run, "--partitions", "2"]
    from service_helpers import NATS_URL
    from floodwall.service.runtime import open_store

    open_store(url, run).engine.dispose()
    secret, _ = KeyStore(sa.create_engine(url)).create("fault", ["ingest"], rate=1e6, burst=1e6)
    procs = {}

    def start(name: str) -> None:
        if name == "api":
            procs[name] = _spawn(["serve", "--log", NATS_URL, "--port", str(port), *common], tmp_path / "api.log")
        else:
            procs[name] = _spawn(["worker", "--log", NATS_URL, "--partition", name[1], *common],
                                 tmp_path / f"{name}.log")

    chunks = [[{"type": "report_filed", "id": f"n{i}", "ts": T0 + i * 0.001, "stream": f"s{i % 41}",
                "reporter": f"u{i}"} for i in range(k, k + 400)] for k in range(0, 20_000, 400)]
    acked: set[str] = set()
    done = threading.Event()
    db = sa.create_engine(url)
    try:
        for name in ("api", "w0", "w1"):
            start(name)
        wait_for(lambda: port_open(port), timeout=60)

        def client() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
                for chunk in chunks:
                    while True:  # what got no 202 is sent again: same ids, handled once
                        try:
                            r = c.post("/v1/events", json=chunk, headers=bearer(secret))
                            if r.status_code == 202:
                                acked.update(ev["id"] for ev in chunk)
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.05)
            done.set()

        t = threading.Thread(target=client, daemon=True)
        t.start()
        kills = 0
        # Kill at random points of the client's progress (not of the clock), so a fast machine still sees 3.
        marks = sorted(rnd.uniform(0.1, 0.85) * 20_000 for _ in range(3))
        for mark, victims in zip(marks, (["api"], ["w0"], ["api", "w1"])):
            while len(acked) < mark and not done.is_set():
                time.sleep(0.005)
            if done.is_set():
                break
            time.sleep(rnd.uniform(0.0, 0.05))
            kills += 1
            for v in victims:
                procs[v].send_signal(signal.SIGKILL)
                procs[v].wait()
            for v in victims:
                start(v)
            if "api" in victims:
                wait_for(lambda: port_open(port), timeout=60)
        t.join(60)
        assert done.is_set(), "the client did not finish"
        assert kills == 3, "the client finished before three kills: post more events"

        def stored() -> set[str]:
            with db.connect() as conn:
                return set(conn.execute(sa.select(store_tables.reports.c.id)
                                        .where(store_tables.reports.c.run == run)).scalars())
        wait_for(lambda: acked <= stored(), timeout=60)
        assert stored() <= {ev["id"] for chunk in chunks for ev in chunk}
        # exactly once: every message in the partitions' subjects committed once, no more, no fewer
        counts = asyncio.run(_subject_counts(run))

        def committed() -> dict[int, int]:
            with db.connect() as conn:
                return dict(conn.execute(sa.select(log_batches.c.partition, sa.func.count())
                                         .where(log_batches.c.run == run).group_by(log_batches.c.partition)).all())
        wait_for(lambda: committed() == counts, timeout=30)
        assert time.monotonic() - t_begin < 90
    finally:
        for p in procs.values():
            _stop(p)
        asyncio.run(_delete_stream(run))
        db.dispose()
        drop()
