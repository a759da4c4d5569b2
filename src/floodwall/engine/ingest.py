"""Ingest: each event updates state and marks what it changed dirty in the batch (no decisions here)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from floodwall.content.bank import HashBank
from floodwall.engine.batch import Batch
from floodwall.engine.derive import trusted
from floodwall.engine.effects import Order
from floodwall.engine.signals import FANOUT_ACCOUNTS, fanout, network_block, phone_block
from floodwall.engine.state import Account, Stream
from floodwall.events import (
    AccountRegistered,
    AccountSeen,
    AccountsNoticed,
    ApiCall,
    BankChanged,
    ChatPosted,
    ClusterNoticed,
    FrameSampled,
    KeysNoticed,
    LevelNoticed,
    Login,
    MassOrders,
    ProfileChanged,
    ReportFiled,
    RingNoticed,
    StreamEnded,
    StreamStarted,
    ViewerCount,
)

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

DAY = 86_400.0
REPORT_SPREAD_WINDOW = 3600.0  # a reporter's voice is split over the rooms it reported within this
FRESH_REPORT_CAP = 1.0  # the most report weight accounts younger than a week can add to one room
RESTRICTED_PREFIXES = ("/internal/", "/admin/", "/whitelist/")
RESTRICTED_SCOPES = ("whitelist", "admin", "internal")


def stream_from_frame(e: Engine, b: Batch, f: FrameSampled) -> Stream:
    """A room known only from its frames: its go-live never came through the gate (judged all the same)."""
    acc = account(e, f.account)
    st = Stream(id=f.stream, account=acc.id, started=f.ts, sample_every=e.settings.sample_every, gate_skipped=True)
    e.streams[st.id] = st
    acc.live.add(st.id)
    acc.last_golive = f.ts
    b.dirty.add(st.id)
    return st


def account(e: Engine, aid: str) -> Account:
    """The account by id, made on first sight."""
    acc = e.accounts.get(aid)
    if acc is None:
        acc = e.accounts[aid] = Account(id=aid)
    return acc


def ring_news(e: Engine, b: Batch, accounts: set[str]) -> None:
    """Accounts whose ring changed: judge them and their live rooms."""
    for aid in sorted(accounts):
        acc = e.accounts.get(aid)
        if acc is not None:
            b.mark_account(acc)


def _registered(e: Engine, b: Batch, ev: AccountRegistered) -> None:
    acc = account(e, ev.account)
    idx = e.idx
    acc.created = ev.ts
    acc.phone = ev.phone
    acc.phone_virtual = e.phones.is_virtual(ev.phone)
    acc.block = phone_block(ev.phone)
    net = network_block(ev.ip)
    acc.devices.add(ev.device)
    acc.nets.add(net)
    acc.device, acc.net = ev.device, net
    idx.device_accounts[ev.device].add(acc.id)
    _join_net(e, b, acc, net, registering=True)
    idx.block_accounts[acc.block].add(acc.id)
    live = ev.ts > b.now - 3600  # a live registration, not a backfilled one
    if live:
        idx.device_regs.add(ev.device, ev.ts)
        idx.block_regs.add(acc.block, ev.ts)
        idx.net_regs.add(net, ev.ts)
        if e.rings is not None:
            ring_news(e, b, e.rings.on_registration(acc.id, acc.block, ev.ts))
            ring_news(e, b, e.rings.on_device(acc.id, ev.device, ev.ts))
    if e.sketch is not None:
        e.sketch.seen.append(AccountSeen(acc.id, ev.ts, "registered", ev.device, net, acc.block, ev.ts, live))


def _join_net(e: Engine, b: Batch, acc: Account, net: str, registering: bool = False) -> None:
    """Record an account on a network; a fresh one also by its registration time (for the fresh share)."""
    ids = e.idx.net_accounts[net]
    new = acc.id not in ids
    ids.add(acc.id)
    # Fresh now or never: time only moves on, so an account not fresh when it joins never counts.
    if (new or registering) and acc.created is not None and b.now - acc.created < DAY:
        bisect.insort(e.idx.net_fresh[net], acc.created)


def _login(e: Engine, b: Batch, ev: Login) -> None:
    acc = account(e, ev.account)
    if not ev.ok:
        return
    net = network_block(ev.ip)
    if acc.devices and ev.device not in acc.devices and net not in acc.nets:
        acc.new_device_login = ev.ts
    if ev.credential_change:
        acc.credential_change = ev.ts
    acc.last_seen = ev.ts if acc.last_seen is None else max(acc.last_seen, ev.ts)
    acc.devices.add(ev.device)
    acc.nets.add(net)
    acc.device, acc.net = ev.device, net
    e.idx.device_accounts[ev.device].add(acc.id)
    _join_net(e, b, acc, net)
    live, is_trusted = ev.ts > b.now - 3600, trusted(acc, b.now)
    if e.rings is not None and live and not is_trusted:
        ring_news(e, b, e.rings.on_device(acc.id, ev.device, ev.ts))
    if e.sketch is not None:
        e.sketch.seen.append(AccountSeen(acc.id, ev.ts, "login", ev.device, net, live=live, trusted=is_trusted))


def _profile(e: Engine, b: Batch, ev: ProfileChanged) -> None:
    acc = account(e, ev.account)
    if ev.avatar is not None:
        acc.has_avatar = ev.avatar
    if ev.title is not None:
        if acc.title and ev.title != acc.title:
            acc.renamed = ev.ts  # a channel renamed (a hijacker rebrands it), not a first title
        acc.title = ev.title


def _api(e: Engine, b: Batch, ev: ApiCall) -> None:
    restricted = ev.endpoint.startswith(RESTRICTED_PREFIXES) or ev.scope.startswith(RESTRICTED_SCOPES)
    key = f"{ev.endpoint}|{ev.scope}"
    idx = e.idx
    seen = idx.api_seen[ev.principal]
    recent = ev.ts > b.now - 3600  # live, not backfilled history
    target = ev.account or ev.principal
    if recent and ev.account and ev.account != ev.principal:
        # A principal acting for another account: count the distinct accounts it acts for (fan-out).
        calls = idx.principal_accounts[ev.principal]
        calls.pop(ev.account, None)  # re-inserted at the end: the dict stays ordered by last call
        calls[ev.account] = ev.ts
        idx.acted_by[ev.account].add(ev.principal)
        b.mark_account(account(e, ev.account))
        if len(calls) >= FANOUT_ACCOUNTS and fanout(calls, ev.ts) >= FANOUT_ACCOUNTS:
            e.flagged_principals.add(ev.principal)
    if restricted and recent:
        # First-ever use by a principal with a history of calls is the tell; a new integration's
        # very first call is not. For a day after that first use, every account the principal
        # acts on with it is flagged (one compromised key, many accounts).
        first_key = f"{ev.principal}|{key}"
        if key not in seen and seen:
            idx.api_first.setdefault(first_key, ev.ts)
        first = idx.api_first.get(first_key)
        if first is not None and ev.ts - first < DAY:
            if ev.account and ev.account != ev.principal:
                e.flagged_principals.add(ev.principal)  # a service key, not an account acting for itself
            acc = account(e, target)
            acc.restricted_api_new = True
            b.mark_account(acc)
    seen.add(key)


def _started(e: Engine, b: Batch, ev: StreamStarted) -> None:
    acc = account(e, ev.account)
    net = network_block(ev.ip)
    if acc.new_device_login is not None and ev.ts - acc.new_device_login < DAY:
        acc.golive_after_hijack = True
    if acc.devices and ev.device not in acc.devices and net not in acc.nets:
        # A session used from a device and network the account never logged in from: a stolen
        # session token (a login from them would have made them known).
        acc.golive_new_place = ev.ts
    acc.dormant_days = max(0.0, (ev.ts - acc.last_seen) / DAY) if acc.last_seen is not None else 0.0
    acc.last_golive = ev.ts
    acc.last_seen = ev.ts if acc.last_seen is None else max(acc.last_seen, ev.ts)
    acc.device, acc.net = ev.device, net
    acc.devices.add(ev.device)
    e.idx.device_accounts[ev.device].add(acc.id)
    _join_net(e, b, acc, net)
    e.idx.net_golives.add(net, ev.ts)
    if e.sketch is not None:
        e.sketch.seen.append(AccountSeen(acc.id, ev.ts, "golive", ev.device, net, live=True))
    st = Stream(id=ev.stream, account=acc.id, started=ev.ts, title=ev.title, sample_every=e.settings.sample_every)
    if e.chat is not None and ev.title:
        st.title_diversion = e.chat.score(ev.title)
    e.streams[st.id] = st
    acc.live.add(st.id)
    b.dirty.add(st.id)


def _ended(e: Engine, b: Batch, ev: StreamEnded) -> None:
    st = e.streams.get(ev.stream)
    if st is None or st.ended is not None:
        return
    st.ended = ev.ts
    acc = account(e, st.account)
    acc.live.discard(st.id)
    if not st.enforced:
        acc.clean_streams += 1
    if st.case is None:
        st.last_frame = None  # no reviewer will ask for it
    b.dirty.discard(st.id)
    if e.sketch is not None:
        e.sketch.closed.append(st.id)
        e.remote.stream_ended(st.id)  # type: ignore[union-attr]


def _viewers(e: Engine, b: Batch, ev: ViewerCount) -> None:
    from floodwall.engine.cases import case_harm

    st = e.streams.get(ev.stream)
    if st is not None:
        st.viewers = ev.viewers
        if st.case is not None:
            item = e.review.items[st.case]
            if item.status == "open":
                e.review.reprioritise(item.id, case_harm(e, item.streams, b.now))


def _chat(e: Engine, b: Batch, ev: ChatPosted) -> None:
    st = e.streams.get(ev.stream)
    if e.chat is not None and st is not None and st.live:
        b.chats.append(ev)


def score_chats(e: Engine, b: Batch) -> None:
    """Score the batch's chat lines together; a line over the threshold marks its room."""
    chats = b.chats
    scores = e.chat.score_many([c.text for c in chats]).tolist()  # type: ignore[union-attr]
    for ev, score in zip(chats, scores):
        if score >= e.chat.threshold:  # type: ignore[union-attr]
            st = e.streams[ev.stream]
            st.chat_hits.append(ev.ts)
            st.chat_max = max(st.chat_max, score)
            b.dirty.add(st.id)


