"""Act: the one order path. Rules, review decisions and incident response all take down, freeze and restore here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from floodwall.engine.batch import Batch
from floodwall.engine.content import confirm_content
from floodwall.engine.effects import Order
from floodwall.engine.policy import Rule
from floodwall.engine.state import Account, Stream
from floodwall.events import ActionOrder, Verdict

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine


def next_vid(e: Engine) -> str:
    """A new verdict id, unique within this engine (and across partitions: the prefix names one)."""
    e.vseq += 1
    return f"{e.verdict_prefix}-v{e.vseq}"


def order(e: Engine, b: Batch, action: str, subject: str, target: str, v: Verdict, reason: str,
          sample_every: float | None = None, once: bool = True, suffix: str = "") -> None:
    """Send an order once: its idempotency key is remembered, so a repeat decision sends nothing."""
    key = f"{action}:{subject}:{target}" + ("" if once else f":{sample_every}") + suffix
    if key in e.sent:
        return
    e.sent.add(key)
    e.actions_by_kind[action] += 1
    b.orders.append(ActionOrder(key=key, ts=b.now, action=action, subject=subject,  # type: ignore[arg-type]
                                target=target, verdict=v.id, reason=reason, sample_every=sample_every))


def takedown(e: Engine, b: Batch, st: Stream, v: Verdict, reason: str, *, hold: bool = False,
             confirm: bool = False) -> None:
    """Take a live room down. A judgement counts against its owner; a hold (incident response) does not."""
    if st.taken_down or not st.live:
        return
    st.taken_down = st.enforced = True
    if e.sketch is not None:
        e.sketch.closed.append(st.id)
    if hold:
        order(e, b, "takedown", "stream", st.id, v, reason)
        return
    e.accounts[st.account].takedowns += 1
    # After an undo, a new takedown of the same room is a new order (idempotency keys stay unique).
    order(e, b, "takedown", "stream", st.id, v, reason, suffix=f":{st.restores}" if st.restores else "")
    if confirm:
        confirm_content(e, b, st, "confirmed", v.id)


def freeze(e: Engine, b: Batch, acc: Account, v: Verdict, reason: str, *, by_rule: bool) -> None:
    """Freeze an account and take its live rooms down (a caller checks it is not frozen already)."""
    acc.frozen = True
    if by_rule:
        acc.frozen_at = b.now  # an undone ring confirmation thaws what it froze
        suffix = ""
    else:
        e.sent.discard(f"freeze:account:{acc.id}")  # incident response may freeze again after a restore
        suffix = f":{v.id}"
    order(e, b, "freeze", "account", acc.id, v, reason, suffix=suffix)
    for sid in sorted(acc.live):
        takedown(e, b, e.streams[sid], v, reason)


def apply_rule_action(e: Engine, b: Batch, action: str, v: Verdict, acc: Account, st: Stream | None,
                      rules: list[Rule]) -> None:
    """Carry out one action of a verdict, for the rules that asked for it."""
    reason = ", ".join(r.name for r in rules)
    if action == "takedown" and st is not None:
        takedown(e, b, st, v, reason, confirm=any(r.confirm for r in rules))
    elif action == "freeze":
        if not acc.frozen:
            freeze(e, b, acc, v, reason, by_rule=True)
    elif action == "notify":
        if not acc.notified:
            acc.notified = True
            order(e, b, "notify", "account", acc.id, v, reason)
    elif action == "limit" and st is not None and not st.limited:
        st.limited = True
        st.enforced = True
        order(e, b, "limit", "stream", st.id, v, reason)
    elif action == "sample" and st is not None and v.sample_every and v.sample_every != st.sample_every:
        st.sample_every = v.sample_every
        order(e, b, "sample", "stream", st.id, v, reason, sample_every=v.sample_every, once=False)
    elif action == "review" and st is not None and not st.taken_down:
        from floodwall.engine.cases import open_case

        open_case(e, b, st, v, reason)  # a room the machine just took down needs no person


def respond(e: Engine, b: Batch, eff: Order) -> None:
    """An order from outside the rules (playbook effect, held registration, mass action), with its own verdict."""
    action, subject, target, reason = eff.action, eff.subject, eff.target, eff.reason
    v = Verdict(id=next_vid(e), ts=b.now, subject=subject, key=target,  # type: ignore[arg-type]
                action=action, rules=[f"response: {reason}"], evidence=eff.evidence, policy=e.policy.name)  # type: ignore[arg-type]
    b.verdicts.append(v)
    st = e.streams.get(target) if subject == "stream" else None
    acc = e.accounts.get(target) if subject == "account" else None
    if st is not None and action == "limit" and st.live and not st.limited:
        st.limited = True
        order(e, b, "limit", "stream", st.id, v, reason)
    elif st is not None and action == "takedown":
        takedown(e, b, st, v, reason, hold=True)  # a hold, not a judgement of the account
    elif st is not None and action == "restore" and st.limited and not st.taken_down:
        st.limited = False  # probation lifted
        order(e, b, "restore", "stream", st.id, v, reason, suffix=f":{v.id}")
    elif acc is not None and action == "freeze" and not acc.frozen:
        freeze(e, b, acc, v, reason, by_rule=False)
    elif acc is not None and action == "restore" and acc.frozen:
        acc.frozen = False
        e.sent.discard(f"freeze:account:{acc.id}")  # a later rule may freeze it again
        order(e, b, "restore", "account", acc.id, v, reason, suffix=f":{v.id}")
    elif acc is not None and action == "notify" and not acc.notified:
        acc.notified = True
        order(e, b, "notify", "account", acc.id, v, reason)
    elif subject == "stream" and target == "*" and action in ("takedown", "restore"):
        order(e, b, action, "stream", "*", v, reason, suffix=f":{v.id}")
