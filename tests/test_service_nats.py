"""The service with --log nats and --store postgresql, for real: gate, cases, dead letters, idempotency."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import sqlalchemy as sa
from service_helpers import NATS_URL, bearer, nats_deployment, new_pg_database, wait_for

from floodwall.adapters.nats_log import Partitioner, dead_subject, stream_name
from floodwall.events import ActionOrder, DeadLetter, StreamStarted, Verdict
from floodwall.persistence.tables import log_batches

DAY = 86_400.0


@pytest.fixture
def deployment():
    """API (NATS backend) in a TestClient, two worker threads and the coordinator, fresh database and stream."""
    with nats_deployment() as d:
        yield d


def reg(aid, ts, **kw):
    return {"type": "account_registered", "id": f"reg-{aid}", "ts": ts, "account": aid,
            "phone": kw.get("phone", "8613800000000"), "device": kw.get("device", f"dev-{aid}"),
            "ip": kw.get("ip", "10.0.0.1")}


def start(sid, aid, ts, **kw):
    return {"type": "stream_started", "id": f"start-{sid}", "ts": ts, "stream": sid, "account": aid,
            "device": kw.get("device", f"dev-{aid}"), "ip": kw.get("ip", "10.0.0.1")}


def test_gate_through_jetstream_and_a_worker(deployment):
    client, s, _, _ = deployment
    now = time.time()
    batch = [reg(f"bot{i}", now - 60, phone=f"861700000{i:04d}", device="shared", ip="10.9.9.9") for i in range(10)]
    r = client.post("/v1/events", json=batch, headers=bearer(s["ingest"]))
    assert r.status_code == 202 and r.json()["durable"] is True and r.json()["seq"]
    g = client.post("/v1/gate", json=start("sb", "bot4", now, device="shared", ip="10.9.9.9"), headers=bearer(s["gate"]))
    assert g.status_code == 200, g.text
    body = g.json()
    assert body["action"] == "limit" and "gate-limit-risky" in body["rules"] and body["allow"] is True
    assert body["evidence"]["account.risk"] >= 3.0
    dec = wait_for(lambda: client.get("/v1/decisions/sb", headers=bearer(s["review"])).json()["verdicts"])
    assert dec[0]["rules"] == body["rules"]
    assert client.get("/readyz").json()["checks"] == {"store": True, "nats": True, "workers": True}
    inc = client.get("/v1/incidents", headers=bearer(s["review"])).json()
    assert inc["mode"] == "nats" and inc["level"] == 0 and inc["partitions"]  # each partition's last report


def test_case_mirrored_listed_and_decided_through_the_log(deployment):
    client, s, _, _ = deployment
    now = time.time()
    batch = [reg("streamer", now - 100 * DAY)] + [reg(f"r{i}", now - 100 * DAY) for i in range(5)]
    batch.append(start("s1", "streamer", now))
    client.post("/v1/events", json=batch, headers=bearer(s["ingest"]))
    for i in range(4):
        client.post("/v1/reports", params={"stream": "s1", "reporter": f"r{i}"}, headers=bearer(s["ingest"]))
    cases = wait_for(lambda: client.get("/v1/cases", headers=bearer(s["review"])).json()["items"])
    case = cases[0]
    part = Partitioner(2).partition(msgspec.convert(start("s1", "streamer", now), StreamStarted))
    assert case["id"] == f"p{part}:rv-1" and case["key"] == "s1"
    r = client.post(f"/v1/cases/{case['id']}/decision", json={"violating": True}, headers=bearer(s["review"]))
    assert r.status_code == 202 and r.json()["durable"] is True
    wait_for(lambda: any(a["action"] == "takedown" for a in
                         client.get("/v1/decisions/s1", headers=bearer(s["review"])).json()["actions"]))
    wait_for(lambda: not client.get("/v1/cases", headers=bearer(s["review"])).json()["items"])
    assert client.post("/v1/cases/rv-1/decision", json={"violating": True},
                       headers=bearer(s["review"])).status_code == 404
    # The undo goes through the log to the case's partition too: the room comes back, the case reopens.
    r = client.post(f"/v1/cases/{case['id']}/undo", json={"note": "wrong room"}, headers=bearer(s["review"]))
    assert r.status_code == 202 and r.json()["durable"] is True
    wait_for(lambda: any(a["action"] == "restore" for a in
                         client.get("/v1/decisions/s1", headers=bearer(s["review"])).json()["actions"]))
    wait_for(lambda: client.get("/v1/cases", headers=bearer(s["review"])).json()["items"])
    assert client.post("/v1/cases/rv-1/undo", json={}, headers=bearer(s["review"])).status_code == 404


def test_dead_letters_reach_the_stream_and_the_api(deployment):
    client, s, backend, _ = deployment
    r = client.post("/v1/events", json=[{"type": "viewer_count", "id": "v", "ts": 1.0, "stream": "x",
                                         "viewers": -3}], headers=bearer(s["ingest"]))
    assert r.status_code == 422 and r.json()["error"]["rejected"][0]["field"] == "viewers"
    items = client.get("/v1/dead-letters", headers=bearer(s["operate"])).json()["items"]
    assert items[0]["field"] == "viewers" and ">= 0" in items[0]["reason"]

    async def read_dead():
        import nats

        nc = await nats.connect(NATS_URL)
        msg = await nc.jetstream().get_last_msg(stream_name(backend.run), dead_subject(backend.run))
        await nc.close()
        return msgspec.json.decode(msg.data, type=DeadLetter)
    dl = asyncio.run(read_dead())
    assert dl.field == "viewers" and dl.line == 0


def test_a_batch_sent_twice_changes_nothing(deployment):
    client, s, backend, _ = deployment
    now = time.time()
    batch = [reg("dup", now - 60, phone="8617000009999"), start("sdup", "dup", now)]
    for _ in range(2):
        assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202

    def committed():  # the API's messages (the coordinator's notices carry no publish time)
        with backend.store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(log_batches)
                                .where(log_batches.c.run == backend.run, log_batches.c.published.is_not(None))).scalar()
    wait_for(lambda: committed() == 2)  # both messages handled (same partition: one account)
    v = client.get("/v1/decisions/sdup", headers=bearer(s["review"])).json()["verdicts"]
    assert len(v) == 1  # the second copy's events were recognised by id and skipped


def test_sql_store_on_postgresql():
    from floodwall.adapters.store import SqlStore, actions, dead_letters, verdicts

    url, drop = new_pg_database("fwstore")
    try:
        store = SqlStore(url, run="pg")
        v = Verdict(id="v1", ts=1.0, subject="stream", key="s1", action="takedown", rules=["r"],
                    evidence={"stream.bank_match": True, "account.risk": 3.5})
        o = ActionOrder(key="takedown:stream:s1", ts=1.0, action="takedown", subject="stream", target="s1",
                        verdict="v1", reason="r")
        store.record([v], [o])
        store.record([], [o])  # an action key is stored once
        store.record_dead([DeadLetter(raw="{}", field="id", reason="missing", line=3)])
        assert store.count(verdicts) == 1 and store.count(actions) == 1 and store.count(dead_letters) == 1
        got = store.decisions_for("s1")
        assert got[0]["evidence"] == {"stream.bank_match": True, "account.risk": 3.5} and got[0]["rules"] == ["r"]
        assert store.engine.dialect.name == "postgresql"
        store.engine.dispose()
    finally:
        drop()


def test_a_retried_gate_call_answers_with_the_first_decision(deployment):
    client, s, _, _ = deployment
    now = time.time()
    batch = [reg(f"rb{i}", now - 60, phone=f"861700001{i:04d}", device="shared2", ip="10.9.8.7") for i in range(8)]
    assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202
    ev = start("s-retry", "rb3", now, device="shared2", ip="10.9.8.7")
    first = client.post("/v1/gate", json=ev, headers=bearer(s["gate"])).json()
    assert first["duplicate"] is False and first["action"] == "limit"
    wait_for(lambda: client.get("/v1/decisions/s-retry", headers=bearer(s["review"])).json()["verdicts"])
    again = client.post("/v1/gate", json=ev, headers=bearer(s["gate"])).json()
    assert again["duplicate"] is True
    assert (again["action"], again["rules"], again["verdict"]) == (first["action"], first["rules"], first["verdict"])


def test_gates_arriving_together_share_a_message_and_each_gets_its_own_answer(deployment, monkeypatch):
    client, s, backend, _ = deployment
    now = time.time()
    # Odd accounts: fresh, on virtual numbers, from one network (risky); even: aged, ordinary numbers and networks.
    batch = [reg(f"gg{i}", now - 60, phone=f"86170000{i:05d}", ip="10.9.9.9") if i % 2 else
             reg(f"gg{i}", now - 400 * DAY, phone=f"86138000{i:05d}", ip=f"10.1.{i}.1") for i in range(24)]
    assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202
    # The gate's own messages, counted where they are published: the stream's total also holds the workers'
    # sketches and the coordinator's notices, whose number depends on timing (a loaded machine made it 32).
    gate_messages: list[int] = []
    publish_to = backend.log.publish_to

    async def counting(partition, events, *args, **kwargs):
        if any(isinstance(e, StreamStarted) for e in events):
            gate_messages.append(len(events))
        return await publish_to(partition, events, *args, **kwargs)

    monkeypatch.setattr(backend.log, "publish_to", counting)

    async def many() -> list[dict]:
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://t") as ac:
            rs = await asyncio.gather(*(ac.post("/v1/gate", json=start(f"sg{i}", f"gg{i}", now,
                                                                       ip="10.9.9.9" if i % 2 else f"10.1.{i}.1"),
                                                headers=bearer(s["gate"])) for i in range(24)))
        return [r.json() for r in rs]
    answers = client.portal.call(many)  # 24 calls at once, on the app's own event loop
    assert [a["stream"] for a in answers] == [f"sg{i}" for i in range(24)]
    assert all(a["duplicate"] is False and a["verdict"] for a in answers)
    fresh = {a["stream"] for a in answers if "gate-limit-risky" in a["rules"]}
    assert fresh == {f"sg{i}" for i in range(1, 24, 2)}  # each answer is its own account's decision
    assert sum(gate_messages) == 24 and len(gate_messages) < 24  # every gate published once, in shared messages
