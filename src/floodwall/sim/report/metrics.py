"""What each figure of a report means, its unit, its denominator and which way is better."""

from __future__ import annotations

from dataclasses import dataclass

from floodwall.sim.report import format as fmt


@dataclass(frozen=True)
class Metric:
    """One row of a report: where the value sits in a policy's JSON, and how to read it."""

    key: str  # dotted path in one policy's results
    label: str
    unit: str  # count, viewer-minutes, seconds, hours, share, list
    definition: str
    better: str = ""  # "lower", "higher" or "" (context, not a score)
    of: str | None = None  # dotted path of the denominator, for "17 of 270"


def get(d: dict, path: str):
    """The value at a dotted path ("ttd_seconds.median"), or None."""
    for part in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)  # type: ignore[assignment]
    return d


def show(m: Metric, res: dict) -> str:
    """One policy's value of a metric, as people read it (with its denominator where it has one)."""
    v = get(res, m.key)
    if v is None:
        return fmt.MISSING
    if m.unit == "list":
        return fmt.count(len(v))
    if m.of is not None:
        return fmt.share(v, get(res, m.of))
    if m.unit == "seconds":
        return fmt.duration(v)
    if m.unit == "share":
        return fmt.percent(v)
    if m.unit == "hours":
        return f"{fmt.number(v)} h"
    if m.unit == "count":
        return fmt.count(v)
    return fmt.number(v)


def numeric(m: Metric, res: dict) -> float | None:
    """The value compared across policies (a list compares by its length)."""
    v = get(res, m.key)
    if isinstance(v, list):
        return float(len(v))
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


_TTD = ("Time from an attack room's first sampled frame to its removal (takedown, account freeze or platform "
        "shutdown), over the attack rooms that were removed; rooms never removed are counted in their own row.")

REPLAY: list[Metric] = [
    Metric("exposure_viewer_minutes", "exposure (viewer-minutes)", "viewer-minutes",
           "Viewer-minutes of attack content watched: each attack room's audience (which builds up over about "
           "3 minutes after it goes live) added up from go-live to removal or the end of the window. A room kept "
           "off the recommendation and nearby pages counts at 3% of its audience.", "lower"),
    Metric("ttd_seconds.median", "time to takedown, median", "seconds", _TTD, "lower"),
    Metric("ttd_seconds.p90", "time to takedown, 90th percentile", "seconds",
           "9 in 10 removed attack rooms were removed within this time.", "lower"),
    Metric("ttd_seconds.p99", "time to takedown, 99th percentile", "seconds",
           "99 in 100 removed attack rooms were removed within this time.", "lower"),
    Metric("ttd_seconds.max", "time to takedown, slowest", "seconds", "The slowest removal of an attack room.",
           "lower"),
    Metric("attack_streams", "attack rooms that went live", "count",
           "Attack rooms that got on the air. A policy that freezes accounts early sees fewer, because the "
           "attackers run out of accounts to restream from."),
    Metric("attack_streams_never_removed", "attack rooms never removed", "count",
           "Attack rooms that stayed live until the attacker stopped or the window closed.", "lower",
           of="attack_streams"),
    Metric("legit_streams", "honest rooms", "count",
           "Honest rooms that went live in the window or were blocked at go-live (a restored room is not "
           "counted twice)."),
    Metric("legit_streams_wrongly_interrupted", "honest rooms interrupted", "count",
           "Interrupted: an honest room stopped on the policy's orders: taken down, its account frozen, blocked "
           "at go-live, ended by a platform-wide shutdown, or kept off the air for its whole slot by one. A room "
           "restored later still counts.", "lower", of="legit_streams"),
    Metric("false_report_targets_interrupted", "mass-reported merchants interrupted", "count",
           "Honest merchants that a report-flooding ring went after, and how many of them were interrupted.",
           "lower", of="false_report_targets"),
    Metric("co_broadcast_rooms_interrupted", "co-broadcast rooms interrupted", "count",
           "Honest rooms relaying one public event together (near-duplicate frames in every room), and how many "
           "of them were interrupted.", "lower", of="co_broadcast_rooms"),
    Metric("attack_principals_flagged", "stolen service keys flagged", "count",
           "Internal API keys the attack used to start rooms, and how many of them the engine flagged.",
           "higher", of="attack_principals"),
    Metric("honest_principals_flagged", "honest API principals flagged", "count",
           "API principals flagged that the attack never used (partners, internal services).", "lower"),
    Metric("legit_streams_limited", "honest rooms limited", "count",
           "Limited: kept off the recommendation and nearby pages for a while (the room stays live; its "
           "audience falls to about 3%). Probation of untrusted accounts during an incident is a limit.",
           "lower", of="legit_streams"),
    Metric("legit_streamer_minutes_lost", "honest streamer-minutes lost", "minutes",
           "Minutes honest streamers could not broadcast because of the policy: from an interruption to the "
           "room's planned end (or until it was restored), and time held back by a shutdown.", "lower"),
    Metric("review_items", "review items", "count",
           "Review item: one entry in the human review queue. The manual baseline makes one per user report; "
           "Floodwall makes one case per content cluster or account ring and adds later reports to it.", "lower"),
    Metric("review_queue_max", "review queue, deepest", "count",
           "The most review items waiting for a person at one time.", "lower"),
    Metric("reviewer_hours", "reviewer time", "hours",
           "Hours of reviewers' work spent on the queue (an item takes about a minute; one whose rooms already "
           "ended is skipped faster).", "lower"),
    Metric("reports_received", "user reports received", "count",
           "User reports that reached the policy, of those viewers sent.", of="reports_sent"),
    Metric("reports_dropped", "user reports dropped", "count",
           "Reports viewers sent that were never accepted (the jammed report channel of December 22).", "lower",
           of="reports_sent"),
    Metric("hijacked_owners_notified", "hijacked owners told", "count",
           "Owners of hijacked accounts used in the attack who were ordered a message (check your account, reset "
           "your password).", "higher", of="hijacked_accounts_used"),
    Metric("hijacked_owners_notified_fraction", "hijacked owners' messages delivered", "share",
           "Share of those owners whose message actually left the outbox through the (flaky) SMS gateway.",
           "higher"),
    Metric("notify_delay_seconds.median", "owner message delay, median", "seconds",
           "Time from the order to notify to the message leaving the outbox, retries included.", "lower"),
    Metric("notify_delay_seconds.p99", "owner message delay, 99th percentile", "seconds",
           "99 in 100 owner messages left within this time.", "lower"),
    Metric("incident_levels", "incident level changes", "list",
           "Times the incident level moved (normal, elevated, severe, critical); each change is listed with its "
           "reason in the timeline."),
    Metric("rings", "account rings found", "count", "Groups of accounts found acting in lockstep."),
    Metric("events", "events handled", "count", "Events the policy's engine read (frames, chat, reports, ...)."),
    Metric("frames", "frames sampled", "count", "Video frames the platform sampled and sent."),
    Metric("frames_hashed", "frames hashed", "count", "Frames whose PDQ hash the engine computed and matched.",
           of="frames"),
    Metric("wall_seconds", "wall-clock seconds", "count",
           "How long this policy's replay took on the machine that ran it (not a benchmark)."),
]

