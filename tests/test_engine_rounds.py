"""Same-batch re-evaluation: a confirmed takedown acts on its cluster's other live rooms in that batch."""

from floodwall.events import ReportFiled, StreamStarted
from floodwall.sim.render import CLIP

from test_engine import Harness

# One rule takes down a room with confidence (and confirms its content); the other takes down any
# room whose cluster was confirmed. Nothing else acts, so only the cluster rule can take the others.
POLICY = """
name = "rounds"
[engine]
classifier = false
chat = false
rings = false
report_review_threshold = 1.0
[[rules]]
name = "confident"
when = "!account.has_avatar && stream.report_weight >= 1.0"
action = "takedown"
confirm = true
[[rules]]
name = "cluster-confirmed"
when = "stream.cluster_confirmed"
action = "takedown"
"""


def _three_rooms_one_cluster(h: Harness) -> list[str]:
    evs = h.account("bad", fresh=True, avatar=False)
    for a in ("p1", "p2"):
        evs += h.account(a, fresh=True, avatar=True)
    h.send(*evs)
    accounts = ["bad", "p1", "p2"]
    h.send(*[StreamStarted(id=h.eid(), ts=h.clock.now(), stream=f"s-{a}", account=a, device=f"d-{a}",
                           ip=f"9.9.{i}.1") for i, a in enumerate(accounts)])
    same = h.render(CLIP, 7, 20.0)
    h.send(*[h.frame(f"s-{a}", a, same) for a in accounts])  # one cluster of three
    root = h.engine.clusters.root("s-bad")
    assert h.engine.clusters.members[root] >= {"s-bad", "s-p1", "s-p2"}
    assert h.actions("takedown") == set()
    return accounts


def _report(h: Harness) -> ReportFiled:
    return ReportFiled(id=h.eid(), ts=h.clock.now(), stream="s-bad", reporter="viewer-1", reason="spam")


def test_confirmed_takedown_takes_its_cluster_down_in_the_same_batch():
    h = Harness(POLICY)
    _three_rooms_one_cluster(h)
    # Only the bad room is reported: the report fires the confident rule in this batch.
    orders = h.send(_report(h))
    taken = {o.target for o in orders if o.action == "takedown"}
    assert taken == {"s-bad", "s-p1", "s-p2"}
    reasons = {o.target: o.reason for o in orders if o.action == "takedown"}
    assert reasons["s-p1"] == reasons["s-p2"] == "cluster-confirmed"


def test_rounds_do_not_repeat_verdicts_for_unchanged_rooms():
    h = Harness(POLICY)
    _three_rooms_one_cluster(h)
    before = h.engine.verdicts
    seen = []
    record = h.store.record
    h.store.record = lambda vs, orders: (seen.extend(vs), record(vs, orders))
    h.send(_report(h))
    rules = [(v.key, tuple(v.rules)) for v in seen]
    # A verdict only where a room's firing rules changed: the bad room twice (its own rule, then its
    # cluster's confirmation too), each other room once; the rooms judged again unchanged add none.
    assert rules == [("s-bad", ("confident",)), ("s-bad", ("confident", "cluster-confirmed")),
                     ("s-p1", ("cluster-confirmed",)), ("s-p2", ("cluster-confirmed",))]
    assert h.engine.verdicts - before == 4
    h.send()  # an empty batch decides nothing new
    assert h.engine.verdicts - before == 4
