"""Crash safety, for real: the API publishes to NATS JetStream, two worker processes write to PostgreSQL,
one is SIGKILLed mid-run and restarted. Decisions equal an uninterrupted run's; no event is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from service_helpers import NATS_URL, bearer, need, new_pg_database, port_open

from floodwall.adapters.keys import KeyStore
from floodwall.events import FrameSampled, encode_event

CHUNK = 400
MINUTES = 16  # the tiny scenario's attack starts 10 minutes in


def scenario_events() -> list[bytes]:
    """The simulated platform's events for the first minutes of the tiny scenario (1 frame in 6 kept)."""
    from floodwall.sim.platform import SimPlatform
    from floodwall.sim.scenario import load_scenario

    p = SimPlatform(load_scenario("tests/data/scenarios/tiny.toml"), seed=1, scale=0.02)
    out, n = list(p.initial_events()), 0
    t = p.t0
    while t < p.t0 + MINUTES * 60:
        for ev in p.tick(t, 1.0):
            if type(ev) is FrameSampled:
                n += 1
                if n % 6:
                    continue
            out.append(ev)
        t += 1.0
    return [encode_event(ev) for ev in out]


@pytest.fixture(scope="module")
def events() -> list[bytes]:
    return scenario_events()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args: list[str], log_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "floodwall.cli", *args], stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _subject_counts(run: str) -> dict[int, int]:
    import nats

    from floodwall.adapters.nats_log import events_subject, stream_name

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    info = await js.stream_info(stream_name(run), subjects_filter=events_subject(run, "*"))
    await nc.close()
    return {int(s.rsplit(".", 1)[1]): n for s, n in (info.state.subjects or {}).items()}


async def _read_log(run: str) -> dict:
    """The run's stream as it is: sketches in order, the coordinator's events per partition, message counts."""
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    from floodwall.adapters.nats_log import decode_batch, decode_sketch, stream_name

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    info = await js.stream_info(stream_name(run))
    sub = await js.subscribe(f"fw.{run}.>", stream=stream_name(run), ordered_consumer=True,
                             config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    sketches, notices, per_partition = [], [], defaultdict(int)
    for _ in range(info.state.messages):
        m = await sub.next_msg(timeout=5)
        kind, part = m.subject.split(".")[2:4] if m.subject.count(".") >= 3 else (m.subject.split(".")[2], "")
        if kind == "sketch":
            sketches.append((m.metadata.sequence.stream, decode_sketch(m.data)))
        elif kind == "events":
            per_partition[int(part)] += 1
            notices += [(int(part), ev) for ev in decode_batch(m.data) if ev.id.startswith("co.")]
    await nc.close()
    return {"sketches": sketches, "notices": notices, "per_partition": dict(per_partition)}


async def _delete_stream(run: str) -> None:
    import nats

    from floodwall.adapters.nats_log import stream_name

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream_name(run))
    except Exception:  # noqa: BLE001, S110  (cleanup: a stream that is already gone is fine)
        pass
    await nc.close()


