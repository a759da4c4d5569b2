"""Who may decide: human decisions enter only through review routes, under the key's principal, audited."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from service_helpers import bearer, wait_for

from floodwall.adapters.keys import KeyStore
from floodwall.response.audit import read_chain
from floodwall.service.serve import build_app


@pytest.fixture
def svc(tmp_path):
    """`floodwall serve`'s app on embedded defaults, one key per scope, and one open case (reported room)."""
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys: KeyStore = app.state.keys
    secrets, ids = {}, {}
    for s in ("ingest", "review", "operate"):
        secrets[s], key = keys.create(f"{s}-person", [s])
        ids[s] = key.id
    now = time.time()
    events = [{"type": "account_registered", "id": "reg-m", "ts": now - 400 * 86400, "account": "m",
               "phone": "8613800000000", "device": "dm", "ip": "10.0.0.1"},
              {"type": "stream_started", "id": "st-m", "ts": now, "stream": "s-m", "account": "m", "device": "dm",
               "ip": "10.0.0.1"}]
    events += [{"type": "report_filed", "id": f"rep{i}", "ts": now, "stream": "s-m", "reporter": f"viewer{i}",
                "reason": "other"} for i in range(3)]
    with TestClient(app) as client:
        assert client.post("/v1/events", json=events, headers=bearer(secrets["ingest"])).status_code == 202
        case = wait_for(lambda: client.get("/v1/cases", headers=bearer(secrets["review"])).json()["items"])[0]["id"]
        yield client, secrets, ids, case, app


def api_chain(app) -> list[dict]:
    return read_chain(app.state.keys.engine, "api")


def case_of(client, secrets, case) -> dict:
    return client.get(f"/review/api/case/{case}", headers=bearer(secrets["review"])).json()


def test_an_ingest_key_cannot_post_decisions_or_undos(svc):
    client, secrets, _, case, app = svc
    for forged in ({"type": "review_decided", "id": "f1", "ts": time.time(), "item": case, "reviewer": "boss",
                    "violating": False},
                   {"type": "review_reversed", "id": "f2", "ts": time.time(), "item": case, "reviewer": "boss"}):
        benign = {"type": "viewer_count", "id": f"vc-{forged['id']}", "ts": time.time(), "stream": "s-m",
                  "viewers": 5}
        r = client.post("/v1/events", json=[benign, forged], headers=bearer(secrets["ingest"]))
        assert r.status_code == 403, r.text
        err = r.json()["error"]
        assert err["type"] == "forbidden_feedback" and err["indices"] == [1] and "review" in err["message"]
    time.sleep(0.3)  # a few engine batches: nothing of the refused requests went in
    assert case_of(client, secrets, case)["status"] == "open"


def test_a_review_key_decides_through_events_under_its_own_name_and_audited(svc):
    client, secrets, ids, case, app = svc
    tool_secret, tool = app.state.keys.create("review-tool", ["ingest", "review"])  # a platform's own review tool
    ev = {"type": "review_decided", "id": "d1", "ts": time.time(), "item": case, "reviewer": "somebody-else",
          "violating": True}
    assert client.post("/v1/events", json=[ev], headers=bearer(tool_secret)).status_code == 202
    decided = wait_for(lambda: (c := case_of(client, secrets, case))["status"] == "decided" and c)
    assert decided["reviewer"] == f"review-tool ({tool.id})"
    entry = [e for e in api_chain(app) if e["action"] == "review.decide"][-1]
    assert entry["actor"] == f"key:{tool.id}" and entry["subject"] == case


def test_api_decision_and_undo_are_audited_with_the_principal(svc):
    client, secrets, ids, case, app = svc
    h = bearer(secrets["review"])
    assert client.post(f"/v1/cases/{case}/undo", json={}, headers=h).status_code == 409  # nothing decided yet
    assert client.post("/v1/cases/rv-nope/undo", json={}, headers=h).status_code == 404
    assert client.post(f"/v1/cases/{case}/undo", json={}, headers=bearer(secrets["ingest"])).status_code == 403
    r = client.post(f"/v1/cases/{case}/decision", json={"violating": True, "note": "spam"}, headers=h)
    assert r.status_code == 202
    wait_for(lambda: case_of(client, secrets, case)["status"] == "decided")
    r = client.post(f"/v1/cases/{case}/undo", json={"note": "wrong room"}, headers=h)
    assert r.status_code == 202, r.text
    wait_for(lambda: case_of(client, secrets, case)["status"] == "open")
    actions = [(e["action"], e["actor"], e["subject"]) for e in api_chain(app)]
    assert ("review.decide", f"key:{ids['review']}", case) in actions
    assert ("review.undo", f"key:{ids['review']}", case) in actions


def test_console_decisions_are_audited_like_api_ones(svc):
    client, secrets, ids, case, app = svc
    from console_helpers import sign_in

    form = sign_in(client, secrets["review"], f"/review/case/{case}")
    r = client.post(f"/review/case/{case}/decide", data={"violating": "1", **form}, follow_redirects=False)
    assert r.status_code == 303, r.text
    wait_for(lambda: case_of(client, secrets, case)["status"] == "decided")
    entry = [e for e in api_chain(app) if e["action"] == "review.decide"][-1]
    assert entry["actor"] == f"key:{ids['review']}" and entry["subject"] == case and '"console"' in entry["payload"]


def test_level_pins_and_mass_actions_are_audited_with_the_key(svc):
    client, secrets, ids, _, app = svc
    r = client.post("/incident/level", json={"level": "severe", "reason": "drill"}, headers=bearer(secrets["operate"]))
    assert r.status_code == 200
    ops = read_chain(app.state.keys.engine, "ops")
    assert ops[-1]["action"] == "level_set" and ops[-1]["actor"] == f"operate-person ({ids['operate']})"


def test_a_long_key_name_still_fits_the_reviewer_column(svc):
    client, secrets, _, case, app = svc
    long_secret, long_key = app.state.keys.create("r" * 128, ["review"])
    r = client.post(f"/v1/cases/{case}/decision", json={"violating": False}, headers=bearer(long_secret))
    assert r.status_code == 202
    decided = wait_for(lambda: (c := case_of(client, secrets, case))["status"] == "decided" and c)
    assert len(decided["reviewer"]) <= 128 and decided["reviewer"].endswith(f"({long_key.id})")
