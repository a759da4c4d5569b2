"""Guarded mass actions: two different operators, every step audited, undone cleanly."""

import pytest
from service_helpers import served

from floodwall.clock import VirtualClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import AccountRegistered
from floodwall.response.audit import AuditLog, verify_store
from floodwall.response.incident import IncidentResponse
from floodwall.response.mass import MassActionError, MassActions
from floodwall.response.outbox import Outbox

T0 = 1_766_412_000.0


class PlatformState:
    """An enforcer that keeps the state orders change: who is frozen, whether streaming is paused."""

    def __init__(self):
        self.frozen: set[str] = set()
        self.paused = False
        self.orders = []

    def apply(self, orders):
        for o in orders:
            self.orders.append(o)
            if o.target == "*":
                self.paused = o.action == "takedown"
            elif o.subject == "account" and o.action == "freeze":
                self.frozen.add(o.target)
            elif o.subject == "account" and o.action == "restore":
                self.frozen.discard(o.target)


@pytest.fixture
def setup(tmp_path):
    clock = VirtualClock(T0)
    platform = PlatformState()
    url = f"sqlite:///{tmp_path}/store.db"
    responder = IncidentResponse.for_policy("floodwall", T0, Outbox(url, run="t"))
    engine = Engine(load_policy("floodwall"), clock=clock, enforcer=platform, responder=responder)
    clock.advance_to(T0 + 1)
    # A farm: six accounts on one device and one number block, registered minutes apart, form a ring.
    engine.handle([AccountRegistered(id=f"r{i}", ts=T0 + i * 0.1, account=f"x{i}", phone=f"8617012345{i:02d}",
                                     device="dv-farm", ip=f"45.60.1.{i + 1}") for i in range(6)])
    # An honest bystander, and one ring member already frozen for its own reasons before the mass action.
    engine.handle([AccountRegistered(id="r-h", ts=T0 - 400 * 86400, account="h1", phone="8613800000000",
                                     device="dv-h1", ip="1.2.3.4")])
    ring = engine.rings.ring_of("x0")
    assert ring is not None and len(ring.members) == 6
    engine.respond_now([("freeze", "account", "x5")], "frozen earlier by a rule", {})
    audit = AuditLog(url, chain="ops")
    return engine, platform, MassActions(engine, audit), audit, url, responder


def test_one_approval_does_nothing(setup):
    engine, platform, mass, _, _, _ = setup
    before = (set(platform.frozen), platform.paused, len(platform.orders))
    p = mass.propose("freeze_ring", "x0", "alice", "farm ring streaming contraband")
    mass.approve(p.id, "alice")
    assert p.status == "proposed"
    assert (set(platform.frozen), platform.paused, len(platform.orders)) == before
    assert not any(engine.accounts[f"x{i}"].frozen for i in range(5))


def test_two_approvals_from_one_operator_do_nothing(setup):
    _engine, platform, mass, audit, _, _ = setup
    before = (set(platform.frozen), platform.paused, len(platform.orders))
    p = mass.propose("pause_all", "*", "alice", "testing the guard")
    mass.approve(p.id, "bob")
    mass.approve(p.id, "bob")
    assert p.status == "proposed" and p.approvals == ["bob"]
    assert (set(platform.frozen), platform.paused, len(platform.orders)) == before
    assert [e["action"] for e in audit.entries()] == ["proposed", "approved", "approval_repeated"]


def test_two_operators_run_it_and_undo_restores_the_state(setup):
    engine, platform, mass, audit, url, _ = setup
    before_frozen = set(platform.frozen)
    before_engine = {a: acc.frozen for a, acc in engine.accounts.items()}
    p = mass.propose("freeze_ring", "x0", "alice", "farm ring streaming contraband")
    mass.approve(p.id, "alice")
    mass.approve(p.id, "bob")
    assert p.status == "executed"
    assert platform.frozen == {f"x{i}" for i in range(6)}
    assert "h1" not in platform.frozen
    mass.undo(p.id, "carol", "ring was a school club")
    assert platform.frozen == before_frozen == {"x5"}  # x5 was frozen before: the undo leaves it frozen
    assert {a: acc.frozen for a, acc in engine.accounts.items()} == before_engine
    assert [e["action"] for e in audit.entries()] == ["proposed", "approved", "approved", "executed", "undone"]
    assert verify_store(url)[1] == []
    with pytest.raises(MassActionError):
        mass.undo(p.id, "carol", "twice")


def test_pause_all_runs_with_two_and_is_undone(setup):
    _engine, platform, mass, _, _, _ = setup
    p = mass.propose("pause_all", "*", "alice", "last resort drill")
    mass.approve(p.id, "bob")
    assert not platform.paused
    mass.approve(p.id, "carol")
    assert platform.paused
    mass.undo(p.id, "alice", "drill over")
    assert not platform.paused


def test_credential_reset_locks_the_ring_and_queues_owner_messages(setup):
    _engine, platform, mass, _, _, responder = setup
    p = mass.propose("reset_ring_credentials", "x1", "alice", "credentials sold on a forum")
    mass.approve(p.id, "alice")
    mass.approve(p.id, "dave")
    assert platform.frozen >= {f"x{i}" for i in range(6)}
    queued = responder.outbox.rows("pending")
    assert sorted(r["account"] for r in queued) == [f"x{i}" for i in range(6)]
    assert queued[0]["recipient"].startswith("86170")


def test_unknown_kind_and_target_are_refused(setup):
    _, _, mass, _, _, _ = setup
    with pytest.raises(MassActionError, match="unknown mass action"):
        mass.propose("delete_everything", "x0", "alice", "no")
    with pytest.raises(MassActionError, match="unknown account"):
        mass.propose("freeze_ring", "nobody", "alice", "no")