def run_service(events: list[bytes], tmp_path, *, kill: bool, coordinator: bool = False) -> dict:
    """Push every event through serve + 2 workers (and the coordinator); verdicts per stream, actions, accounting.

    ``kill`` SIGKILLs worker 0 mid-run, and the coordinator too when there is one, then restarts them.
    """
    run = f"crash{uuid.uuid4().hex[:8]}"
    url, drop = new_pg_database("fwcrash")
    port = _free_port()
    common = ["--store", url, "--run", run, "--partitions", "2"]
    procs: dict[str, subprocess.Popen] = {}
    try:
        from floodwall.service.runtime import open_store

        open_store(url, run).engine.dispose()  # tables first (the processes would race to create them)
        secret, _ = KeyStore(sa.create_engine(url)).create("crash-test", ["ingest"], rate=1e6, burst=1e6)
        procs["api"] = _spawn(["serve", "--log", NATS_URL, "--port", str(port), *common], tmp_path / f"{run}-api.log")
        for i in (0, 1):
            procs[f"w{i}"] = _spawn(["worker", "--log", NATS_URL, "--partition", str(i), *common],
                                    tmp_path / f"{run}-w{i}.log")
        if coordinator:
            procs["co"] = _spawn(["coordinator", "--log", NATS_URL, *common], tmp_path / f"{run}-co.log")
        deadline = time.monotonic() + 20
        t_start = time.monotonic()
        while not port_open(port):
            assert time.monotonic() < deadline, (tmp_path / f"{run}-api.log").read_text()
            time.sleep(0.1)
        print(f"api up after {time.monotonic() - t_start:.1f} s", file=sys.stderr)
        db = sa.create_engine(url)
        from floodwall.persistence.tables import log_batches

        def committed(partition: int | None = None) -> tuple[int, int]:
            """(messages, events of the API's messages) committed; the coordinator's carry no publish time."""
            api = sa.case((log_batches.c.published.is_not(None), log_batches.c.events), else_=0)
            with db.connect() as conn:
                q = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(api), 0)).where(log_batches.c.run == run)
                if partition is not None:
                    q = q.where(log_batches.c.partition == partition)
                return tuple(conn.execute(q).one())

        from floodwall.persistence.tables import coord_batches

        def coordinated() -> int:
            with db.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(coord_batches)
                                    .where(coord_batches.c.run == run)).scalar()

        co_killed_after = None
        t_post = time.monotonic()
        chunks = [b"[" + b",".join(events[i:i + CHUNK]) + b"]" for i in range(0, len(events), CHUNK)]
        accepted = 0
        killed_after = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=bearer(secret), timeout=60) as client:
            for k, body in enumerate(chunks):
                r = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
                assert r.status_code == 202, r.text
                assert r.json()["durable"] is True and not r.json()["rejected"]
                accepted += r.json()["accepted"]
                if kill and k == len(chunks) // 2:
                    # let worker 0 commit some batches, then kill it mid-stream without warning
                    end = time.monotonic() + 30
                    while committed(0)[0] < 3 and time.monotonic() < end:
                        time.sleep(0.02)
                    procs["w0"].send_signal(signal.SIGKILL)
                    procs["w0"].wait()
                    killed_after = committed(0)[0]
                    if coordinator:
                        while coordinated() < 3 and time.monotonic() < end:
                            time.sleep(0.02)
                        procs["co"].send_signal(signal.SIGKILL)
                        procs["co"].wait()
                        co_killed_after = coordinated()
            if kill:
                procs["w0"] = _spawn(["worker", "--log", NATS_URL, "--partition", "0", *common],
                                     tmp_path / f"{run}-w0.log")
                if coordinator:
                    procs["co"] = _spawn(["coordinator", "--log", NATS_URL, *common], tmp_path / f"{run}-co.log")
        print(f"posted in {time.monotonic() - t_post:.1f} s", file=sys.stderr)
        deadline = time.monotonic() + 90
        while True:  # every message in the partitions' subjects committed (the coordinator may add more)
            expected = asyncio.run(_subject_counts(run))
            if committed() == (sum(expected.values()), accepted):
                break
            assert time.monotonic() < deadline, f"stuck at {committed()} of {sum(expected.values())}, {accepted}"
            for name, p in procs.items():
                assert p.poll() is None, f"{name} died: " + (tmp_path / f"{run}-{name}.log").read_text()[-2000:]
            time.sleep(0.2)
        print(f"all committed after {time.monotonic() - t_post:.1f} s", file=sys.stderr)
        log = None
        if coordinator:  # and every sketch coordinated, with nothing left in flight for a second
            deadline = time.monotonic() + 90
            while True:
                log = asyncio.run(_read_log(run))
                done, msgs = coordinated(), committed()[0]
                if done == len(log["sketches"]) and msgs == sum(log["per_partition"].values()):
                    time.sleep(1.0)
                    if coordinated() == done and committed()[0] == msgs:
                        break
                assert time.monotonic() < deadline, f"coordinator at {done} of {len(log['sketches'])}"
                time.sleep(0.2)
            expected = log["per_partition"]
        from floodwall.adapters.store import actions, reports, verdicts

        with db.connect() as conn:
            vs = conn.execute(sa.select(verdicts).where(verdicts.c.run == run)).all()
            acts = conn.execute(sa.select(actions).where(actions.c.run == run)).all()
            reps = conn.execute(sa.select(reports.c.id).where(reports.c.run == run)).scalars().all()
            per_part = dict(conn.execute(sa.select(log_batches.c.partition, sa.func.count())
                                         .where(log_batches.c.run == run).group_by(log_batches.c.partition)).all())
        per_stream: dict[str, list] = defaultdict(list)
        for v in vs:
            per_stream[v.key].append((v.ts, v.subject, v.action, tuple(v.rules), v.shadow))
        db.dispose()
        return {"verdicts": {k: sorted(x) for k, x in per_stream.items()},
                "actions": sorted((a.key, a.ts, a.target) for a in acts), "accepted": accepted,
                "reports": sorted(reps),
                "batches": per_part, "expected": expected, "killed_after": killed_after,
                "worker0_log": (tmp_path / f"{run}-w0.log").read_text(), "log": log,
                "co_killed_after": co_killed_after, "coordinated": coordinated() if coordinator else None,
                "co_log": (tmp_path / f"{run}-co.log").read_text() if coordinator else ""}
    finally:
        t_stop = time.monotonic()
        for p in procs.values():
            _stop(p)
        print(f"stopped in {time.monotonic() - t_stop:.1f} s", file=sys.stderr)
        asyncio.run(_delete_stream(run))
        drop()
        print(f"dropped in {time.monotonic() - t_stop:.1f} s", file=sys.stderr)


