"""The report channel, harm-ranked cases, and decisions that act on a whole case and can be undone."""

import numpy as np
import sqlalchemy as sa
from test_engine import Harness

from floodwall.adapters.store import reports as reports_table
from floodwall.events import (
    ReportFiled,
    ReviewDecided,
    ReviewReversed,
    StreamStarted,
    ViewerCount,
)
from floodwall.engine.queue import ReviewQueue
from floodwall.sim.render import EVENT, Look


def _live(h, aids, fresh=False):
    evs = []
    for a in aids:
        evs += h.account(a, fresh=fresh)
    h.send(*evs)
    h.send(*[StreamStarted(id=h.eid(), ts=h.clock.now(), stream=f"s-{a}", account=a, device=f"d-{a}", ip=f"8.8.{i}.1")
             for i, a in enumerate(aids)])


def _report(h, sid, reporter):
    return ReportFiled(id=h.eid(), ts=h.clock.now(), stream=sid, reporter=reporter, reason="illegal_content")


def _stored_reports(h):
    with h.store.engine.connect() as conn:
        return conn.execute(sa.select(reports_table.c.reporter, reports_table.c.weight)).all()


def test_many_reports_on_one_room_are_one_counter_each_stored():
    h = Harness()
    _live(h, ["m"])
    reporters = [f"viewer{i}" for i in range(2000)]
    batch = [_report(h, "s-m", r) for r in reporters for _ in range(10)]  # every viewer reports ten times
    h.send(*batch)
    st = h.engine.streams["s-m"]
    assert h.engine.reports_received == h.engine.reports_accepted == 20_000
    assert len(st.reporters) == 2000  # deduplicated per reporter
    assert st.report_weight == 2000.0  # unknown reporters weigh 1 each, once
    assert h.engine.review.created == 1  # one case, not 20,000 queue items
    rows = _stored_reports(h)
    assert len(rows) == 20_000  # nothing lost: duplicates are kept, with weight 0
    assert sum(w for _, w in rows) == 2000.0


def test_reporter_rate_limit_zeroes_a_burst_across_rooms():
    h = Harness()
    rooms = [f"r{i}" for i in range(25)]
    _live(h, rooms)
    h.send(*[_report(h, f"s-{a}", "serial") for a in rooms])
    weights = [h.engine.streams[f"s-{a}"].report_weight for a in rooms]
    assert sum(w > 0 for w in weights) == 20  # past 20 reports in 10 minutes, a reporter weighs nothing
    assert len(_stored_reports(h)) == 25


def test_fresh_account_flood_cannot_open_a_case_alone():
    h = Harness()
    _live(h, ["merchant"])
    flood = []
    for i in range(600):
        flood += h.account(f"fr{i}", fresh=True, device=f"farm{i % 7}")
    h.send(*flood)
    h.send(*[_report(h, "s-merchant", f"fr{i}") for i in range(600)])
    st = h.engine.streams["s-merchant"]
    assert st.report_weight <= 1.0 + 1e-9
    assert h.engine.review.created == 0
    assert h.actions("takedown") == set()
    # Three real viewers still get a room reviewed: the flood does not hide real reports.
    h.send(*[_report(h, "s-merchant", f"viewer{i}") for i in range(3)])
    assert h.engine.review.created == 1


def test_reputation_learns_from_review_outcomes():
    h = Harness()
    _live(h, ["a", "b"])
    # The liar reports both rooms, so its voice is split between them: each room has a third sole reporter.
    h.send(*[_report(h, "s-a", r) for r in ("good1", "good2", "good3", "liar")],
           *[_report(h, "s-b", r) for r in ("liar", "x", "y", "z")])
    items = {i.key: i for i in h.engine.review.items.values()}
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=items["s-a"].id, reviewer="r1", violating=True),
           ReviewDecided(id=h.eid(), ts=h.clock.now(), item=items["s-b"].id, reviewer="r1", violating=False))
    rep = h.engine.reputation
    assert rep["good1"] > 1.0 and rep["x"] < 1.0
    assert rep["liar"] < rep["good1"]


def _cluster_case(h, n=6):
    rooms = [f"c{i}" for i in range(n)]
    _live(h, rooms)
    rng = np.random.default_rng(1)
    for t in range(0, 40, 10):
        h.send(*[h.frame(f"s-{a}", a, h.render(EVENT, 1000, float(t), Look.random(rng, "broadcast"))) for a in rooms])
    h.send(*[ViewerCount(id=h.eid(), ts=h.clock.now(), stream=f"s-{a}", viewers=10 * (i + 1)) for i, a in enumerate(rooms)])
    h.send(*[_report(h, "s-c0", f"v{i}") for i in range(3)])
    cases = [i for i in h.engine.review.items.values() if i.kind == "cluster"]
    assert len(cases) == 1, [(i.kind, i.key) for i in h.engine.review.items.values()]
    return rooms, cases[0]


