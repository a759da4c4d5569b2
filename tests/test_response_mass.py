"""Guarded mass actions: two different operators, every step audited, undone cleanly."""

import pytest

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
    engine, platform, mass, audit, _, _ = setup
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
    engine, platform, mass, _, _, _ = setup
    p = mass.propose("pause_all", "*", "alice", "last resort drill")
    mass.approve(p.id, "bob")
    assert not platform.paused
    mass.approve(p.id, "carol")
    assert platform.paused
    mass.undo(p.id, "alice", "drill over")
    assert not platform.paused


def test_credential_reset_locks_the_ring_and_queues_owner_messages(setup):
    engine, platform, mass, _, _, responder = setup
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