BACKTEST: list[Metric] = [
    Metric("events", "events handled", "count", "Events read from the file and handled by the engine."),
    Metric("dead_letters", "events rejected", "count",
           "Lines that failed validation (each kept with the field it broke); they never reach the engine.",
           "lower"),
    Metric("frames", "frames", "count", "Sampled video frames among the events."),
    Metric("streams", "rooms started", "count", "stream_started events in the file."),
    Metric("labelled_attack_streams", "labelled attack rooms", "count",
           "Rooms the labels file names as attack that showed at least one frame.", of="streams"),
    Metric("takedown_precision", "takedown precision", "share",
           "Share of the rooms the policy took down that the labels call attack.", "higher"),
    Metric("takedown_recall", "takedown recall", "share",
           "Share of labelled attack rooms that the policy took down.", "higher"),
    Metric("ttd_seconds.median", "time to takedown, median", "seconds", _TTD, "lower"),
    Metric("ttd_seconds.p90", "time to takedown, 90th percentile", "seconds",
           "9 in 10 removed attack rooms were removed within this time.", "lower"),
    Metric("ttd_seconds.max", "time to takedown, slowest", "seconds", "The slowest removal of an attack room.",
           "lower"),
    Metric("review_items", "review items", "count",
           "Review item: one entry in the human review queue (a case per cluster or ring, or one per report).",
           "lower"),
    Metric("review_queue_max", "review queue, deepest", "count",
           "The most review items open at one time (nobody reviews in a backtest, so this is what piled up).",
           "lower"),
    Metric("wall_seconds", "wall-clock seconds", "count", "How long the backtest took (not a benchmark)."),
]

# The orders a policy gives the platform.
ACTIONS: dict[str, str] = {
    "takedown": "End a live room now.",
    "freeze": "Freeze an account (its live rooms go down with it; it cannot go live again until restored).",
    "limit": "Keep a room off the recommendation and nearby pages; it stays live with a small audience.",
    "sample": "Sample a room's frames more often (a suspicious room is watched closely, not removed).",
    "notify": "Message an account's owner (hijacked accounts: check your account, reset your password).",
    "restore": "Undo an earlier order: a room or account back on the air, or a limit lifted.",
    "review": "Put a room in front of a person (a review case).",
    "allow": "Nothing to do.",
}

# Words the page uses beyond the metrics.
TERMS: dict[str, str] = {
    "policy": "A set of rules (and engine settings) deciding what to do; the first policy is the baseline the "
              "others are compared with. Every policy plays the same plan: the same accounts, rooms and attack.",
    "baseline ratio": "A policy's value divided by the baseline's, in words: \"same\", \"0.48×\" (about half), "
                      "\"1 in 470,000\" (the baseline's figure is 470,000 times larger), \"3×\".",
    "incident level": "How hard the platform is being hit: normal, elevated, severe, critical. It rises when "
                      "a surge signal (go-lives by risky accounts, reports, takedowns, bad content clusters) "
                      "crosses a multiple of its baseline, and falls after 10 quiet minutes; each step carries "
                      "out the policy's playbook.",
    "probation": "During an incident, rooms of accounts without trust go live limited and are released after "
                 "enough clean frames.",
    "held go-live / registration": "A go-live or a sign-up the playbook held back while the level was high.",
    "shadow rule": "A rule that is evaluated and counted but orders nothing: a way to try a rule on live "
                   "traffic before it acts.",
    "rule attribution": "Each order counted under the rules that fired for it (an order from two rules counts "
                        "under both); orders from the incident playbook or from people are named for their "
                        "source.",
}
