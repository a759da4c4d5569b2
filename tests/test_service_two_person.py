"""Two people are two people: keys record who created them, and a requester's own keys (or keys it made,
or that made it) do not count as the second approval of a mass action."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_helpers import bearer

from floodwall.service.serve import build_app


@pytest.fixture
def svc(tmp_path):
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    admin, admin_key = app.state.keys.create("alice", ["admin"])  # made with the CLI
    other, _ = app.state.keys.create("bob", ["operate"])  # another person, also from the CLI
    with TestClient(app) as client:
        yield client, app, admin, admin_key, other


def make_key(client, creator: str, name: str, scopes: list[str]) -> str:
    r = client.post("/v1/keys", json={"name": name, "scopes": scopes}, headers=bearer(creator))
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def test_a_sockpuppet_key_cannot_second_its_creators_mass_action(svc):
    client, app, admin, admin_key, other = svc
    puppet = make_key(client, admin, "sockpuppet", ["admin"])
    grandchild = make_key(client, puppet, "sockpuppet-2", ["operate"])  # transitively alice's
    assert app.state.keys.lineage(grandchild.split("_")[1]) == [grandchild.split("_")[1], puppet.split("_")[1],
                                                               admin_key.id]
    pid = client.post("/mass-actions", json={"kind": "pause_all", "reason": "flood"}, headers=bearer(admin)).json()["id"]
    assert client.post(f"/mass-actions/{pid}/approve", headers=bearer(admin)).json()["status"] == "proposed"
    for fake in (puppet, grandchild):
        r = client.post(f"/mass-actions/{pid}/approve", headers=bearer(fake))
        assert r.status_code == 409, r.text
    assert client.get("/mass-actions", headers=bearer(admin)).json()[0]["status"] == "proposed"
    r = client.post(f"/mass-actions/{pid}/approve", headers=bearer(other))  # a second person
    assert r.status_code == 200 and r.json()["status"] == "executed"


def test_a_puppet_cannot_propose_for_its_creator_to_approve(svc):
    client, _, admin, _, _ = svc
    puppet = make_key(client, admin, "sockpuppet", ["operate"])
    pid = client.post("/mass-actions", json={"kind": "pause_all", "reason": "x"}, headers=bearer(puppet)).json()["id"]
    assert client.post(f"/mass-actions/{pid}/approve", headers=bearer(puppet)).json()["status"] == "proposed"
    assert client.post(f"/mass-actions/{pid}/approve", headers=bearer(admin)).status_code == 409


def test_keys_list_shows_who_created_each(svc):
    client, _, admin, admin_key, _ = svc
    make_key(client, admin, "child", ["ingest"])
    rows = {r["name"]: r for r in client.get("/v1/keys", headers=bearer(admin)).json()["items"]}
    assert rows["child"]["created_by"] == admin_key.id and rows["alice"]["created_by"] is None
