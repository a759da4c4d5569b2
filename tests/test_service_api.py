# ruff: noqa: B008  (FastAPI declares dependencies as argument defaults)
"""The HTTP API on embedded defaults: ingest, gate, cases and decisions, banks, keys, audit, metrics."""

from __future__ import annotations

import time

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from service_helpers import bearer, wait_for

from floodwall.adapters.keys import KeyStore
from floodwall.service.app import create_app
from floodwall.service.auth import require_scope
from floodwall.service.serve import build_backend

DAY = 86_400.0


@pytest.fixture
def svc(tmp_path):
    """A running embedded app with one key per scope."""
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys = KeyStore(backend.store.engine)
    secrets = {s: keys.create(f"{s}-key", [s])[0] for s in ("ingest", "gate", "review", "operate", "admin")}
    extra = APIRouter()

    @extra.get("/extra/ping")
    def ping(key=Depends(require_scope("review"))):
        return {"pong": key.name}

    app = create_app(backend, keys, extra_routers=[extra])
    with TestClient(app) as client:
        yield client, secrets, backend


def registered(aid: str, ts: float, *, phone: str = "8613800000000", device: str = "", ip: str = "10.0.0.1") -> dict:
    return {"type": "account_registered", "id": f"reg-{aid}", "ts": ts, "account": aid, "phone": phone,
            "device": device or f"dev-{aid}", "ip": ip}


def started(sid: str, aid: str, ts: float, *, device: str = "", ip: str = "10.0.0.1") -> dict:
    return {"type": "stream_started", "id": f"start-{sid}", "ts": ts, "stream": sid, "account": aid,
            "device": device or f"dev-{aid}", "ip": ip, "title": ""}


def test_health_ready_and_openapi(svc):
    client, _, _ = svc
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"store": True, "loop": True, "journal": True}
    spec = client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"] and "/v1/gate" in spec["paths"]
    assert "StreamStarted" in spec["components"]["schemas"]
    assert "/extra/ping" in spec["paths"]  # extra routers are mounted


def test_no_unauthenticated_or_wrong_scope_calls(svc):
    client, s, _ = svc
    assert client.post("/v1/events", content=b"[]").status_code == 401
    assert client.post("/v1/events", content=b"[]", headers=bearer("fw_nope_nope")).json()["error"]["type"] == "invalid_key"
    # ingest cannot review; review cannot touch banks; operate cannot create keys.
    assert client.get("/v1/cases", headers=bearer(s["ingest"])).status_code == 403
    assert client.post("/v1/cases/rv-1/decision", json={"violating": True}, headers=bearer(s["ingest"])).status_code == 403
    assert client.post("/v1/banks/confirmed/hashes", json={"hashes": ["0" * 64]}, headers=bearer(s["review"])).status_code == 403
    assert client.post("/v1/keys", json={"name": "x", "scopes": ["admin"]}, headers=bearer(s["operate"])).status_code == 403
    assert client.get("/extra/ping", headers=bearer(s["gate"])).status_code == 403
    assert client.get("/extra/ping", headers=bearer(s["review"])).json() == {"pong": "review-key"}
    assert client.get("/extra/ping", headers=bearer(s["admin"])).status_code == 200  # admin holds every scope


def test_ingest_rejects_bad_events_by_index_and_dead_letters_them(svc):
    client, s, _ = svc
    now = time.time()
    batch = [registered("a1", now), {"type": "login", "id": "l1", "ts": now, "account": "a1", "device": "d"},
             {"type": "nope", "id": "x", "ts": now}, registered("a2", now)]
    r = client.post("/v1/events", json=batch, headers=bearer(s["ingest"]))
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["field"]) for e in body["rejected"]] == [(1, "ip"), (2, "type")]
    assert "unknown event type" in body["rejected"][1]["reason"]
    dead = client.get("/v1/dead-letters", headers=bearer(s["operate"])).json()["items"]
    assert sorted(d["index"] for d in dead) == [1, 2] and all(d["reason"] for d in dead)
    # a body that is not an array is a typed 400; a batch of only bad events a 422
    r = client.post("/v1/events", content=b'{"type": "login"}', headers=bearer(s["ingest"]))
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_body"
    r = client.post("/v1/events", json=[{"type": "login"}], headers=bearer(s["ingest"]))
    assert r.status_code == 422 and r.json()["error"]["rejected"][0]["index"] == 0


