"""Cases: open harm-ranked review cases, carry out a reviewer's decision, and undo exactly what it did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from floodwall.content.pdq import to_hex_many
from floodwall.engine.act import next_vid, order, respond, takedown
from floodwall.engine.batch import Batch
from floodwall.engine.content import confirm_content
from floodwall.engine.effects import Order
from floodwall.engine.state import Stream
from floodwall.events import Confirmed, ReviewDecided, ReviewReversed, Verdict

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine


def harm(st: Stream, now: float) -> float:
    """Expected harm of leaving a stream up: probability x viewers x expected seconds left live."""
    if not st.live or st.taken_down:
        return 0.0
    p = max(max(st.scores) if st.scores else 0.0, min(1.0, st.report_weight / 10.0), 0.2)
    # A room that has lasted longer is expected to last longer (Lindy), within 1 and 30 minutes.
    left = min(max(now - st.started, 60.0), 1800.0)
    return p * max(st.viewers, 1) * left


def case_harm(e: Engine, rooms: set[str], now: float) -> float:
    """A case's expected harm: the sum over the rooms it covers."""
    streams = e.streams
    return sum(harm(streams[r], now) for r in rooms if r in streams)


def open_case(e: Engine, b: Batch, st: Stream, v: Verdict, reason: str) -> None:
    """Open (or join) the review case for a room: its cluster's case if it has one, else its own."""
    if st.reviewed_benign:
        return
    if e.clusters is not None and len(e.clusters.rooms(st.id)) > 1:
        kind, key = "cluster", e.clusters.root(st.id)
        rooms = {r for r in e.clusters.rooms(st.id) if e.streams[r].live}
    else:
        kind, key, rooms = "stream", st.id, {st.id}
    item, created = e.review.open_case(kind, key, rooms, b.now, case_harm(e, rooms | {st.id}, b.now),
                                       {"rules": v.rules, **v.evidence})
    # A case that rests on one signal alone (a classifier score, reports) needs two reviewers who agree;
    # one that any other rule joins needs one.
    single = needs_second_opinion(e, v)
    item.evidence["second_opinion"] = single if created else bool(item.evidence.get("second_opinion")) and single
    st.case = item.id
    if created:
        order(e, b, "review", "stream", st.id, v, reason)


def needs_second_opinion(e: Engine, v: Verdict) -> bool:
    """True when every acting review rule behind ``v`` is marked ``second_opinion`` (and one is)."""
    named = set(v.rules)
    review = [r for r in e.policy.rules if r.name in named and r.action == "review" and not r.shadow]
    return bool(review) and all(r.second_opinion for r in review)


def _opinion(e: Engine, b: Batch, item, ev: ReviewDecided, rooms: set[str]) -> bool | None:
    """The case's decision once enough reviewers agree (None: ask another, the rooms limited meanwhile).

    One reviewer decides an ordinary case. A single-signal case ends benign on a first benign
    opinion, violating on two; a split goes to a third reviewer. The same reviewer twice counts once.
    """
    if not item.evidence.get("second_opinion"):
        return ev.violating
    ops = item.evidence.setdefault("opinions", [])
    if all(r != ev.reviewer for r, _ in ops):
        ops.append([ev.reviewer, ev.violating])
    yes = sum(1 for _, x in ops if x)
    no = len(ops) - yes
    if yes >= 2 or no >= 2 or (no == 1 and yes == 0):
        return yes >= 2
    v = Verdict(id=next_vid(e), ts=b.now, subject="stream", key=item.key, action="limit",
                rules=[f"review:{ev.reviewer}:awaiting-second-opinion"],
                evidence={"item": item.id, "opinions": len(ops)}, policy=e.policy.name)
    b.verdicts.append(v)
    for sid in sorted(rooms):
        st = e.streams.get(sid)
        if st is not None and st.live and not st.limited and not st.taken_down:
            st.limited = st.enforced = True
            order(e, b, "limit", "stream", sid, v, f"review {item.id}: awaiting a second reviewer")
    e.review.requeue(item.id)
    return None


