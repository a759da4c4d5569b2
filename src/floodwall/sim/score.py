"""The scorer: how much harm got through, and what it cost honest streamers. Reads the truth."""

from __future__ import annotations

import numpy as np

from floodwall.response.outbox import delays

REMOVED = ("takedown", "freeze", "shutdown")
INTERRUPTED = ("takedown", "freeze", "shutdown", "blocked", "expired")  # expired: its whole slot fell in a shutdown


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """median, p90, p99, max and count of a list (None when empty)."""
    if not values:
        return {"median": None, "p90": None, "p99": None, "max": None, "count": 0}
    a = np.asarray(values, dtype=float)
    return {
        "median": round(float(np.median(a)), 3),
        "p90": round(float(np.percentile(a, 90)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "max": round(float(a.max()), 3),
        "count": len(a),
    }


def score(platform, engine, reviewers, wall_seconds: float) -> dict:
    """The per-policy figures of the replay report, and the time series behind its plots."""
    t0, t1 = platform.t0, platform.t_end
    attack = [s for s in platform.truth.attack_streams.values() if s.went_live]
    legit = [s for s in platform.truth.legit_streams.values() if s.went_live or s.end_reason in ("blocked", "expired")]
    exposure = 0.0
    ttd: list[float] = []
    never = 0
    minutes = int(np.ceil((t1 - t0) / 60))
    live_series = np.zeros(minutes)
    exp_series = np.zeros(minutes)
    for s in attack:
        end = s.ended if s.ended is not None else t1
        exposure += platform.exposure(s, s.start, end)
        if s.end_reason in REMOVED and s.first_frame is not None:
            ttd.append(end - s.first_frame)
        elif s.end_reason not in REMOVED:
            never += 1
        m0, m1 = int((s.start - t0) // 60), int(min(end - t0, t1 - t0 - 1e-6) // 60)
        for m in range(max(m0, 0), min(m1, minutes - 1) + 1):
            a, b = max(s.start, t0 + 60 * m), min(end, t0 + 60 * (m + 1))
            if b > a:
                live_series[m] += (b - a) / 60.0  # average live rooms over the minute
                exp_series[m] += platform.exposure(s, a, b)
    originals = [s for s in legit if s.restart_of is None]
    interrupted = [s for s in originals if s.end_reason in INTERRUPTED]
    lost = 0.0
    pause_to = platform.paused_until
    for s in legit:
        if s.end_reason == "expired":
            lost += (s.planned_end - s.planned_start) / 60  # never got to go live
        elif s.planned_start and s.start > s.planned_start:
            lost += (s.start - s.planned_start) / 60  # held back by a shutdown
        if s.end_reason in ("takedown", "freeze"):
            back = platform.streams.get(s.restored_as) if s.restored_as else None
            # An undone takedown costs the gap until the room came back, not the rest of its slot.
            lost += ((back.start if back is not None and back.went_live else s.planned_end) - s.ended) / 60
        elif s.end_reason == "blocked":
            lost += (s.planned_end - s.ended) / 60
        elif s.end_reason == "shutdown" and pause_to is not None:
            lost += (min(s.planned_end, pause_to) - s.ended) / 60
    limited = sum(1 for s in originals if s.limited_at is not None)
    # Honest rooms live per minute: a difference array over start and end minutes.
    diff = np.zeros(minutes + 1)
    for s in legit:
        if s.went_live:
            end = s.ended if s.ended is not None else t1
            diff[int(np.clip((s.start - t0) // 60, 0, minutes))] += 1
            diff[int(np.clip((end - t0) // 60, 0, minutes))] -= 1
    legit_series = np.cumsum(diff)[:minutes]
    hijacked = platform.truth.hijacked_accounts
    hij_used = {s.account.id for s in attack if s.account.hijacked}
    return {
        "exposure_viewer_minutes": round(exposure, 1),
        "ttd_seconds": percentiles(ttd),
        "ttd_seconds_values": sorted(round(x, 2) for x in ttd),  # the report's distribution plot
        "attack_streams": len(attack),
        "attack_streams_never_removed": never,
        "attack_accounts": len(platform.truth.attack_accounts),
        "attack_accounts_unused": len(platform.pool),
        "legit_streams": len(originals),
        "legit_streams_wrongly_interrupted": len(interrupted),
        # The honest merchants a report-flooding ring went after, and how many of them went down.
        "false_report_targets": len(platform.false_report_targets),
        "false_report_targets_interrupted": sum(1 for s in interrupted if s.id in platform.false_report_targets),
        # Honest rooms of a co-broadcast (one public event relayed by many) and of a surge (many going live at once).
        "co_broadcast_rooms": sum(1 for s in originals if s.group == "co_broadcast"),
        "co_broadcast_rooms_interrupted": sum(1 for s in interrupted if s.group == "co_broadcast"),
        "surge_rooms": sum(1 for s in originals if s.group == "surge"),
        "surge_rooms_interrupted": sum(1 for s in interrupted if s.group == "surge"),
        **principal_figures(platform, engine),
        "legit_streams_limited": limited,
        "legit_streamer_minutes_lost": round(lost, 1),
        "review_items": engine.review.created,
        "review_queue_max": engine.review.max_depth,
        "reviewer_hours": round(reviewers.busy_seconds / 3600.0, 2),
        "reports_received": engine.reports_received,
        "reports_sent": platform.reports_sent,
        "reports_dropped": platform.reports_sent - engine.reports_accepted,
        "hijacked_accounts_used": len(hij_used),
        "hijacked_owners_notified": len(hij_used & platform.notified),
        "honest_owners_notified": len(platform.notified - hijacked),
        **response_figures(engine, hij_used),
        "actions": dict(sorted(engine.actions_by_kind.items())),
        "shadow_rule_hits": dict(sorted(engine.shadow_hits.items())),
        "rule_errors": list(engine.rule_errors),  # rules that raised at run time (skipped for that subject)
        # What each shadow rule would have done, judged against the truth.
        "shadow_rules": {
            name: {
                "subjects": len(keys),
                "attack": sum(1 for k in keys if k in platform.truth.attack_streams or k in platform.truth.attack_accounts),
                "honest": sum(1 for k in keys if k in platform.truth.legit_streams
                              or (k in platform.accounts and k not in platform.truth.attack_accounts)),
            }
            for name, keys in sorted(engine.shadow_subjects.items())
        },
        "rings": len(engine.rings.rings) if engine.rings is not None else 0,
        "events": engine.events,
        "frames": engine.frames,
        "frames_hashed": engine.frames_hashed,
        "wall_seconds": round(wall_seconds, 1),
        "series": {
            "minute_start": t0,
            "live_attack_streams": [round(x, 2) for x in live_series],
            "exposure_viewer_minutes": [round(x, 1) for x in exp_series],
            "live_legit_streams": [int(x) for x in legit_series],
        },
    }


def principal_figures(platform, engine) -> dict:
    """API principals (service keys) the engine flagged, judged against the stolen keys the attack used.

    A principal counts as flagged when the engine names it in ``flagged_principals`` (a set the engine
    may keep) or orders an action with subject "principal" (counted by the platform as it applies orders).
    """
    flagged = set(getattr(engine, "flagged_principals", ()) or ()) | platform.principals_ordered
    bad = platform.truth.attack_principals
    return {
        "attack_principals": len(bad),
        "principals_flagged": len(flagged),
        "attack_principals_flagged": len(flagged & bad),
        "honest_principals_flagged": len(flagged - bad),
    }


def response_figures(engine, hij_used: set[str]) -> dict:
    """Incident levels over time and owner notifications (messages that left the outbox), from the responder."""
    resp = getattr(engine, "responder", None)
    if resp is None:
        return {}
    sent = {r["account"]: r for r in resp.outbox.rows("sent")} if resp.outbox is not None else {}
    return {
        "incident_levels": [{"t": c["t"], "level": c["level"], "why": c["why"], "source": c["source"]}
                            for c in resp.timeline()],
        "hijacked_owners_notified_fraction": round(len(hij_used & set(sent)) / len(hij_used), 4) if hij_used else None,
        "notify_delay_seconds": percentiles(delays(list(sent.values()))),
        "notify_outbox": {st: len(resp.outbox.rows(st)) for st in ("pending", "sent", "dead")} if resp.outbox else {},
        "probation": {"started": resp.probation_started, "lifted": resp.probation_lifted,
                      "held_golives": resp.held_golives, "held_registrations": resp.held_registrations},
    }