def test_a_batch_over_the_event_cap_is_refused_whole_clean_or_not(svc):
    """413 too_many_events, with nothing kept, whether every event is valid (one decoder call) or one is not
    (event by event); a batch at the cap is taken."""
    from floodwall.service.app import MAX_EVENTS

    client, s, backend = svc
    now = time.time()
    ping = b'{"type":"viewer_count","id":"v%d","ts":%.1f,"stream":"s1","viewers":1}'
    clean = [ping % (i, now) for i in range(MAX_EVENTS + 1)]
    dirty = [*clean[:-1], b'{"type":"nope","id":"x","ts":1}']
    for events in (clean, dirty):
        r = client.post("/v1/events", content=b"[" + b",".join(events) + b"]", headers=bearer(s["ingest"]))
        assert r.status_code == 413 and r.json()["error"]["type"] == "too_many_events"
        assert str(MAX_EVENTS + 1) in r.json()["error"]["message"]
    r = client.post("/v1/events", content=b"[" + b",".join(clean[:MAX_EVENTS]) + b"]", headers=bearer(s["ingest"]))
    assert r.status_code == 202 and r.json()["accepted"] == MAX_EVENTS
    assert client.get("/v1/dead-letters", headers=bearer(s["operate"])).json()["items"] == []


def test_gate_limits_a_fresh_risky_account_and_allows_an_old_one(svc):
    client, s, _ = svc
    now = time.time()
    # Ten fresh accounts on virtual numbers from one device, no avatar: the attack's shape.
    batch = [registered(f"bot{i}", now - 60, phone=f"861700000{i:04d}", device="shared-dev", ip="10.9.9.9")
             for i in range(10)]
    batch.append(registered("old", now - 400 * DAY, ip="10.1.1.1"))
    batch.append({"type": "profile_changed", "id": "p-old", "ts": now - 300 * DAY, "account": "old", "avatar": True,
                  "title": "gardening"})
    assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202
    wait_for(lambda: client.get("/v1/incidents", headers=bearer(s["review"])).json()["events"] >= len(batch))
    risky = client.post("/v1/gate", json=started("s-bot", "bot3", now, device="shared-dev", ip="10.9.9.9"),
                        headers=bearer(s["gate"])).json()
    assert risky["action"] == "limit" and "gate-limit-risky" in risky["rules"]
    assert risky["evidence"]["account.risk"] >= 3.0 and risky["verdict"]
    assert "limit" in [o["action"] for o in risky["orders"]]
    ok = client.post("/v1/gate", json=started("s-old", "old", now, ip="10.1.1.1"), headers=bearer(s["gate"])).json()
    assert ok["allow"] is True and ok["action"] in ("allow", "sample") and "gate-limit-risky" not in ok["rules"]
    # the same gate event again is a duplicate and answers with the first decision
    again = client.post("/v1/gate", json=started("s-bot", "bot3", now, device="shared-dev", ip="10.9.9.9"),
                        headers=bearer(s["gate"])).json()
    assert again["duplicate"] is True and again["action"] == "limit"
    # gate takes only stream_started, with a typed error
    r = client.post("/v1/gate", json=registered("zz", now), headers=bearer(s["gate"]))
    assert r.status_code == 422 and r.json()["error"]["field"] == "type"
    dec = client.get("/v1/decisions/s-bot", headers=bearer(s["review"])).json()
    assert dec["verdicts"][0]["rules"] == risky["rules"] and dec["actions"][0]["action"] == "limit"