def _report(e: Engine, b: Batch, ev: ReportFiled) -> None:
    # Every report is counted and stored, in both modes; in aggregate mode only its weight can be zero.
    e.reports_received += 1
    e.reports_accepted += 1
    if e.settings.reports == "queue":
        e.review.push_report(ev.stream, ev.reporter, b.now, ev.reason)
        weight = 1.0
    else:
        weight = _weigh_report(e, b, ev)
    b.report_rows.append({"id": ev.id, "ts": ev.ts, "stream": ev.stream, "reporter": ev.reporter,
                          "reason": ev.reason, "weight": round(weight, 4)})


def _weigh_report(e: Engine, b: Batch, ev: ReportFiled) -> float:
    """Add a report to its room's pressure; the weight it was given."""
    st = e.streams.get(ev.stream)
    if st is None or not st.live or ev.reporter in st.reporters:  # one voice per reporter per room
        return 0.0
    st.reporters.add(ev.reporter)
    # Rate-limit per reporter: past 20 reports in 10 minutes a reporter's reports weigh nothing.
    if e.idx.report_counts.add(ev.reporter, ev.ts) > 20:
        return 0.0
    weight = _split_voice(e, st, ev) * _reporter_weight(e, ev.reporter, b.now)
    if ev.reporter not in e.reputation and _fresh(e, ev.reporter, b.now):
        # Fresh accounts together count for at most FRESH_REPORT_CAP per room: a flood of them
        # cannot open a case on its own, however many there are.
        weight = min(weight, max(0.0, FRESH_REPORT_CAP - st.fresh_report_weight))
        st.fresh_report_weight += weight
    old = st.report_weight
    st.report_weight += weight
    e.idx.reporter_rooms[ev.reporter][-1][2] = weight
    # Re-evaluate when the pressure crosses the review bar or doubles, not on every report:
    # a room with a million reports is evaluated a few dozen times, not a million.
    bar = e.settings.report_review_threshold
    if weight > 0 and st.report_weight >= bar and (
            old < bar or math.frexp(st.report_weight)[1] > math.frexp(old)[1]):
        b.dirty.add(st.id)
    return weight


