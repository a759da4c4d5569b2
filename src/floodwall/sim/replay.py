"""Replays: a scenario played against several policies on the same plan, and backtests of recorded events."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.eventlog import InProcessLog, read_jsonl, write_jsonl
from floodwall.adapters.notifiers import FlakyNotifier, RecordingNotifier
from floodwall.adapters.store import SqlStore
from floodwall.adapters.store import reports as reports_table
from floodwall.clock import VirtualClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import Policy, Scheduled, load_policy
from floodwall.engine.signals import PhoneRanges
from floodwall.events import DeadLetters, Event, FrameSampled, StreamStarted
from floodwall.progress import tqdm  # tqdm on a terminal, whole lines in a log file
from floodwall.response.incident import IncidentResponse
from floodwall.response.outbox import DeliveryWorker, Outbox
from floodwall.sim.attribution import RuleTally, truth_judge
from floodwall.sim.classifier import DeclaredClassifier
from floodwall.sim.platform import SimPlatform
from floodwall.sim.provenance import build_info, replay_command, scenario_params, seeds
from floodwall.sim.render.ahead import DEPTH as AHEAD
from floodwall.sim.reviewers import ReviewerPool
from floodwall.sim.scenario import Scenario
from floodwall.sim.score import percentiles, score

TICK = 1.0  # seconds of virtual time per engine batch
NOTIFY_POLL = 5.0  # seconds between the delivery worker's polls of the outbox
NOTIFY_BATCH = 50  # messages per poll (a gateway's throughput: 10 per second)
NOTIFY_FAIL_RATE = 0.05  # share of sends that fail transiently and are retried with backoff


def chat_classifier():
    """The shipped chat and title classifier (None if it cannot be built)."""
    from floodwall.content.chat import default_classifier

    return default_classifier()


def run_policy(
    scenario: Scenario,
    policy: Policy,
    *,
    seed: int,
    scale: float,
    store_url: str = "sqlite://",
    phone_ranges: PhoneRanges | None = None,
    record: Callable[[list[Event]], None] | None = None,
    progress: bool = True,
    keep: dict | None = None,
    live=None,
    reviewer_count: int | None = None,
    partitions: int = 1,
    coordinator: bool = True,
    image_model: str = "none",
    draw_ahead: bool | None = None,
) -> dict:
    """Play the scenario's plan against one policy and score the outcome (``keep`` gets the live objects).

    ``live`` (a :class:`floodwall.sim.live.LiveReplay`) paces the replay on the wall clock and shares the
    engine with the web console through a Hub; ``reviewer_count`` overrides the scenario's team size (0: people
    at the console are the only reviewers). ``partitions`` > 1 plays the NATS service's shape in one process:
    one engine per partition of accounts, with the coordinator between them unless ``coordinator`` is False.
    ``draw_ahead``: draw each next tick's frames in a second process while the engine works (default: where
    the machine has a second core and FLOODWALL_DRAW_AHEAD is not 0); the events are the same either way.
    """
    wall0 = time.perf_counter()
    platform = SimPlatform(scenario, seed=seed, scale=scale)
    clock = VirtualClock(platform.t0)
    store = SqlStore(store_url, run=f"{scenario.name}/{policy.name}/seed{seed}")
    classifier = DeclaredClassifier(lambda fid: fid in platform.violating_frames, scenario.classifier.tpr,
                                    scenario.classifier.fpr, seed)
    if image_model != "none" and policy.engine.classifier:
        # The real model looks at the rendered frames too; a verdict's evidence names both models.
        from floodwall.content.classifier import MaxOfClassifiers
        from floodwall.content.classifier import image_model as load_image_model

        classifier = MaxOfClassifiers(classifier, load_image_model(image_model))
    # Incident response: surge levels and the policy's playbook; notify orders go to an outbox in the store.
    outbox = Outbox(store.engine, run=store.run)
    chat = chat_classifier() if policy.engine.chat else None
    # The report's per-rule attribution: every order the platform gets, by the rule that caused it.
    tally = RuleTally(platform, [r.name for r in policy.rules])

    def make_engine(follower: bool = False) -> Engine:
        responder = IncidentResponse.for_policy(policy.name, platform.t0, outbox, follower=follower)
        return Engine(policy, clock=clock, enforcer=tally, store=store, classifier=classifier, chat=chat,
                      phone_ranges=phone_ranges, responder=responder)

    if partitions > 1:
        if live is not None:
            raise ValueError("--serve plays one engine; partitions are for measuring the partitioned service")
        from floodwall.partitions.coordinator import Coordinator
        from floodwall.partitions.inprocess import Partitioned

        coord = Coordinator(partitions, policy=policy.name, clusters=policy.engine.clusters,
                            rings=policy.engine.rings) if coordinator else None
        engine = Partitioned([make_engine(follower=coordinator) for _ in range(partitions)], coord)
    else:
        engine = make_engine()
    # The delivery worker polls every NOTIFY_POLL s of virtual time through an SMS-like gateway with a
    # throughput cap and transient errors (assumed figures), so the delay it reports includes retries.
    courier = DeliveryWorker(outbox, FlakyNotifier(RecordingNotifier(), NOTIFY_FAIL_RATE, seed),
                             every=NOTIFY_POLL, batch=NOTIFY_BATCH, sole=True)
    reviewers = ReviewerPool(
        scenario.reviewers,
        max(1, round(scenario.reviewers.count * scale)) if reviewer_count is None else reviewer_count, engine.review,
        is_attack=platform.truth.is_attack_stream,
        is_live=lambda s: s in platform.streams and platform.streams[s].ended is None, seed=seed,
    )
    handle = engine.handle
    if live is not None:
        handle = live.attach(engine, platform)
    log = InProcessLog()
    backfill = platform.initial_events()
    if record:
        record(backfill)
    log.append(backfill)
    handle(log.take())
    schedule = sorted((s for s in policy.scheduled if s.at is not None), key=lambda s: s.at)
    on_incident = [s for s in policy.scheduled if s.after is not None]  # fire relative to the incident
    t = platform.t0
    steps = int((platform.t_end - platform.t0) / TICK)
    queue_depth: list[int] = []  # open review items at the end of each minute (the report's queue plot)
    bar = tqdm(total=steps // 60, desc=f"{policy.name:>10}", unit="min", disable=not progress, leave=False)
    if draw_ahead is None:
        draw_ahead = (os.cpu_count() or 1) > 1 and os.environ.get("FLOODWALL_DRAW_AHEAD", "1") != "0"
    if draw_ahead:
        platform.start_drawing_ahead()
        for k in range(AHEAD):
            platform.draw_ahead(t + k * TICK, TICK)
    try:
        for k in range(steps):
            events = platform.tick(t, TICK)
            platform.draw_ahead(t + AHEAD * TICK, TICK)  # drawn while the engine handles this tick and the next
            events.extend(reviewers.step(t, t + TICK))
            if record:
                record(events)
            log.append(events)
            clock.advance_to(t + TICK)
            handle(log.take())
            courier.poll(clock.now())
            if on_incident:
                schedule = _incident_due(engine, on_incident, schedule)
            while schedule and schedule[0].at < t + TICK:
                s = schedule.pop(0)
                platform.pause_all(clock.now(), clock.now() + s.minutes * 60)
                why = (f"{s.after_minutes:g} min after the incident reached {s.after}" if s.after else "scheduled")
                engine.pause_all(f"{why}: {s.action} for {s.minutes:g} min")
            t += TICK
            if k % 60 == 59:
                bar.update(1)
                queue_depth.append(engine.review.depth)
            if live is not None and live.stopped:
                break
    finally:
        platform.stop_drawing_ahead()
    bar.close()
    # Close what is still live at the window's end (not a takedown).
    tail = []
    for sid in sorted(platform.live):
        platform._end(platform.streams[sid], platform.t_end, "window_end", tail)
    if keep is not None:
        keep.update(platform=platform, engine=engine, store=store, reviewers=reviewers)
    result = score(platform, engine, reviewers, time.perf_counter() - wall0)
    result["reports_stored"] = store.count(reports_table)
    result["series"]["review_queue_depth"] = queue_depth
    result["rule_attribution"] = tally.summary(truth_judge(platform))
    if hasattr(classifier, "max_seen"):
        result["image_model_max_scores"] = {k: round(v, 4) for k, v in classifier.max_seen.items()}
    return result


def _incident_due(engine, waiting: list[Scheduled], schedule: list[Scheduled]) -> list[Scheduled]:
    """Move entries whose incident level has been reached into the timed schedule (``waiting`` shrinks)."""
    from floodwall.response.levels import LEVELS

    resp = getattr(engine, "responder", None)
    if resp is None:
        return schedule
    changes = resp.tracker.changes
    for s in list(waiting):
        need = LEVELS.index(s.after)
        first = next((c.t for c in changes if c.level >= need), None)
        if first is not None:
            waiting.remove(s)
            schedule = sorted([*schedule, dataclasses.replace(s, at=first + s.after_minutes * 60)],
                              key=lambda x: x.at)
    return schedule


def run_replay(
    scenario: Scenario,
    policies: Iterable[str],
    *,
    seed: int,
    scale: float,
    store_url: str = "sqlite://",
    phone_ranges: PhoneRanges | None = None,
    progress: bool = True,
    image_model: str = "none",
    command: str | None = None,
) -> dict:
    """Run every policy on the same plan; the report's JSON (``command``: the command line, for the report)."""
    policies = list(policies)
    report = {"scenario": scenario.name, "seed": seed, "scale": scale, "policies": {},
              "seeds": seeds(seed), "scenario_params": scenario_params(scenario), "build": build_info(),
              "command": command or replay_command(scenario.name, policies, seed, scale)}
    for name in policies:
        policy = load_policy(name)
        report["policies"][policy.name] = run_policy(
            scenario, policy, seed=seed, scale=scale, store_url=store_url, phone_ranges=phone_ranges, progress=progress,
            image_model=image_model,
        )
    return report