def decided(e: Engine, b: Batch, ev: ReviewDecided) -> None:
    """A reviewer's decision acts on every room of the case, and is written down so an undo can reverse it."""
    item = e.review.items.get(ev.item)
    if item is None or item.status == "decided":
        return
    rooms = set(item.streams)
    if item.kind == "cluster" and e.clusters is not None:
        rooms |= e.clusters.rooms(item.key)
    violating = _opinion(e, b, item, ev, rooms)
    if violating is None:
        return
    e.review.close(item.id, b.now, violating, ev.reviewer, ev.note, sorted(rooms))
    v = Verdict(id=next_vid(e), ts=b.now, subject="stream", key=item.key,
                action="takedown" if violating else "allow", rules=[f"review:{ev.reviewer}"],
                evidence={"item": item.id, "note": ev.note, "rooms": len(rooms)}, policy=e.policy.name)
    b.verdicts.append(v)
    done: dict = {"verdict": v.id, "ts": b.now, "violating": violating, "taken_down": [], "benign": [],
                  "clusters": [], "rings": [], "reputation": {}}
    clusters_before = set(e.confirmed_clusters)
    for sid in sorted(rooms):
        st = e.streams.get(sid)
        if st is None:
            continue
        if violating:
            if st.live and not st.taken_down:
                takedown(e, b, st, v, f"review {item.id}")
                done["taken_down"].append(sid)
            if e.settings.review == "case":
                ring = e.rings.ring_of(st.account) if e.rings is not None else None
                was = bool(ring and ring.confirmed)
                confirm_content(e, b, st, "reviewed", v.id)
                if ring is not None and not was and ring.confirmed:
                    done["rings"].append(st.account)
        elif not st.reviewed_benign:
            st.reviewed_benign = True
            done["benign"].append(sid)
    done["clusters"] = sorted(e.confirmed_clusters - clusters_before)
    if not violating and item.kind == "cluster" and e.settings.content:
        # One allow entry stops the same honest content from flooding reviewers again.
        for sid in rooms:
            st = e.streams.get(sid)
            if st is not None and len(st.hashes):
                allow = st.recent_hashes()[-1:]
                e.banks["honest"].add(allow, source=v.id, added_at=b.now)
                if e.sketch is not None:
                    e.sketch.confirmed.append(Confirmed(sid, st.account, "honest", v.id, to_hex_many(allow),
                                                        violating=False))
                break
    for reporter in _reporters_of(e, rooms):
        old = e.reputation.get(reporter, 1.0)
        done["reputation"][reporter] = e.reputation.get(reporter)
        e.reputation[reporter] = min(3.0, old * 1.2) if violating else max(0.05, old * 0.5)
    e.decision_effects[item.id] = done


def reversed_(e: Engine, b: Batch, ev: ReviewReversed) -> None:
    """Undo a decision: restore the rooms it took down, withdraw its bank entries and confirmations."""
    item = e.review.items.get(ev.item)
    done = e.decision_effects.pop(ev.item, None)
    if item is None or done is None or item.status != "decided":
        return
    e.review.reopen(item.id, b.now, ev.reviewer)
    item.evidence.pop("opinions", None)  # judged afresh: earlier opinions were part of the undone decision
    v = Verdict(id=next_vid(e), ts=b.now, subject="stream", key=item.key,
                action="restore", rules=[f"undo:{ev.reviewer}"],
                evidence={"item": item.id, "note": ev.note, "undoes": done["verdict"],
                          "rooms": len(done["taken_down"])}, policy=e.policy.name)
    b.verdicts.append(v)
    for bank in ("reviewed", "honest"):
        e.banks[bank].remove_source(done["verdict"])
    if e.sketch is not None:
        e.sketch.withdrawn.append(done["verdict"])
    for root in done["clusters"]:
        e.confirmed_clusters.discard(root)
    if e.rings is not None:
        for aid in done["rings"]:
            ring = e.rings.unconfirm(aid, done["verdict"])
            # Members frozen since the decision were frozen for the ring it confirmed: thaw them, then
            # judge them again on what else is known (a rule may freeze one again on its own evidence).
            for member in sorted(ring.members if ring is not None else ()):
                acc = e.accounts.get(member)
                if acc is not None and acc.frozen and acc.frozen_at is not None and acc.frozen_at >= done["ts"]:
                    respond(e, b, Order("restore", "account", member, f"undo of review {item.id}",
                                        {"item": item.id, "undoes": done["verdict"]}))
                    b.mark_account(acc)
    for sid in done["taken_down"]:
        st = e.streams[sid]
        st.taken_down = False
        st.restored_at = b.now
        acc = e.accounts[st.account]
        acc.takedowns = max(0, acc.takedowns - 1)
        st.restores += 1  # the room may be judged again on its own merits
        order(e, b, "restore", "stream", sid, v, f"undo of review {item.id}", suffix=f":{v.id}")
    for sid in done["benign"]:
        e.streams[sid].reviewed_benign = False
    for reporter, old in done["reputation"].items():
        if old is None:
            e.reputation.pop(reporter, None)
        else:
            e.reputation[reporter] = old


def _reporters_of(e: Engine, rooms: set[str]) -> set[str]:
    out: set[str] = set()
    for sid in rooms:
        st = e.streams.get(sid)
        if st is not None:
            out |= st.reporters
    return out