def _split_voice(e: Engine, st: Stream, ev: ReportFiled) -> float:
    """The share of its voice a reporter gives this room: 1/n over the n rooms it reported within the hour.

    A storm sprays the same reporters over many rooms; a viewer reports the room it watches. Each
    new room a reporter reports takes back part of the weight its earlier reports gave (O(n), n <= 20
    past the rate limit), and marks every one of its rooms as reported by a spreading reporter.
    """
    rooms = e.idx.reporter_rooms[ev.reporter]
    while rooms and rooms[0][1] <= ev.ts - REPORT_SPREAD_WINDOW:
        rooms.pop(0)
    n = len(rooms) + 1
    for entry in rooms:
        other = e.streams.get(entry[0])
        cut = entry[2] / n  # its weight was w/(n-1) of the voice; now w/n
        entry[2] -= cut
        if other is not None:
            other.report_weight = max(0.0, other.report_weight - cut)
            if n == 2:
                other.spread_reporters += 1
    if n >= 2:
        st.spread_reporters += 1
    rooms.append([st.id, ev.ts, 0.0])  # its weight is filled in once capped
    return 1.0 / n


def _created(e: Engine, aid: str) -> float | None:
    """When an account registered, as this engine saw it or as the coordinator told it (None: unknown)."""
    acc = e.accounts.get(aid)
    if acc is not None and acc.created is not None:
        return acc.created
    return e.remote.created.get(aid) if e.remote is not None else None


