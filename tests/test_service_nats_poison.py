"""Poison never stops a NATS worker: a message it cannot decode, or an event the engine fails on, goes
to dead letters and the offset moves on; a silent worker makes /readyz and /v1/events answer 503
(issue 12, finding 3)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import sqlalchemy as sa
from service_helpers import NATS_URL, bearer, nats_deployment, wait_for

from floodwall.adapters import store as store_tables
from floodwall.adapters.nats_log import events_subject, stream_name
from floodwall.engine import ingest
from floodwall.events import ReportFiled
from floodwall.persistence.tables import log_batches


@pytest.fixture
def deployment():
    with nats_deployment(coordinator=False) as d:
        yield d


def reports(prefix: str, n: int, poison: int | None = None) -> list[dict]:
    return [{"type": "report_filed", "id": f"{prefix}{i}", "ts": 1766412000.0 + i, "stream": f"s{i}",
             "reporter": "poison" if i == poison else f"u{i}"} for i in range(n)]


def stored(backend) -> set[str]:
    t = store_tables.reports
    with backend.store.engine.connect() as conn:
        return set(conn.execute(sa.select(t.c.id).where(t.c.run == backend.run)).scalars())


def dead(backend) -> list[dict]:
    return backend.dead_letters(100)


def publish_raw(run: str, partition: int, payload: bytes) -> int:
    async def go() -> int:
        import nats

        nc = await nats.connect(NATS_URL)
        ack = await nc.jetstream().publish(events_subject(run, partition), payload, stream=stream_name(run))
        await nc.close()
        return ack.seq
    return asyncio.run(go())


def test_a_message_the_worker_cannot_decode_is_dead_lettered_and_the_worker_moves_on(deployment):
    client, s, backend, workers = deployment
    # an out-of-schema value that reached the log around the API (an older publisher, a hand-made message)
    bad = json.dumps([{**reports("x", 1)[0], "id": "x" * 100}]).encode()
    seqs = [publish_raw(backend.run, p, bad) for p in (0, 1)]
    r = client.post("/v1/events", json=reports("ok", 20), headers=bearer(s["ingest"]))
    assert r.status_code == 202
    wait_for(lambda: stored(backend) == {f"ok{i}" for i in range(20)}, timeout=30)
    items = wait_for(lambda: [d for d in dead(backend) if "does not decode" in d["reason"]], timeout=10)
    assert len(items) == 2 and all("length <= 64" in d["reason"] for d in items)
    with backend.store.engine.connect() as conn:
        done = {tuple(r) for r in conn.execute(sa.select(log_batches.c.partition, log_batches.c.seq)
                                               .where(log_batches.c.run == backend.run))}
    assert {(0, seqs[0]), (1, seqs[1])} <= done  # both offsets moved past the poison


def test_an_event_the_engine_fails_on_is_dead_lettered_and_its_message_proceeds(deployment, monkeypatch):
    client, s, backend, workers = deployment
    real = ingest.HANDLERS[ReportFiled]  # the workers run in this process: their engines share the table

    def explode(e, b, ev):
        if ev.reporter == "poison":
            raise RuntimeError("boom on purpose")
        return real(e, b, ev)

    monkeypatch.setitem(ingest.HANDLERS, ReportFiled, explode)
    r = client.post("/v1/events", json=reports("p", 12, poison=5), headers=bearer(s["ingest"]))
    assert r.status_code == 202
    wait_for(lambda: stored(backend) == {f"p{i}" for i in range(12) if i != 5}, timeout=30)
    items = wait_for(lambda: [d for d in dead(backend) if "boom on purpose" in d["reason"]], timeout=10)
    assert len(items) == 1 and '"p5"' in items[0]["raw"]
    r = client.post("/v1/events", json=reports("after", 4), headers=bearer(s["ingest"]))
    wait_for(lambda: {f"after{i}" for i in range(4)} <= stored(backend), timeout=30)


def test_a_silent_worker_makes_readyz_and_ingest_answer_503(deployment):
    client, s, backend, workers = deployment
    backend.worker_timeout = 3.0
    wait_for(lambda: client.get("/readyz").status_code == 200, timeout=20)
    assert client.post("/v1/events", json=reports("a", 2), headers=bearer(s["ingest"])).status_code == 202
    workers[1].stop()
    t0 = time.monotonic()
    wait_for(lambda: client.get("/readyz").status_code == 503, timeout=20)
    assert time.monotonic() - t0 >= 2.0  # it was the missing heartbeat, not something else
    assert client.get("/readyz").json()["checks"]["workers"] is False
    r = client.post("/v1/events", json=reports("b", 2), headers=bearer(s["ingest"]))
    assert r.status_code == 503 and r.json()["error"]["type"] == "worker_down"
    assert r.json()["error"]["partitions"] == [1]