def test_reports_open_a_case_and_a_decision_takes_the_stream_down(svc):
    client, s, _ = svc
    now = time.time()
    batch = [registered("streamer", now - 100 * DAY)]
    batch += [registered(f"rep{i}", now - 100 * DAY) for i in range(5)]
    batch.append(started("s1", "streamer", now))
    assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202
    wait_for(lambda: client.get("/v1/decisions/s1", headers=bearer(s["review"])).json()["verdicts"])
    for i in range(4):
        r = client.post("/v1/reports", params={"stream": "s1", "reporter": f"rep{i}", "reason": "illegal"},
                        headers=bearer(s["ingest"]))
        assert r.status_code == 202
    cases = wait_for(lambda: client.get("/v1/cases", headers=bearer(s["review"])).json()["items"])
    case = cases[0]
    assert case["key"] == "s1" and "review-reports" in case["evidence"]["rules"]
    r = client.post(f"/v1/cases/{case['id']}/decision", json={"violating": True, "note": "seen"},
                    headers=bearer(s["review"]))
    assert r.status_code == 202
    acts = wait_for(lambda: [a for a in client.get("/v1/decisions/s1", headers=bearer(s["review"])).json()["actions"]
                             if a["action"] == "takedown"])
    assert acts[0]["reason"] == f"review {case['id']}"
    r = client.post(f"/v1/cases/{case['id']}/decision", json={"violating": True}, headers=bearer(s["review"]))
    assert r.status_code == 409
    assert client.post("/v1/cases/rv-999/decision", json={"violating": False},
                       headers=bearer(s["review"])).status_code == 404
    audit = client.get("/v1/audit", headers=bearer(s["admin"])).json()
    assert audit["chain_ok"] and audit["items"][0]["action"] == "review.decide"


def test_banks_add_remove_import_export_are_operate_only_and_audited(svc):
    client, s, _ = svc
    op = bearer(s["operate"])
    names = {b["name"] for b in client.get("/v1/banks", headers=op).json()["items"]}
    assert {"confirmed", "reviewed", "honest"} <= names
    assert client.post("/v1/banks", json={"name": "ncmec", "kind": "block"}, headers=op).status_code == 201
    assert client.post("/v1/banks", json={"name": "ncmec"}, headers=op).status_code == 409
    h1, h2 = "a" * 64, "f0" * 32
    assert client.post("/v1/banks/ncmec/hashes", json={"hashes": [h1]}, headers=op).json()["added"] == 1
    r = client.post("/v1/banks/ncmec/import", content=f"# export\n{h2},extra,cols\n{h1}\n", headers=op)
    assert r.json() == {"bank": "ncmec", "added": 1, "read": 2}
    assert sorted(client.get("/v1/banks/ncmec/export", headers=op).text.split()) == sorted([h1, h2])
    assert client.delete(f"/v1/banks/ncmec/hashes/{h1}", headers=op).status_code == 200
    assert client.delete(f"/v1/banks/ncmec/hashes/{h1}", headers=op).status_code == 404
    assert client.get("/v1/banks/ncmec/export", headers=op).text.split() == [h2]
    bad = client.post("/v1/banks/ncmec/hashes", json={"hashes": ["xyz"]}, headers=op)
    assert bad.status_code == 422 and "64 hex digits" in bad.json()["error"]["message"]
    assert client.get("/v1/banks/nope/export", headers=op).status_code == 404
    actions = [e["action"] for e in client.get("/v1/audit", headers=bearer(s["admin"])).json()["items"]]
    assert actions[:4] == ["bank.remove", "bank.import", "bank.add", "bank.create"]