def test_a_decision_acts_on_every_room_of_the_cluster_and_undo_restores_them():
    h = Harness()
    rooms, case = _cluster_case(h)
    assert {f"s-{a}" for a in rooms} <= case.streams | h.engine.clusters.rooms(case.key)
    assert case.priority > 0
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana", violating=True, note="contraband"))
    down = h.actions("takedown")
    assert down == {f"s-{a}" for a in rooms}
    assert len(h.engine.banks["reviewed"]) > 0
    assert h.engine.review.history[-1].reviewer == "ana" and h.engine.review.history[-1].note == "contraband"
    verdict = [v for v in h.store.decisions_for(case.key) if v["rules"] == ["review:ana"]]
    assert verdict and verdict[0]["evidence"]["rooms"] == len(rooms)

    h.send(ReviewReversed(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ben", note="appeal upheld"))
    assert h.actions("restore") == down
    assert len(h.engine.banks["reviewed"]) == 0  # its hashes are withdrawn from the bank
    assert h.engine.clusters.root(f"s-{rooms[0]}") not in h.engine.confirmed_clusters
    assert all(not h.engine.streams[s].taken_down for s in down)
    assert h.engine.review.items[case.id].status == "open"  # back in the queue for a new decision
    assert h.engine.review.history[-1].undone_by == "ben"
    assert all(h.engine.accounts[a].takedowns == 0 for a in rooms)
    # The same rooms can be decided again, and the takedown goes out again.
    n_orders = len(h.enforcer.orders)
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana", violating=True))
    assert len([o for o in h.enforcer.orders[n_orders:] if o.action == "takedown"]) == len(rooms)


def test_undo_of_a_benign_decision_lets_the_case_be_judged_again():
    h = Harness()
    _rooms, case = _cluster_case(h)
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana", violating=False))
    assert len(h.engine.banks["honest"]) == 1
    assert all(h.engine.streams[s].reviewed_benign for s in case.streams)
    h.send(ReviewReversed(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana"))
    assert len(h.engine.banks["honest"]) == 0
    assert not any(h.engine.streams[s].reviewed_benign for s in case.streams)
    assert h.actions("takedown") == set()


def test_undo_without_a_decision_changes_nothing():
    h = Harness()
    _rooms, case = _cluster_case(h)
    before = len(h.enforcer.orders)
    h.send(ReviewReversed(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="x"),
           ReviewReversed(id=h.eid(), ts=h.clock.now(), item="rv-404", reviewer="x"))
    assert len(h.enforcer.orders) == before
    assert h.engine.review.items[case.id].status == "open"


def test_case_queue_pops_highest_harm_first_and_reopen_requeues():
    q = ReviewQueue("case")
    low, _ = q.open_case("stream", "s1", {"s1"}, 0.0, 10.0, {})
    high, _ = q.open_case("stream", "s2", {"s2"}, 1.0, 500.0, {})
    mid, _ = q.open_case("cluster", "c", {"s3", "s4"}, 2.0, 100.0, {})
    q.reprioritise(low.id, 1000.0)  # its room drew a crowd
    assert [q.pop().id for _ in range(3)] == [low.id, high.id, mid.id]
    assert q.pop() is None
    q.close(high.id, 3.0, True, "r")
    assert q.depth == 2
    undone = q.reopen(high.id, 4.0, "r2")
    assert undone is not None and undone.undone_by == "r2"
    assert q.depth == 3 and q.pop().id == high.id


def test_undo_thaws_the_ring_its_decision_froze():
    h = Harness()
    evs = []
    for i in range(6):  # fresh accounts on two farm devices and one number block: a ring
        evs += h.account(f"r{i}", fresh=True, phone=f"861701234{i:04d}", device=f"farm{i % 2}", ip=f"9.9.{i}.1")
    h.send(*evs)
    assert h.engine.rings.ring_of("r0") is not None
    h.send(StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-r0", account="r0", device="farm0", ip="9.9.0.1"))
    h.send(*[_report(h, "s-r0", f"v{i}") for i in range(3)])
    (case,) = h.engine.review.items.values()
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana", violating=True))
    frozen = h.actions("freeze")
    assert frozen == {f"r{i}" for i in range(6)}  # one decision froze the whole ring
    h.send(ReviewReversed(id=h.eid(), ts=h.clock.now(), item=case.id, reviewer="ana", note="wrong room"))
    assert h.actions("restore") >= frozen | {"s-r0"}
    assert not any(h.engine.accounts[a].frozen for a in frozen)
    assert not h.engine.rings.ring_of("r0").confirmed