def test_sigkill_a_worker_mid_run_loses_and_duplicates_nothing(events, tmp_path):
    need(4222, "NATS")
    need(5432, "PostgreSQL")
    clean = run_service(events, tmp_path, kill=False)
    crashed = run_service(events, tmp_path, kill=True)
    print({k: (v if not isinstance(v, (dict, list, str)) or k in ("batches", "expected") else len(v)) for k, v in crashed.items()},
          sorted({a[0].split(":")[0] for a in clean["actions"]}), file=sys.stderr)
    assert clean["accepted"] == crashed["accepted"] == len(events)
    # every log message was committed exactly once, per partition (log_batches' key is (run, partition, seq))
    assert crashed["batches"] == crashed["expected"] and clean["batches"] == clean["expected"]
    assert 0 < crashed["killed_after"] < crashed["expected"][0], "the kill did not land mid-stream"
    assert "rebuilding" in crashed["worker0_log"]
    # the decisions are the same, stream by stream, and the actions (keyed) too
    assert len(clean["verdicts"]) > 100
    assert crashed["verdicts"] == clean["verdicts"]
    assert crashed["actions"] == clean["actions"]
    sent = sorted(e["id"] for e in map(json.loads, events) if e["type"] == "report_filed")
    assert sent and clean["reports"] == sent and crashed["reports"] == sent  # each report stored once
    kinds = {a[0].split(":")[0] for a in clean["actions"]}
    assert "takedown" in kinds or "limit" in kinds, kinds


def test_sigkill_the_coordinator_and_a_worker_mid_run_loses_and_duplicates_nothing(events, tmp_path):
    """With the coordinator between the partitions, SIGKILL it and worker 0 mid-run and restart both.

    What the coordinator tells the partitions depends on when each partition's sketches reach it, so two
    runs need not agree event for event; what must hold is that nothing is lost or doubled anywhere: every
    log message committed once, every sketch sent once and coordinated once, and the notices in the
    partitions' logs exactly those a fresh coordinator derives from the same sketches (state rebuilt
    correctly after the kill, nothing published twice).
    """
    need(4222, "NATS")
    need(5432, "PostgreSQL")
    from floodwall.partitions.coordinator import Coordinator

    got = run_service(events, tmp_path, kill=True, coordinator=True)
    assert got["accepted"] == len(events)
    assert got["batches"] == got["expected"]  # every partition message committed exactly once
    assert 0 < got["killed_after"] < got["expected"][0] and "rebuilding" in got["worker0_log"]
    sketches = got["log"]["sketches"]
    assert got["co_killed_after"] and 0 < got["co_killed_after"] < len(sketches), "the kill did not land mid-run"
    assert got["co_log"].count("rebuilding") == 2  # started, killed, started again and rebuilt
    assert got["coordinated"] == len(sketches)  # each sketch in the stream coordinated once
    keys = [(sk.partition, sk.seq) for _, sk in sketches]
    assert len(keys) == len(set(keys))  # a worker re-sending after its restart was kept once
    fresh = Coordinator(2)
    expected = sorted((q, ev.id, msgspec.json.encode(ev)) for _, sk in sketches
                      for q, evs in fresh.handle(sk).items() for ev in evs)
    published = sorted((q, ev.id, msgspec.json.encode(ev)) for q, ev in got["log"]["notices"])
    assert published == expected and len(expected) > 50
    kinds = {e[2].split(b'"type":"', 1)[1].split(b'"', 1)[0] for e in expected}
    assert {b"cluster_noticed", b"keys_noticed", b"accounts_noticed"} <= kinds, kinds
    sent = sorted(e["id"] for e in map(json.loads, events) if e["type"] == "report_filed")
    assert sent and got["reports"] == sent