def test_keys_rate_limit_and_revocation(svc):
    client, s, backend = svc
    r = client.post("/v1/keys", json={"name": "slow", "scopes": ["ingest"], "rate": 1, "burst": 2},
                    headers=bearer(s["admin"]))
    assert r.status_code == 201
    slow = r.json()
    assert slow["secret"].startswith("fw_") and "hash" not in str(client.get("/v1/keys", headers=bearer(s["admin"])).json())
    codes = [client.post("/v1/events", content=b"[]", headers=bearer(slow["secret"])).status_code for _ in range(4)]
    assert codes[:2] == [202, 202] and codes[2] == 429
    r = client.post("/v1/events", content=b"[]", headers=bearer(slow["secret"]))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert client.delete(f"/v1/keys/{slow['id']}", headers=bearer(s["admin"])).status_code == 200
    assert client.post("/v1/events", content=b"[]", headers=bearer(slow["secret"])).status_code == 401
    # the secret is stored only under its keyed hash
    import sqlalchemy as sa

    from floodwall.adapters.keys import api_keys
    with backend.store.engine.connect() as conn:
        hashes = [r.hash for r in conn.execute(sa.select(api_keys))]
    assert all(h.startswith("hmac-sha256$") for h in hashes)
    assert not any(slow["secret"].split("_", 2)[2] in h for h in hashes)


def test_metrics_count_events_verdicts_and_latency(svc):
    client, s, _ = svc
    now = time.time()
    client.post("/v1/events", json=[registered("m1", now)], headers=bearer(s["ingest"]))
    client.post("/v1/gate", json=started("sm", "m1", now), headers=bearer(s["gate"]))
    wait_for(lambda: "floodwall_batch_seconds_count 1" in client.get("/metrics").text
             or "floodwall_batch_seconds_count 2" in client.get("/metrics").text)
    text = client.get("/metrics").text
    assert 'floodwall_events_in_total{outcome="accepted"} 2.0' in text
    assert "floodwall_verdicts_total{" in text and "floodwall_gate_seconds_bucket" in text
    assert 'floodwall_queue_depth{queue="inbox"}' in text
    assert "floodwall_event_to_verdict_seconds_count" in text


def test_keys_cli_creates_an_admin_key_that_works(tmp_path, capsys):
    from floodwall.cli import main

    url = f"sqlite:///{tmp_path}/k.db"
    assert main(["keys", "create", "--scope", "admin", "--name", "first", "--store", url]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    import sqlalchemy as sa

    keys = KeyStore(sa.create_engine(url))
    key = keys.verify(secret)
    assert key is not None and key.allows("review") and key.name == "first"
    assert keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert keys.audit_log()[0]["action"] == "key.create" and keys.verify_audit()


def test_requests_are_counted_by_route_template(svc):
    client, s, _ = svc
    client.get("/v1/decisions/some-stream", headers=bearer(s["review"]))
    client.get("/v1/decisions/other", headers=bearer(s["ingest"]))
    text = client.get("/metrics").text
    assert 'floodwall_http_requests_total{route="/v1/decisions/{key}",status="200"} 1.0' in text
    assert 'floodwall_http_requests_total{route="/v1/decisions/{key}",status="403"} 1.0' in text


def test_two_lifespans_of_one_app_share_one_start(tmp_path):
    import threading

    from floodwall.service.serve import build_app

    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    secret, _ = app.state.keys.create("ingest", ["ingest"])
    backend = app.state.backend
    with TestClient(app) as outer:
        with TestClient(app) as inner:  # schemathesis starts its own lifespan beside a test's, for one
            assert [t.name for t in threading.enumerate()].count("floodwall-journal") == 1
            r = inner.post("/v1/events", json=[registered("l1", time.time())], headers=bearer(secret))
            assert r.status_code == 202
        assert backend.loop.alive() and backend.journal.alive()  # the outer lifespan still holds it
        assert outer.post("/v1/events", json=[registered("l2", time.time())], headers=bearer(secret)).status_code == 202
    assert not backend.loop.alive() and not backend.journal.alive()
