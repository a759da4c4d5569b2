"""Decide: judge dirty rooms and accounts with the compiled policy, in rounds; one verdict per change of outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cel

from floodwall.engine.act import apply_rule_action, next_vid
from floodwall.engine.batch import Batch
from floodwall.engine.celcheck import mentions
from floodwall.engine.derive import account_signals, stream_signals
from floodwall.engine.policy import Policy, Rule
from floodwall.engine.signals import STREAM_SIGNALS
from floodwall.engine.state import Account, Stream
from floodwall.events import Verdict

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

MAX_ROUNDS = 16  # decision rounds per batch (a confirmed takedown dirties its cluster for the next round)
RULE_ERRORS_KEPT = 100  # run-time rule errors kept with their subject (all are counted)


def rule_refs(policy: Policy) -> dict[str, list[tuple[str, str]]]:
    """Each rule's signals, for its verdicts' evidence."""
    return {r.name: mentions(r.when) for r in policy.rules}


def decide_rounds(e: Engine, b: Batch) -> set[str]:
    """Judge dirty rooms in rounds until none is left; every room judged this batch.

    A decision can dirty other rooms (a confirmed takedown marks its cluster, a confirmed ring its
    members' rooms): they are judged in the next round of the same batch, not left for a later one.
    """
    judged: set[str] = set()
    for _ in range(MAX_ROUNDS):
        if not b.dirty:
            break
        todo, b.dirty = sorted(b.dirty), set()
        judged.update(todo)
        for sid in todo:
            evaluate_stream(e, b, e.streams[sid])
    else:
        # Each round needs a new confirmation, and a room is confirmed once, so this is not reached
        # in practice; if it is, the rest wait for their next event rather than loop without end.
        e.round_limit_hits += 1
    b.dirty = judged
    return judged


def decide_accounts(e: Engine, b: Batch, judged: set[str]) -> None:
    """Judge dirty accounts none of whose rooms was judged this batch (a room's verdict covers its owner)."""
    owners = {e.streams[s].account for s in judged if s in e.streams}
    for aid in sorted(b.dirty_accounts - owners):
        evaluate_account(e, b, e.accounts[aid])


def context(e: Engine, a: dict, s: dict) -> dict:
    """What a rule sees and its verdict cites: account, stream and incident signals."""
    return {"account": a, "stream": s, "incident": {"level": e.incident_level}}


def cel_context(e: Engine, ctx: dict) -> cel.Context:
    """The rules' CEL context: only the signals the policy reads, since converting the rest costs more
    than running the rules (the verdict's evidence still reads the whole ``ctx``)."""
    reads = e.policy.reads
    return cel.Context({ns: _only(signals, reads.get(ns)) for ns, signals in ctx.items()})


def _only(signals: dict, names: frozenset[str] | None) -> dict:
    return signals if names is None else {k: signals[k] for k in names if k in signals}


def evaluate_stream(e: Engine, b: Batch, st: Stream) -> None:
    """Judge one live room (and its owner's signals with it)."""
    if not st.live:
        return
    acc = e.accounts[st.account]
    a = account_signals(e, acc, b.now)
    s = stream_signals(e, st, b.now, {acc.id: a})
    _decide(e, b, "stream", st.id, acc, st, context(e, a, s))


def evaluate_account(e: Engine, b: Batch, acc: Account) -> None:
    """Judge an account on its own (stream signals at their defaults)."""
    if acc.frozen:
        return
    _decide(e, b, "account", acc.id, acc, None, context(e, account_signals(e, acc, b.now), dict(STREAM_SIGNALS)))


def firing(e: Engine, b: Batch, st: Stream) -> list[Rule]:
    """The acting rules that fire on a live room now (no verdict, no action)."""
    acc = e.accounts[st.account]
    a = account_signals(e, acc, b.now)
    ctx = context(e, a, stream_signals(e, st, b.now, {}))
    fired, _ = e.policy.evaluate(cel_context(e, ctx), error_recorder(e, b, "stream", st.id))
    return fired


def error_recorder(e: Engine, b: Batch, subject: str, key: str) -> Callable[[Rule, Exception], None]:
    """A callback for Policy.evaluate that records a rule's run-time error on this subject."""
    def record(rule: Rule, exc: Exception) -> None:
        e.rule_error_counts[rule.name] += 1
        if len(e.rule_errors) < RULE_ERRORS_KEPT:
            e.rule_errors.append({"ts": b.now, "rule": rule.name, "subject": subject, "key": key,
                                  "error": f"{type(exc).__name__}: {exc}"[:300]})
    return record


def _decide(e: Engine, b: Batch, subject: str, key: str, acc: Account, st: Stream | None, ctx: dict) -> None:
    fired, shadow = e.policy.evaluate(cel_context(e, ctx), error_recorder(e, b, subject, key))
    if st is not None:
        outcome = (tuple(r.name for r in fired), tuple(r.name for r in shadow))
        if outcome == st.last_eval_key:
            return  # same rules as last time: already decided and on record
        st.last_eval_key = outcome
    for r in shadow:
        e.shadow_hits[r.name] += 1
        e.shadow_subjects[r.name].add(key)
    main = fired[0].action if fired else "allow"
    evidence = _evidence(e, fired or shadow, ctx)
    sample_every = min((r.sample_every for r in fired if r.action == "sample" and r.sample_every), default=None)
    v = Verdict(
        id=next_vid(e), ts=b.now, subject=subject, key=key, action=main,  # type: ignore[arg-type]
        rules=[r.name for r in fired], evidence=evidence, shadow=not fired and bool(shadow),
        policy=e.policy.name, shadow_rules=[r.name for r in shadow], sample_every=sample_every,
    )
    e.verdicts += 1
    b.verdicts.append(v)
    for action in dict.fromkeys(r.action for r in fired):
        apply_rule_action(e, b, action, v, acc, st, [r for r in fired if r.action == action])


def _evidence(e: Engine, rules: list[Rule], ctx: dict) -> dict[str, object]:
    ev: dict[str, object] = {}
    for r in rules:
        for ns, name in e.refs.get(r.name, ()):
            ev[f"{ns}.{name}"] = ctx[ns].get(name)
            if name.startswith("classifier"):  # a score is evidence only with the model that gave it
                ev["stream.classifier_model"] = ctx["stream"].get("classifier_model")
    return ev
