"""Poison never stops the embedded engine: a bad event goes to dead letters, its batch proceeds, and
a dead loop answers 503 rather than a 202 nothing will process (issue 12, findings 3 and 4)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from service_helpers import bearer, wait_for

from floodwall.adapters import store as store_tables
from floodwall.adapters.keys import KeyStore
from floodwall.engine import ingest
from floodwall.events import ReportFiled
from floodwall.service.app import create_app
from floodwall.service.serve import build_backend


@pytest.fixture
def svc(tmp_path):
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys = KeyStore(backend.store.engine)
    secrets = {s: keys.create(f"{s}-key", [s])[0] for s in ("ingest", "operate")}
    with TestClient(create_app(backend, keys)) as client:
        yield client, secrets, backend


def reports(n: int, poison: int | None = None) -> list[dict]:
    return [{"type": "report_filed", "id": f"r{i}", "ts": 1766412000.0 + i, "stream": "s1",
             "reporter": "poison" if i == poison else f"u{i}"} for i in range(n)]


def stored_reports(backend) -> set[str]:
    t = store_tables.reports
    with backend.store.engine.connect() as conn:
        return set(conn.execute(sa.select(t.c.id)).scalars())


def dead(client, s) -> list[dict]:
    return client.get("/v1/dead-letters", headers=bearer(s["operate"])).json()["items"]


def test_an_event_id_longer_than_its_column_is_refused_naming_the_field(svc):
    client, s, backend = svc
    r = client.post("/v1/events", json=[{**reports(1)[0], "id": "x" * 100}], headers=bearer(s["ingest"]))
    assert r.status_code == 422
    assert r.json()["error"]["rejected"][0]["field"] == "id"
    # the loop is untouched and keeps going
    assert client.post("/v1/events", json=reports(3), headers=bearer(s["ingest"])).status_code == 202
    wait_for(lambda: stored_reports(backend) == {"r0", "r1", "r2"})
    assert client.get("/readyz").json()["ready"] is True


def test_an_event_that_fails_the_engine_is_dead_lettered_and_its_batch_proceeds(svc, monkeypatch):
    client, s, backend = svc
    real = ingest.HANDLERS[ReportFiled]

    def explode(e, b, ev):
        if ev.reporter == "poison":
            raise RuntimeError("boom on purpose")
        return real(e, b, ev)

    monkeypatch.setitem(ingest.HANDLERS, ReportFiled, explode)
    r = client.post("/v1/events", json=reports(10, poison=4), headers=bearer(s["ingest"]))
    assert r.status_code == 202
    wait_for(lambda: stored_reports(backend) == {f"r{i}" for i in range(10) if i != 4})
    items = wait_for(lambda: dead(client, s))
    assert len(items) == 1 and '"r4"' in items[0]["raw"] and "boom on purpose" in items[0]["reason"]
    # and the loop keeps consuming
    client.post("/v1/events", json=[{**reports(1)[0], "id": "after"}], headers=bearer(s["ingest"]))
    wait_for(lambda: "after" in stored_reports(backend))
    assert backend.loop.alive()


def test_a_row_the_store_refuses_is_dead_lettered_and_the_rest_is_written(svc, monkeypatch):
    client, s, backend = svc
    real = backend.store.write

    def picky(conn, vrows, arows, reps):
        if any(r["id"] == "r7" for r in reps):
            raise sa.exc.DataError("INSERT", {}, Exception("value too long for type character varying(64)"))
        return real(conn, vrows, arows, reps)

    monkeypatch.setattr(backend.store, "write", picky)
    assert client.post("/v1/events", json=reports(12), headers=bearer(s["ingest"])).status_code == 202
    wait_for(lambda: stored_reports(backend) == {f"r{i}" for i in range(12) if i != 7})
    items = wait_for(lambda: dead(client, s))
    assert any('"r7"' in d["raw"] and "store error" in d["reason"] for d in items)
    assert backend.loop.alive()


def test_a_dead_loop_makes_readyz_and_ingest_answer_503(svc):
    client, s, backend = svc

    def die(events):
        raise SystemExit("the loop thread ends here")  # not an Exception: nothing in the loop catches it

    backend.loop.hub.handle = die
    client.post("/v1/events", json=reports(1), headers=bearer(s["ingest"]))
    wait_for(lambda: not backend.loop.alive())
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["loop"] is False
    r = client.post("/v1/events", json=reports(2), headers=bearer(s["ingest"]))
    assert r.status_code == 503 and r.json()["error"]["type"] == "engine_down"