def _fresh(e: Engine, aid: str, now: float) -> bool:
    """Registered less than a week ago (in what the engine saw)."""
    created = _created(e, aid)
    return created is not None and now - created < 7 * DAY


def _reporter_weight(e: Engine, reporter: str, now: float) -> float:
    rep = e.reputation.get(reporter)
    if rep is not None:
        return rep
    created = _created(e, reporter)
    if created is None:
        return 1.0
    age = now - created
    # Fresh accounts reporting is what a report-flooding ring looks like: they count for little.
    return 1.0 if age >= 7 * DAY else (0.2 if age >= DAY else 0.02)


# ---- coordination (one partition of the NATS service) -------------------------------------


def _bank_changed(e: Engine, b: Batch, ev: BankChanged) -> None:
    names = {bank.name for bank in e.banks.banks}
    if ev.op == "create":
        if ev.bank not in names:
            e.banks.add_bank(HashBank(ev.bank, kind=ev.kind))
        return
    if ev.bank not in names:  # an edit of a bank this engine never heard of: make it, as the edit says
        e.banks.add_bank(HashBank(ev.bank, kind=ev.kind))
    bank = e.banks[ev.bank]
    if ev.op == "add":
        bank.add(ev.hashes, source=ev.source, added_at=ev.ts, note=ev.note)
    elif ev.op == "remove":
        for h in ev.hashes:
            bank.remove(h)
    else:
        bank.remove_source(ev.source)


def _cluster_noticed(e: Engine, b: Batch, ev: ClusterNoticed) -> None:
    for sid in e.remote.on_cluster(ev):  # type: ignore[union-attr]
        st = e.streams.get(sid)
        if st is not None and st.live:
            b.dirty.add(sid)


def _ring_noticed(e: Engine, b: Batch, ev: RingNoticed) -> None:
    for aid in sorted(e.remote.on_ring(ev)):  # type: ignore[union-attr]
        acc = e.accounts.get(aid)
        if acc is not None:
            b.mark_account(acc)


def _keys_noticed(e: Engine, b: Batch, ev: KeysNoticed) -> None:
    e.remote.on_keys(ev)  # type: ignore[union-attr]  # read at the next evaluation, as local counts are


def _accounts_noticed(e: Engine, b: Batch, ev: AccountsNoticed) -> None:
    e.remote.on_created(ev.created, b.now)  # type: ignore[union-attr]


def _level_noticed(e: Engine, b: Batch, ev: LevelNoticed) -> None:
    if e.responder is not None:
        e.responder.follow(e, ev.level, ev.why, ev.evidence, ev.ts)
    else:
        e.incident_level = ev.level


def _mass_orders(e: Engine, b: Batch, ev: MassOrders) -> None:
    from floodwall.engine.act import respond  # here: act imports content, which imports this module

    for o in ev.orders:  # each with its own verdict, as the mass action's audit entry lists them
        respond(e, b, Order(o.action, o.subject, o.target, ev.reason, {"mass_action": ev.mass_action}))


# Review decisions and their undo are handled by cases.py, frames by content.py (see Engine).
HANDLERS: dict[type, Callable] = {
    AccountRegistered: _registered,
    Login: _login,
    ProfileChanged: _profile,
    StreamStarted: _started,
    StreamEnded: _ended,
    ChatPosted: _chat,
    ViewerCount: _viewers,
    ReportFiled: _report,
    ApiCall: _api,
    BankChanged: _bank_changed,
    ClusterNoticed: _cluster_noticed,
    RingNoticed: _ring_noticed,
    KeysNoticed: _keys_noticed,
    AccountsNoticed: _accounts_noticed,
    LevelNoticed: _level_noticed,
    MassOrders: _mass_orders,
}
