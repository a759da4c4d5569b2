"""The console behind `floodwall serve`: a session id in the cookie (never the key), CSRF token and Origin
check on every state-changing request, Secure over https, sign-out."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from console_helpers import sign_in
from fastapi.testclient import TestClient
from service_helpers import bearer, wait_for

from floodwall.service.serve import build_app
from floodwall.service.sessions import console_sessions


@pytest.fixture
def svc(tmp_path):
    """The full app with a review key, an ingest key and one open case."""
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    review, _ = app.state.keys.create("reviewer", ["review"])
    ingest, _ = app.state.keys.create("feed", ["ingest"])
    admin, _ = app.state.keys.create("admin", ["admin"])
    now = time.time()
    events = [{"type": "account_registered", "id": "reg-m", "ts": now - 400 * 86400, "account": "m",
               "phone": "8613800000000", "device": "dm", "ip": "10.0.0.1"},
              {"type": "stream_started", "id": "st-m", "ts": now, "stream": "s-m", "account": "m", "device": "dm",
               "ip": "10.0.0.1"}]
    events += [{"type": "report_filed", "id": f"rep{i}", "ts": now, "stream": "s-m", "reporter": f"viewer{i}",
                "reason": "other"} for i in range(3)]
    with TestClient(app) as client:
        assert client.post("/v1/events", json=events, headers=bearer(ingest)).status_code == 202
        case = wait_for(lambda: client.get("/v1/cases", headers=bearer(review)).json()["items"])[0]["id"]
        yield client, app, {"review": review, "admin": admin}, case


def status_of(client, secrets, case) -> str:
    return client.get(f"/review/api/case/{case}", headers=bearer(secrets["review"])).json()["status"]


def test_the_cookie_holds_a_session_id_not_the_key(svc):
    client, app, secrets, _ = svc
    r = client.post("/login", data={"key": secrets["review"]}, follow_redirects=False)
    header = r.headers["set-cookie"]
    sid = r.cookies["fw_session"]
    key_id, key_secret = secrets["review"].split("_", 2)[1:]
    assert secrets["review"] not in header and key_secret not in header and key_id not in header
    assert len(sid) >= 40 and "HttpOnly" in header and "SameSite=strict" in header.replace("Strict", "strict")
    assert "Secure" not in header  # plain http here
    with app.state.keys.engine.connect() as conn:
        stored = [r.id_hash for r in conn.execute(sa.select(console_sessions))]
    assert stored and sid not in stored  # only its hash is kept
    assert client.get("/review/api/queue").status_code == 200


def test_cross_origin_or_tokenless_posts_are_refused(svc):
    client, _, secrets, case = svc
    form = sign_in(client, secrets["review"], f"/review/case/{case}")
    assert form.get("csrf")
    evil = {"Origin": "https://evil.example"}
    r = client.post(f"/review/case/{case}/decide", data={**form, "violating": "1"}, headers=evil,
                    follow_redirects=False)
    assert r.status_code == 403 and r.json()["error"]["type"] == "cross_origin"
    r = client.post(f"/review/case/{case}/decide", data={"violating": "1"}, headers={"Referer": "https://evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"/review/case/{case}/decide", data={"violating": "1"}, follow_redirects=False)
    assert r.status_code == 403 and r.json()["error"]["type"] == "csrf"  # same origin, no token
    r = client.post(f"/review/case/{case}/decide", data={"violating": "1", "csrf": "guess"}, follow_redirects=False)
    assert r.status_code == 403
    # Cookie-authenticated JSON routes (operators') need the token as well.
    assert client.post("/incident/level", json={"level": "severe", "reason": "x"}).status_code in (401, 403)
    time.sleep(0.3)
    assert status_of(client, secrets, case) == "open"
    r = client.post(f"/review/case/{case}/decide", data={**form, "violating": "1"},
                    headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    wait_for(lambda: status_of(client, secrets, case) == "decided")


def test_the_cookie_is_secure_over_https(tmp_path):
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    review, _ = app.state.keys.create("reviewer", ["review"])
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post("/login", data={"key": review}, follow_redirects=False)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_sign_out_ends_the_session_and_a_revoked_key_ends_its_sessions(svc):
    client, _, secrets, _ = svc
    form = sign_in(client, secrets["review"])
    sid = client.cookies["fw_session"]
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403  # needs the token
    r = client.post("/logout", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.clear()
    client.cookies.set("fw_session", sid)  # a copied cookie no longer works
    assert client.get("/review/api/queue").status_code == 401
    client.cookies.clear()
    sign_in(client, secrets["review"])
    assert client.get("/review/api/queue").status_code == 200
    key_id = secrets["review"].split("_")[1]
    assert client.delete(f"/v1/keys/{key_id}", headers=bearer(secrets["admin"])).status_code == 200
    assert client.get("/review/api/queue").status_code == 401


def test_a_cross_origin_sign_in_is_refused(svc):
    client, _, secrets, _ = svc
    r = client.post("/login", data={"key": secrets["review"]}, headers={"Origin": "https://evil.example"},
                    follow_redirects=False)
    assert r.status_code == 403 and "fw_session" not in r.cookies


def test_the_keyless_local_console_refuses_cross_origin_decisions():
    from test_console import _console

    h, hub, client, rooms, case = _console()  # `replay --serve`: no keys, on localhost
    r = client.post(f"/review/case/{case.id}/decide", data={"violating": "1", "reviewer": "ana"},
                    headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    hub.handle([])  # whatever was submitted goes through the engine
    assert h.engine.review.items[case.id].status == "open"
