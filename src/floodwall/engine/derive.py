"""Signals: each subject's typed signals (schema in signals.py), computed from state at a given time."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from floodwall.coordination.partition import count_within
from floodwall.engine.signals import NEVER, fanout, risk_score
from floodwall.engine.state import Account, Stream

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

DAY = 86_400.0
CHAT_WINDOW = 300.0
FLAGGED_SCORE = 0.5  # an image-model score at or above this flags a frame
DORMANT_DAYS = 30.0  # a go-live after this long without a login, go-live or own API call is a hijack sign


def hijack_signs(acc: Account, now: float) -> int:
    """Count of hijack signs: a new device+network login in the last week, a credential change after it, a go-live
    soon after; a go-live from a new device and network with no login (stolen session), after 30+ days dormant, or
    within the hour after a rename of an aged account's channel (each in the last day)."""
    n = 0
    if acc.new_device_login is not None and now - acc.new_device_login < 7 * DAY:
        n += 1
        if acc.credential_change is not None and acc.credential_change >= acc.new_device_login:
            n += 1
        if acc.golive_after_hijack:
            n += 1
    golive = acc.last_golive
    if golive is None or now - golive >= DAY:
        return n
    if acc.golive_new_place is not None and now - acc.golive_new_place < DAY:
        n += 1
    if acc.dormant_days >= DORMANT_DAYS:
        n += 1
    aged = acc.created is None or golive - acc.created >= 30 * DAY
    if aged and acc.renamed is not None and 0.0 <= golive - acc.renamed < 3600:
        n += 1
    return n


def trusted(acc: Account, now: float) -> bool:
    """Aged 30 days or more, with an avatar, never taken down, no hijack signs, not frozen."""
    age = now - acc.created if acc.created is not None else 10 * 365 * DAY
    hijack = hijack_signs(acc, now) > 0
    return age >= 30 * DAY and acc.has_avatar and acc.takedowns == 0 and not hijack and not acc.frozen


def account_signals(e: Engine, acc: Account, now: float) -> dict[str, object]:
    """Every account signal at ``now``."""
    idx = e.idx
    age = now - acc.created if acc.created is not None else 10 * 365 * DAY
    net_ids = idx.net_accounts.get(acc.net, ())
    n_net = len(net_ids)
    fresh = 0
    if 0 < n_net <= 2000:  # carrier NAT blocks hold many thousands: their fresh share is noise
        created = idx.net_fresh.get(acc.net)
        if created:
            old = bisect.bisect_right(created, now - DAY)  # no longer fresh, and never again
            if old:
                del created[:old]
            fresh = len(created)
    ring = e.rings.ring_of(acc.id) if e.rings is not None else None
    s = {
        "age_s": age,
        "has_avatar": acc.has_avatar,
        "has_title": bool(acc.title),
        "phone_virtual": acc.phone_virtual,
        "phone_block_accounts": len(idx.block_accounts.get(acc.block, ())),
        "phone_block_regs_1h": idx.block_regs.count(acc.block, now),
        "device_accounts": len(idx.device_accounts.get(acc.device, ())),
        "device_regs_1h": idx.device_regs.count(acc.device, now),
        "net_accounts": n_net,
        "net_fresh_share": fresh / n_net if n_net and n_net <= 2000 else 0.0,
        "net_regs_10m": idx.net_regs.count(acc.net, now),
        "net_golives_10m": idx.net_golives.count(acc.net, now),
        "new_device_login_s": now - acc.new_device_login if acc.new_device_login is not None else NEVER,
        "credential_change_s": now - acc.credential_change if acc.credential_change is not None else NEVER,
        "hijack_signs": hijack_signs(acc, now),
        "restricted_api_new": acc.restricted_api_new,
        "principal_fanout": max((fanout(idx.principal_accounts.get(p), now) for p in idx.acted_by.get(acc.id, ())),
                                default=0),
        "golive_new_place_s": now - acc.golive_new_place if acc.golive_new_place is not None else NEVER,
        "dormant_days": acc.dormant_days,
        "renamed_s": now - acc.renamed if acc.renamed is not None else NEVER,
        "clean_streams": acc.clean_streams,
        "takedowns": acc.takedowns,
        "trusted": trusted(acc, now),
        "risk": 0.0,
        "in_ring": ring is not None,
        "ring_size": len(ring.members) if ring else 0,
        "ring_confirmed": bool(ring and ring.confirmed),
        "frozen": acc.frozen,
    }
    if e.remote is not None:
        _merge_account(e, acc, s, now)
    s["risk"] = risk_score(s)
    return s


