"""Pure parts of the service: partitioning, message batching, event-id idempotency, the event clock."""

from __future__ import annotations

import msgspec
import pytest

from floodwall.adapters.enforcer import RecordingEnforcer
from floodwall.adapters.nats_log import (
    MAX_MESSAGE,
    Partitioner,
    decode_batch,
    encode_batches,
    partition_of,
)
from floodwall.clock import VirtualClock
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import (
    AccountRegistered,
    ChatPosted,
    FrameSampled,
    ReviewDecided,
    StreamStarted,
    ViewerCount,
)
from floodwall.service.runtime import EventClock


def test_stream_events_follow_their_owner_and_cases_name_their_partition():
    p = Partitioner(4)
    owner = "acct-17"
    evs = [StreamStarted(id="1", ts=1, stream="s", account=owner, device="d", ip="1.2.3.4"),
           ChatPosted(id="2", ts=2, stream="s", account="some-viewer", text="hi"),
           ViewerCount(id="3", ts=3, stream="s", viewers=5),
           AccountRegistered(id="4", ts=0, account=owner, phone="1", device="d", ip="1.2.3.4")]
    assert {p.partition(e) for e in evs} == {partition_of(owner, 4)}
    groups = p.split([ReviewDecided(id="5", ts=4, item="p3:rv-9", reviewer="r", violating=True)])
    assert list(groups) == [3] and groups[3][0].item == "rv-9"  # the worker knows its items by local id
    with pytest.raises(ValueError, match="case id"):
        p.partition(ReviewDecided(id="6", ts=4, item="rv-9", reviewer="r", violating=True))
    with pytest.raises(ValueError, match="partition 7 of 4"):
        p.partition(ReviewDecided(id="6", ts=4, item="p7:rv-9", reviewer="r", violating=True))
    assert partition_of(owner, 4) == partition_of(owner, 4) == Partitioner(4).partition(evs[0])  # stable


def test_messages_stay_under_the_nats_payload_limit_and_round_trip():
    frame = FrameSampled(id="f", ts=1, stream="s", account="a", width=64, height=64, pixels=bytes(64 * 64 * 3))
    evs = [msgspec.structs.replace(frame, id=f"f{i}") for i in range(200)]
    msgs = encode_batches(evs)
    assert len(msgs) > 1 and all(len(m) <= MAX_MESSAGE for m in msgs)
    back = [e for m in msgs for e in decode_batch(m)]
    assert back == evs


def test_engine_skips_an_event_id_it_has_seen():
    clock = VirtualClock(1000.0)
    eng = Engine(load_policy("floodwall"), clock=clock, enforcer=RecordingEnforcer())
    ev = StreamStarted(id="same", ts=1000.0, stream="s1", account="a", device="d", ip="1.2.3.4")
    v1, _ = eng.gate(ev)
    v2, orders = eng.gate(ev)
    assert v1 is not None and v1.key == "s1" and v2 is None and orders == []
    assert eng.duplicates == 1 and eng.events == 1
    clock.advance_to(1000.0 + 7200)  # past the dedup window the id is forgotten (memory stays bounded)
    eng.handle([])
    assert "same" not in eng._seen_ids


def test_event_clock_only_moves_forward():
    c = EventClock()
    c.observe([ViewerCount(id="1", ts=50.0, stream="s", viewers=1), ViewerCount(id="2", ts=40.0, stream="s", viewers=1)])
    assert c.now() == 50.0
    c.observe([ViewerCount(id="3", ts=10.0, stream="s", viewers=1)])
    assert c.now() == 50.0


def test_a_burst_of_first_requests_with_one_key_verifies_once():
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from floodwall.adapters.keys import KeyStore

    keys = KeyStore(sa.create_engine("sqlite://", connect_args={"check_same_thread": False},
                                     poolclass=sa.pool.StaticPool), pepper=b"u" * 40)
    secret, key = keys.create("burst", ["gate"])
    runs = []
    inner = keys._verify

    def counting(*a):  # each verification reads the key's row and computes the HMAC
        runs.append(1)
        return inner(*a)
    keys._verify = counting
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(keys.verify, [secret] * 32))
    assert all(k is not None and k.id == key.id for k in got)
    assert len(runs) == 1
    with ThreadPoolExecutor(4) as pool:  # a wrong secret is verified (and refused) every time
        assert list(pool.map(keys.verify, [secret[:-2] + "xx"] * 4)) == [None] * 4
    assert len(runs) == 5


def test_a_failed_store_write_stops_the_worker_even_with_its_queue_full():
    import asyncio

    from floodwall.service.consumer import enqueue_write

    async def main() -> None:
        writes: asyncio.Queue = asyncio.Queue(maxsize=1)
        writes.put_nowait("a group not yet written")

        async def failing_writer() -> None:
            await asyncio.sleep(0.01)
            raise RuntimeError("the store refused the commit")
        writer = asyncio.create_task(failing_writer())
        with pytest.raises(RuntimeError, match="refused"):
            await asyncio.wait_for(enqueue_write(writes, writer, ("rows", [])), timeout=5)
    asyncio.run(main())


def test_a_worker_serves_its_metrics_over_http():
    import socket

    import httpx

    from floodwall.service.metrics import Metrics

    m = Metrics()
    m.notices.labels("ClusterNoticed").inc(3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    m.serve(port)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'floodwall_notices_total{type="ClusterNoticed"} 3.0' in text