def record_events(scenario: Scenario, policy: str, *, seed: int, scale: float, path: str | Path,
                  progress: bool = True, labels: str | Path | None = None) -> int:
    """Write the events a platform sent during a replay (the engine's view, no truth) to JSON Lines.

    ``labels``: also write the attack streams' ids there, one a line (the truth, in its own file).
    """
    buf: list[Event] = []
    kept: dict = {}
    run_policy(scenario, load_policy(policy), seed=seed, scale=scale, record=buf.extend, progress=progress, keep=kept)
    if labels is not None:
        attack = sorted(sid for sid, st in kept["platform"].streams.items() if st.attack)
        Path(labels).write_text("".join(f"{s}\n" for s in attack), encoding="utf-8")
    return write_jsonl(path, buf)


def backtest(
    events_path: str | Path,
    policy_names: Iterable[str],
    *,
    labels_path: str | Path | None = None,
    store_url: str = "sqlite://",
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Run policies over a platform's own recorded events; truth-based figures only with labels."""
    labels = _read_labels(labels_path) if labels_path else None
    report: dict = {"events_file": str(events_path), "policies": {},
                    "labels_file": str(labels_path) if labels_path else None, "build": build_info(),
                    "command": command}
    for name in policy_names:
        policy = load_policy(name)
        dead = DeadLetters()
        wall0 = time.perf_counter()
        enforcer = RecordingEnforcer()
        tally = RuleTally(enforcer, [r.name for r in policy.rules])
        clock: VirtualClock | None = None
        engine: Engine | None = None
        store = SqlStore(store_url, run=f"backtest/{policy.name}")
        batch: list[Event] = []
        batch_end = None
        first_frame: dict[str, float] = {}
        starts = 0
        for ev in tqdm(read_jsonl(events_path, dead), desc=f"{policy.name:>10}", unit="ev", disable=not progress, leave=False):
            if clock is None:
                clock = VirtualClock(ev.ts)
                engine = Engine(policy, clock=clock, enforcer=tally, store=store,
                                chat=chat_classifier() if policy.engine.chat else None)
            if type(ev) is FrameSampled and ev.stream not in first_frame:
                first_frame[ev.stream] = ev.ts
            starts += type(ev) is StreamStarted
            if batch_end is not None and ev.ts >= batch_end:
                clock.advance_to(max(clock.now(), batch_end))
                engine.handle(batch)
                batch = []
            if not batch or batch_end is None or ev.ts >= batch_end:
                batch_end = (int(ev.ts / TICK) + 1) * TICK
            batch.append(ev)
        if engine is not None and batch:
            clock.advance_to(max(clock.now(), batch_end))
            engine.handle(batch)
        store.record_dead(dead)
        out: dict = {
            "events": engine.events if engine else 0,
            "frames": engine.frames if engine else 0,
            "streams": starts,
            "dead_letters": len(dead),
            "dead_letter_examples": [{"line": d.line, "field": d.field, "reason": d.reason} for d in list(dead)[:5]],
            "actions": dict(sorted(engine.actions_by_kind.items())) if engine else {},
            "shadow_rule_hits": dict(sorted(engine.shadow_hits.items())) if engine else {},
            "rule_errors": list(engine.rule_errors) if engine else [],
            "review_items": engine.review.created if engine else 0,
            "review_queue_max": engine.review.max_depth if engine else 0,
            "wall_seconds": round(time.perf_counter() - wall0, 1),
            "rule_attribution": tally.summary(_label_judge(labels, first_frame) if labels is not None else None),
        }
        if labels is not None:
            taken = {o.target: o.ts for o in enforcer.orders if o.action == "takedown" and o.subject == "stream"}
            bad = labels & set(first_frame)
            hits = [s for s in taken if s in labels]
            out["labelled_attack_streams"] = len(bad)
            out["takedown_precision"] = round(len(hits) / len(taken), 4) if taken else None
            out["takedown_recall"] = round(len(set(hits) & bad) / len(bad), 4) if bad else None
            ttd = [taken[s] - first_frame[s] for s in hits if s in first_frame]
            out["ttd_seconds"] = percentiles(ttd)
            out["ttd_seconds_values"] = sorted(round(x, 2) for x in ttd)
        report["policies"][policy.name] = out
    return report


def _label_judge(labels: set[str], seen: dict[str, float]):
    """With labels: a labelled stream is attack, another stream that showed frames is honest, accounts unknown."""

    def judge(subject: str, target: str) -> bool | None:
        if subject != "stream":
            return None
        return True if target in labels else (False if target in seen else None)

    return judge


def _read_labels(path: str | Path) -> set[str]:
    """Attack stream ids, one per line (a CSV's first column; '#' comments allowed)."""
    out: set[str] = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line.split(",")[0].strip())
    return out