def test_operator_api_two_keys_run_it_and_the_level_can_be_pinned(setup):
    from fastapi import FastAPI, Header
    from fastapi.testclient import TestClient

    from floodwall.service.operator_api import router
    from floodwall.service.hub import Hub

    engine, platform, _, audit, _, responder = setup
    hub = Hub(engine)
    mass = MassActions(engine, audit, lock=hub.lock)

    def operator(x_operator: str = Header(...)) -> str:  # the service puts its API-key check here
        return x_operator

    app = FastAPI()
    app.include_router(router(hub, mass, operator))
    c = TestClient(app)
    pid = c.post("/mass-actions", json={"kind": "freeze_ring", "target": "x2", "reason": "farm"},
                 headers={"X-Operator": "alice"}).json()["id"]
    assert c.post(f"/mass-actions/{pid}/approve", headers={"X-Operator": "alice"}).json()["status"] == "proposed"
    assert c.post(f"/mass-actions/{pid}/approve", headers={"X-Operator": "alice"}).json()["status"] == "proposed"
    assert not platform.frozen - {"x5"}
    done = c.post(f"/mass-actions/{pid}/approve", headers={"X-Operator": "bob"}).json()
    assert done["status"] == "executed" and platform.frozen == {f"x{i}" for i in range(6)}
    assert c.post(f"/mass-actions/{pid}/undo", json={"reason": "mistake"}, headers={"X-Operator": "bob"}).status_code == 200
    assert platform.frozen == {"x5"}
    assert c.get("/audit/verify", headers={"X-Operator": "carol"}).json()["ok"] is True
    assert c.post("/mass-actions", json={"kind": "nuke", "reason": "x"}, headers={"X-Operator": "a"}).status_code == 422
    # The level by hand: pinned, recorded with who and why, and in the audit log.
    ch = c.post("/incident/level", json={"level": "critical", "reason": "press reports"},
                headers={"X-Operator": "alice"}).json()
    assert ch["level"] == "critical" and ch["source"] == "operator" and engine.incident_level == 3
    assert responder.timeline()[-1]["operator"] == "alice"
    assert c.post("/incident/level", json={"level": "panic", "reason": "x"}, headers={"X-Operator": "a"}).status_code == 422
    assert c.post("/incident/release", headers={"X-Operator": "alice"}).json() == {"level": "critical", "pinned": False}
    assert c.post("/incident/level", json={"level": 1, "reason": "x"}).status_code == 422  # no operator: refused


def test_operator_level_change_releases_held_registrations(setup):
    engine, platform, _, _, _, responder = setup
    clock = engine.clock
    responder.set_level(engine, 3, "alice", "drill")
    clock.advance_to(clock.now() + 1)
    engine.handle([AccountRegistered(id="r-v", ts=clock.now(), account="v1", phone="8617099990000",
                                     device="dv-v1", ip="45.61.1.1")])
    assert "v1" in platform.frozen and engine.accounts["v1"].frozen  # held at critical
    responder.set_level(engine, 1, "alice", "drill over")
    clock.advance_to(clock.now() + 1)
    engine.handle([])
    assert "v1" not in platform.frozen and not engine.accounts["v1"].frozen


def test_level_command_sets_and_releases_over_http(setup, capsys):
    from fastapi import FastAPI, Header

    from floodwall.cli import main
    from floodwall.service.operator_api import router
    from floodwall.service.hub import Hub

    engine, _, _, audit, _, responder = setup
    hub = Hub(engine)

    def operator(authorization: str = Header(...)) -> str:  # stands in for the service's key check
        return authorization.removeprefix("Bearer ")

    app = FastAPI()
    app.include_router(router(hub, MassActions(engine, audit, lock=hub.lock), operator))
    with served(app) as url:
        assert main(["level", "set", "severe", "--reason", "drill", "--url", url, "--key", "ops-alice"]) == 0
        assert engine.incident_level == 2 and responder.tracker.pinned is not None
        assert responder.timeline()[-1]["operator"] == "ops-alice"
        assert main(["level", "release", "--url", url, "--key", "ops-alice"]) == 0
        assert responder.tracker.pinned is None
        assert main(["level", "set", "severe", "--reason", "no key", "--url", url]) == 1  # refused without a key


def test_orders_through_the_next_batch_do_what_orders_at_once_do(setup):
    """With ``submit`` (the service's journal) the same freezes, owner messages and restores happen, in the
    engine's next batch, and a MassActions built later from the same audit chain can undo the action."""
    engine, platform, _, audit, _, responder = setup
    queued: list = []
    mass = MassActions(engine, audit, submit=queued.extend)
    p = mass.propose("reset_ring_credentials", "x1", "alice", "credentials sold on a forum")
    mass.approve(p.id, "alice")
    mass.approve(p.id, "dave")
    assert p.status == "executed" and "x0" not in platform.frozen  # nothing yet: the batch has not run
    assert [type(ev).__name__ for ev in queued] == ["MassOrders"]
    engine.handle(queued)
    queued.clear()
    assert platform.frozen >= {f"x{i}" for i in range(6)}
    assert sorted(r["account"] for r in responder.outbox.rows("pending")) == [f"x{i}" for i in range(6)]
    later = MassActions(engine, audit, submit=queued.extend)  # a restart: proposals come back from the chain
    assert later.proposals[p.id].status == "executed" and later.proposals[p.id].effects == p.effects
    later.undo(p.id, "bob", "owners re-verified")
    engine.handle(queued)
    assert platform.frozen == {"x5"}  # frozen earlier for its own reasons: not thawed
    assert later.propose("pause_all", "*", "alice", "drill").id == "ma2"
