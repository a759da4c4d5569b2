"""A rule that raises at run time on one subject is recorded and skipped; the batch goes on."""

import pytest

from floodwall.engine.policy import PolicyError, parse_policy
from floodwall.events import StreamStarted

from test_engine import Harness

# "broken" divides by zero for an account alone on its device (static checks pass: int / int, and
# on every default the left side is false); "watch" fires everywhere and must still act.
POLICY = """
name = "errors"
[engine]
classifier = false
chat = false
[[rules]]
name = "broken"
when = "account.age_s > 0.0 && 100 / (account.device_accounts - 1) > 1"
action = "takedown"
[[rules]]
name = "watch"
when = "stream.age_s >= 0.0"
action = "limit"
"""


def test_a_rule_that_raises_on_one_subject_is_recorded_and_skipped():
    h = Harness(POLICY)
    evs = h.account("alone", fresh=False) + h.account("b1", fresh=False, device="shared")
    evs += h.account("b2", fresh=False, device="shared")
    h.send(*evs)
    orders = h.send(
        StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-alone", account="alone", device="d-alone", ip="1.1.1.1"),
        StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-b1", account="b1", device="shared", ip="2.2.2.2"),
    )
    acted = {(o.action, o.target) for o in orders}
    # The broken rule still acts where it can be evaluated, and the other rule acts on both rooms.
    assert ("takedown", "s-b1") in acted
    assert ("limit", "s-alone") in acted
    assert ("takedown", "s-alone") not in acted
    assert h.engine.rule_error_counts == {"broken": 1}
    [err] = h.engine.rule_errors
    assert (err["rule"], err["subject"], err["key"]) == ("broken", "stream", "s-alone")
    assert "division by zero" in err["error"]
    assert err["ts"] == h.clock.now()


def test_without_a_recorder_the_error_names_the_rule():
    import cel

    from floodwall.engine.signals import sample_context

    policy = parse_policy(POLICY)
    ctx = sample_context()
    ctx["account"]["age_s"] = 5.0
    ctx["account"]["device_accounts"] = 1
    with pytest.raises(PolicyError, match="rule 'broken' failed at run time"):
        policy.evaluate(cel.Context(ctx))