def _merge_account(e: Engine, acc: Account, s: dict[str, object], now: float) -> None:
    """Add what the coordinator sees across partitions: a count is the larger view, a flag either."""
    remote = e.remote
    ring = remote.ring_of.get(acc.id)  # type: ignore[union-attr]
    if ring is not None:
        s["in_ring"] = True
        s["ring_size"] = max(s["ring_size"], ring.size)  # type: ignore[call-overload]
        s["ring_confirmed"] = bool(s["ring_confirmed"]) or ring.confirmed
    keys = remote.keys  # type: ignore[union-attr]
    dev = keys.get(("device", acc.device))
    if dev is not None:
        s["device_accounts"] = max(s["device_accounts"], dev.accounts)  # type: ignore[call-overload]
        s["device_regs_1h"] = max(s["device_regs_1h"], count_within(dev.regs, now, 3600))  # type: ignore[call-overload]
    blk = keys.get(("block", acc.block))
    if blk is not None:
        s["phone_block_accounts"] = max(s["phone_block_accounts"], blk.accounts)  # type: ignore[call-overload]
        s["phone_block_regs_1h"] = max(s["phone_block_regs_1h"], count_within(blk.regs, now, 3600))  # type: ignore[call-overload]
    net = keys.get(("net", acc.net))
    if net is not None:
        if net.accounts > s["net_accounts"]:  # type: ignore[operator]
            s["net_accounts"] = net.accounts
            s["net_fresh_share"] = net.fresh / net.accounts if net.accounts <= 2000 else 0.0
        s["net_regs_10m"] = max(s["net_regs_10m"], count_within(net.regs, now, 600))  # type: ignore[call-overload]
        s["net_golives_10m"] = max(s["net_golives_10m"], count_within(net.golives, now, 600))  # type: ignore[call-overload]


def flagged(st: Stream) -> bool:
    """True when the image model flagged the room's latest frames."""
    return bool(st.scores) and max(st.scores) >= FLAGGED_SCORE


def stream_signals(e: Engine, st: Stream, now: float, cache: dict[str, dict]) -> dict[str, object]:
    """Every stream signal at ``now``; ``cache``: account signals already computed in this evaluation."""
    while st.chat_hits and st.chat_hits[0] <= now - CHAT_WINDOW:
        st.chat_hits.popleft()
    s = {
        "age_s": now - st.started,
        "frames": st.frames,
        "sample_every": st.sample_every,
        "classifier": max(st.scores) if st.scores else 0.0,
        "classifier_hits": sum(1 for x in st.scores if x >= FLAGGED_SCORE),
        "classifier_model": st.classifier_model,
        "bank_match": st.bank_match,
        "bank": st.bank,
        "bank_distance": st.bank_distance,
        "allow_match": st.allow_match,
        "cluster_rooms": 1,
        "cluster_accounts": 1,
        "cluster_risky_share": 0.0,
        "cluster_trusted_share": 0.0,
        "cluster_confirmed": False,
        "cluster_flagged_rooms": int(flagged(st)),
        "cluster_flagged_share": float(flagged(st)),
        "chat_diversion": len(st.chat_hits),
        "chat_max": st.chat_max,
        "title_diversion": st.title_diversion,
        "reports": len(st.reporters),
        "report_weight": st.report_weight,
        "report_spread": st.spread_reporters / len(st.reporters) if st.reporters else 0.0,
        "viewers": st.viewers,
        "limited": st.limited,
        "reviewed_benign": st.reviewed_benign,
        "gate_skipped": st.gate_skipped,
    }
    if e.clusters is not None:
        root = e.clusters.root(st.id)
        rooms = e.clusters.members.get(root)
        if rooms:
            streams = e.streams
            live = [streams[r] for r in rooms if r in streams and streams[r].live]
            accounts = {x.account for x in live} | {st.account}
            risky = trusted_n = 0
            for a in accounts:
                sig = cache.get(a) or account_signals(e, e.accounts[a], now)
                cache[a] = sig
                risky += sig["risk"] >= 3  # type: ignore[operator]
                trusted_n += bool(sig["trusted"])
            s["cluster_rooms"] = max(1, len(live))
            # The image model's noise is independent per room: the same content flagged in another room agrees.
            n_flagged = sum(1 for x in live if flagged(x))
            s["cluster_flagged_rooms"] = n_flagged
            s["cluster_flagged_share"] = n_flagged / len(live) if live else 0.0
            s["cluster_accounts"] = len(accounts)
            s["cluster_risky_share"] = risky / len(accounts)
            s["cluster_trusted_share"] = trusted_n / len(accounts)
            s["cluster_confirmed"] = root in e.confirmed_clusters
    view = e.remote.cluster_of.get(st.id) if e.remote is not None else None
    if view is not None:  # the cluster across every partition, as the coordinator last saw it
        if view.rooms >= s["cluster_rooms"]:  # type: ignore[operator]
            s["cluster_rooms"], s["cluster_accounts"] = view.rooms, max(view.accounts, s["cluster_accounts"])  # type: ignore[call-overload]
            s["cluster_risky_share"], s["cluster_trusted_share"] = view.risky_share, view.trusted_share
        s["cluster_confirmed"] = bool(s["cluster_confirmed"]) or view.confirmed
    return s
