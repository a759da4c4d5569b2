"""`floodwall serve`'s people-facing pages: the console behind a key, operators' controls, the public status page."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from console_helpers import sign_in
from service_helpers import bearer, wait_for

from floodwall.adapters.keys import KeyStore
from floodwall.service.serve import build_app


@pytest.fixture
def app(tmp_path):
    application = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys: KeyStore = application.state.keys
    secrets = {s: keys.create(f"{s}-person", [s])[0] for s in ("ingest", "review", "operate")}
    with TestClient(application) as client:
        yield client, secrets, application


def test_console_needs_a_review_key_and_signs_in_with_a_cookie(app):
    client, secrets, _ = app
    r = client.get("/review", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/review/api/queue").status_code == 401
    assert client.post("/review/case/rv-1/decide", data={"violating": "1"}).status_code == 401  # no write without a key
    assert client.post("/login", data={"key": secrets["ingest"]}).status_code == 401  # wrong scope
    assert client.post("/login", data={"key": "fw_nope_nope"}).status_code == 401
    r = client.post("/login", data={"key": secrets["review"]}, follow_redirects=False)
    assert r.status_code == 303 and "fw_session" in r.cookies  # the client keeps the session cookie
    assert client.get("/review").status_code == 200
    assert client.get("/review/api/queue").json()["cases"] == []


def test_console_decision_is_recorded_under_the_signed_in_key(app):
    client, secrets, application = app
    now = time.time()
    events = [{"type": "account_registered", "id": "reg-m", "ts": now - 400 * 86400, "account": "m",
               "phone": "8613800000000", "device": "dm", "ip": "10.0.0.1"},
              {"type": "stream_started", "id": "st-m", "ts": now, "stream": "s-m", "account": "m", "device": "dm",
               "ip": "10.0.0.1"}]
    events += [{"type": "report_filed", "id": f"rep{i}", "ts": now, "stream": "s-m", "reporter": f"viewer{i}",
                "reason": "other"} for i in range(3)]
    assert client.post("/v1/events", json=events, headers=bearer(secrets["ingest"])).status_code == 202
    sign_in(client, secrets["review"])
    case = wait_for(lambda: client.get("/review/api/queue").json()["cases"], timeout=10)[0]
    form = sign_in(client, secrets["review"], f"/review/case/{case['id']}")
    r = client.post(f"/review/case/{case['id']}/decide", data={**form, "violating": "0", "reviewer": "spoofed"},
                    follow_redirects=False)
    assert r.status_code == 303
    decided = wait_for(lambda: (c := client.get(f"/review/api/case/{case['id']}").json())["status"] == "decided" and c)
    assert decided["reviewer"].startswith("review-person")  # the key's name, not what the form claimed
    # Every report that came in through the API is in the store, with the weight it was given.
    from floodwall.adapters.store import reports as reports_table

    with application.state.keys.engine.connect() as conn:
        rows = conn.execute(sa.select(reports_table.c.id, reports_table.c.weight)).all()
    assert sorted(r.id for r in rows) == ["rep0", "rep1", "rep2"] and all(r.weight == 1.0 for r in rows)


def test_status_page_is_public_and_levels_need_an_operator(app):
    client, secrets, _ = app
    assert client.get("/status").status_code == 200
    assert client.get("/status.json").json()["level"] == "normal"
    body = {"level": "severe", "reason": "drill"}
    assert client.post("/incident/level", json=body).status_code == 401
    assert client.post("/incident/level", json=body, headers=bearer(secrets["review"])).status_code == 403
    r = client.post("/incident/level", json=body, headers=bearer(secrets["operate"]))
    assert r.status_code == 200, r.text
    assert client.get("/status.json").json()["level"] == "severe"
