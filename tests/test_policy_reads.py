"""A rule's CEL context carries only the signals the policy reads: the same rules fire, the same errors;
its verdict still cites the whole signal maps."""

from __future__ import annotations

import random

import cel
import pytest

from floodwall.engine.celcheck import reads
from floodwall.engine.decide import _only
from floodwall.engine.policy import load_policy, parse_policy
from floodwall.engine.signals import SIGNAL_SCHEMA, sample_context

NS = frozenset(SIGNAL_SCHEMA)


def _random_context(rng: random.Random) -> dict[str, dict[str, object]]:
    ctx = sample_context()
    for ns, signals in SIGNAL_SCHEMA.items():
        for name, kind in signals.items():
            ctx[ns][name] = {"bool": lambda: rng.random() < 0.5, "int": lambda: rng.choice([0, 1, 2, 3, 5, 40]),
                             "double": lambda: rng.choice([0.0, 0.2, 0.5, 0.8, 0.95, 1.0, 3.0]),
                             "string": lambda: rng.choice(["", "bank-a", "open_nsfw"])}.get(kind, lambda: None)()
    return ctx


def _outcome(policy, ctx: dict) -> tuple:
    errors: list[str] = []
    fired, shadow = policy.evaluate(cel.Context(ctx), lambda rule, exc: errors.append(rule.name))
    return [r.name for r in fired], [r.name for r in shadow], errors


EXTRA = ('name = "t"\n'
         '[[rules]]\nname = "whole"\nwhen = "size(stream) > 100 || account.risk > 0.9"\naction = "review"\n'
         '[[rules]]\nname = "cites"\nwhen = "stream.bank_match && \'stream.frames\' != \'\'"\naction = "takedown"\n')


@pytest.mark.parametrize("name", ["floodwall", "manual", "floodwall-robust", "extra"])
def test_pruned_contexts_decide_what_whole_ones_decide(name):
    policy = parse_policy(EXTRA, source="t.toml") if name == "extra" else load_policy(name)
    rng = random.Random(name)
    seen = set()
    for _ in range(300):
        ctx = _random_context(rng)
        pruned = {ns: _only(ctx[ns], policy.reads.get(ns)) for ns in ctx}
        got = _outcome(policy, pruned)
        assert got == _outcome(policy, ctx)
        seen.add(str(got))
    assert len(seen) > 3 or not policy.rules  # the contexts make different rules fire, not one outcome 300 times
    if name == "extra":
        assert policy.reads["stream"] is None  # `size(stream)` reads the whole map
        assert policy.reads["account"] == {"risk"}
    else:
        assert policy.reads["stream"] is not None and len(policy.reads["stream"]) < len(SIGNAL_SCHEMA["stream"])


CITES = """
name = "cites"
[engine]
classifier = false
chat = false
[[rules]]
name = "cites"
when = "stream.classifier >= 0.0 && 'stream.reports' != '' && account.age_s >= 0.0"
action = "limit"
"""


def test_a_verdict_cites_signals_its_rule_context_left_out():
    # The rule reads `classifier` and `age_s` only; its verdict also cites `reports` (named in a string)
    # and the classifier's model (cited beside any classifier score), from the whole signal maps.
    from floodwall.events import StreamStarted

    from test_engine import Harness

    h = Harness(CITES)
    assert h.engine.policy.reads["stream"] == {"classifier"}
    got = []
    h.engine.store.record = lambda verdicts, orders: got.extend(verdicts)
    h.send(*h.account("a", fresh=False))
    h.send(StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s", account="a", device="d-a", ip="1.1.1.1"))
    [v] = [v for v in got if v.subject == "stream"]
    assert v.rules == ["cites"]
    assert v.evidence["stream.classifier_model"] == "" and v.evidence["stream.reports"] == 0
    assert v.evidence["stream.classifier"] == 0.0 and v.evidence["account.age_s"] > 0


@pytest.mark.parametrize(("when", "want"), [
    ("stream.a > 1 && account.b", {"stream": {"a"}, "account": {"b"}}),
    ("stream.a.b > 1", {"stream": {"a"}}),
    ("size(stream) > 2", {"stream": None}),
    ('stream["a"] == 1', {"stream": None}),
    ("stream.keys()", {"stream": None}),
    ("[1].exists(stream, stream > 0)", {"stream": None}),  # a bound name shadowing a namespace: whole
    ("x.stream.y", {}),  # a field named like a namespace is not one
    ('"stream.z" == "a"', {}),
    ("stream.a > `", {"account": None, "stream": None, "incident": None}),  # beyond the parser: everything
])
def test_reads_of_one_expression(when, want):
    got = reads(when, NS)
    assert {ns: (None if v is None else set(v)) for ns, v in got.items()} == want
