"""No honest room ends on one signal: single-signal cases need two reviewers, storms are kept out of review,
and another room's classifier flag on the same content counts as a second signal."""

import pytest
from test_engine import Harness
from test_review import _cluster_case, _live, _report

from floodwall.engine.policy import PolicyError, parse_policy
from floodwall.events import ReviewDecided

POLICY = """
name = "two-reviewers"
[engine]
content = false
classifier = false
chat = false
clusters = false
rings = false
review = "case"
reports = "aggregate"

[[rules]]
name = "review-reports-alone"
when = "stream.report_weight >= 3.0 && !stream.reviewed_benign"
action = "review"
second_opinion = true

[[rules]]
name = "review-many-reports"
when = "stream.report_weight >= 6.0 && !stream.reviewed_benign"
action = "review"
"""


def _case(h, reporters=3, room="m"):
    _live(h, [room])
    h.send(*[_report(h, f"s-{room}", f"v{room}{i}") for i in range(reporters)])
    (item,) = [i for i in h.engine.review.items.values() if i.key == f"s-{room}"]
    return item


def _decide(h, item, reviewer, violating):
    h.send(ReviewDecided(id=h.eid(), ts=h.clock.now(), item=item.id, reviewer=reviewer, violating=violating))


def test_one_violating_opinion_limits_and_waits_for_a_second_reviewer():
    h = Harness(POLICY)
    item = _case(h)
    assert item.evidence["second_opinion"] is True
    _decide(h, item, "ana", True)
    assert h.actions("takedown") == set()
    assert h.actions("limit") == {"s-m"}  # off the pages meanwhile
    assert item.status == "open" and h.engine.review.pop() is item  # back in the queue
    _decide(h, item, "ana", True)  # the same person again is not a second opinion
    assert h.actions("takedown") == set() and item.status == "open"
    _decide(h, item, "ben", True)
    assert h.actions("takedown") == {"s-m"} and item.status == "decided"


def test_a_first_benign_opinion_ends_the_case_benign():
    h = Harness(POLICY)
    item = _case(h)
    _decide(h, item, "ana", False)
    assert item.status == "decided" and item.violating is False
    assert h.engine.streams["s-m"].reviewed_benign


@pytest.mark.parametrize("third, down", [(False, set()), (True, {"s-m"})])
def test_a_split_goes_to_a_third_reviewer(third, down):
    h = Harness(POLICY)
    item = _case(h)
    _decide(h, item, "ana", True)
    _decide(h, item, "ben", False)
    assert item.status == "open"
    _decide(h, item, "cy", third)
    assert item.status == "decided" and h.actions("takedown") == down


def test_a_second_signal_makes_it_a_one_reviewer_case():
    h = Harness(POLICY)
    item = _case(h, reporters=7)  # both rules fire: reports alone no longer
    assert item.evidence["second_opinion"] is False
    _decide(h, item, "ana", True)
    assert h.actions("takedown") == {"s-m"}


def test_second_opinion_only_applies_to_review_rules():
    bad = POLICY.replace('action = "review"\nsecond_opinion = true', 'action = "takedown"\nsecond_opinion = true')
    with pytest.raises(PolicyError, match="second_opinion"):
        parse_policy(bad)


def test_a_reporters_voice_is_split_over_the_rooms_it_reports():
    h = Harness()
    _live(h, ["a", "b", "c", "d"])
    h.send(*[_report(h, f"s-{x}", "sprayer") for x in "abcd"])
    h.send(_report(h, "s-a", "viewer"))
    weights = {x: h.engine.streams[f"s-{x}"].report_weight for x in "abcd"}
    assert weights["b"] == pytest.approx(0.25) and weights["a"] == pytest.approx(1.25)
    sig = h.engine.stream_signals(h.engine.streams["s-a"])
    assert sig["report_spread"] == pytest.approx(0.5)  # the sprayer, not the viewer
    assert h.engine.stream_signals(h.engine.streams["s-b"])["report_spread"] == 1.0


def test_a_storm_of_aged_reporters_over_many_merchants_opens_no_case():
    h = Harness()
    merchants = [f"mc{i}" for i in range(10)]
    _live(h, merchants)
    aged = []
    for i in range(40):
        aged += h.account(f"bought{i}", fresh=False)
    h.send(*aged)
    h.send(*[_report(h, f"s-{m}", f"bought{i}") for i in range(40) for m in merchants])
    assert h.engine.review.created == 0
    assert h.actions("takedown") == set()
    # Viewers who report only the room they watch still get it reviewed.
    h.send(*[_report(h, "s-mc0", f"viewer{i}") for i in range(50)])
    assert h.engine.review.created == 1


def test_cluster_flagged_rooms_counts_the_rooms_the_model_flags_in_the_same_content():
    h = Harness()
    rooms, _case_ = _cluster_case(h)
    streams = [h.engine.streams[f"s-{a}"] for a in rooms]
    assert h.engine.stream_signals(streams[0])["cluster_flagged_rooms"] == 0
    for st in streams[:3]:
        st.scores.append(0.9)  # the image model's score, as content.py records it
    sig = h.engine.stream_signals(streams[5])
    assert sig["cluster_flagged_rooms"] == 3 and sig["cluster_flagged_share"] == pytest.approx(0.5)
