"""The partitioned service for real (NATS JetStream, PostgreSQL): bank edits through the log, and one
human decision acting on rooms in another partition through the coordinator."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
import sqlalchemy as sa
from service_helpers import bearer, nats_deployment, wait_for

from floodwall.content.pdq import hash_frames, to_hex
from floodwall.coordination.partition import partition_of
from floodwall.persistence.tables import coord_batches
from floodwall.sim.render import CLIP, Renderer

DAY = 86_400.0


@pytest.fixture
def deployment():
    with nats_deployment(partitions=2, coordinator=True) as d:
        yield d


def accounts_in(partition: int, n: int, prefix: str) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        if partition_of(f"{prefix}{i}", 2) == partition:
            out.append(f"{prefix}{i}")
        i += 1
    return out


def clip(seed: int) -> np.ndarray:
    return Renderer(64).render(np.array([CLIP]), np.array([seed]), np.array([20.0]), [None])[0]


def reg(aid: str, ts: float, phone: str) -> dict:
    return {"type": "account_registered", "id": f"reg-{aid}", "ts": ts, "account": aid, "phone": phone,
            "device": f"dev-{aid}", "ip": "10.1.2.3"}


def start(sid: str, aid: str, ts: float) -> dict:
    return {"type": "stream_started", "id": f"start-{sid}", "ts": ts, "stream": sid, "account": aid,
            "device": f"dev-{aid}", "ip": "10.1.2.3"}


def frame(sid: str, aid: str, ts: float, pixels: np.ndarray, n: int) -> dict:
    return {"type": "frame_sampled", "id": f"f-{sid}-{n}", "ts": ts, "stream": sid, "account": aid,
            "width": 64, "height": 64, "pixels": base64.b64encode(pixels.tobytes()).decode()}


def actions_on(client, key: str, secret: str) -> set[str]:
    return {a["action"] for a in client.get(f"/v1/decisions/{key}", headers=bearer(secret)).json()["actions"]}


def test_a_bank_edit_reaches_every_partition_through_the_log(deployment):
    client, s, _, workers = deployment
    op = bearer(s["operate"])
    assert client.post("/v1/banks", json={"name": "partner", "kind": "block"}, headers=op).status_code == 201
    assert client.post("/v1/banks", json={"name": "partner"}, headers=op).status_code == 409
    pixels = clip(11)
    hx = to_hex(hash_frames(pixels[None])[0][0])
    r = client.post("/v1/banks/partner/import", content=f"# from a partner\n{hx},extra\n", headers=op)
    assert r.status_code == 200 and r.json() == {"bank": "partner", "added": 1, "read": 1}
    assert client.post("/v1/banks/partner/import", content=hx, headers=op).json()["added"] == 0
    listed = {b["name"]: b for b in client.get("/v1/banks", headers=op).json()["items"]}
    assert listed["partner"] == {"name": "partner", "kind": "block", "size": 1}
    assert {"confirmed", "reviewed", "honest"} <= set(listed)
    assert client.get("/v1/banks/partner/export", headers=op).text == hx + "\n"
    assert client.get("/v1/banks/nope/export", headers=op).status_code == 404
    # A room in each partition shows the banked clip: each partition's worker takes its own room down.
    now = time.time()
    rooms = {accounts_in(0, 1, "b")[0]: "room-p0", accounts_in(1, 1, "b")[0]: "room-p1"}
    events = [reg(a, now - 60, f"861390000{i:04d}") for i, a in enumerate(rooms)]
    events += [start(sid, a, now) for a, sid in rooms.items()]
    events += [frame(sid, a, now + 1, pixels, 0) for a, sid in rooms.items()]
    assert client.post("/v1/events", json=events, headers=bearer(s["ingest"])).status_code == 202
    for sid in rooms.values():
        wait_for(lambda sid=sid: "takedown" in actions_on(client, sid, s["review"]), timeout=20)
    assert all("partner" in {b.name for b in w.engine.banks.banks} for w in workers)
    # Removing the hash removes it everywhere.
    assert client.delete(f"/v1/banks/partner/hashes/{hx}", headers=op).status_code == 200
    assert client.delete(f"/v1/banks/partner/hashes/{hx}", headers=op).status_code == 404
    assert client.get("/v1/banks/partner/export", headers=op).text == ""
    wait_for(lambda: all(len(w.engine.banks["partner"]) == 0 for w in workers), timeout=20)


def test_one_decision_in_one_partition_takes_down_the_same_content_in_the_other(deployment):
    client, s, backend, workers = deployment
    now = time.time()
    streamer = accounts_in(0, 1, "st")[0]
    bots = accounts_in(1, 3, "bot")
    reporters = [f"rep{i}" for i in range(4)]
    pixels = clip(23)
    events = [reg(streamer, now - 400 * DAY, "8613111110000")]
    events += [reg(a, now - 400 * DAY, f"8613222{i:03d}0000") for i, a in enumerate(reporters)]
    events += [reg(a, now - 60, f"86139{i:03d}00000") for i, a in enumerate(bots)]  # fresh, unrelated numbers
    events += [start("main", streamer, now)] + [start(f"bot-{a}", a, now) for a in bots]
    assert client.post("/v1/events", json=events, headers=bearer(s["ingest"])).status_code == 202
    for n in range(3):  # the same clip in every room: the coordinator joins them across the partitions
        batch = [frame("main", streamer, now + n, pixels, n)] + [frame(f"bot-{a}", a, now + n, pixels, n)
                                                                  for a in bots]
        assert client.post("/v1/events", json=batch, headers=bearer(s["ingest"])).status_code == 202

    def cluster_rooms() -> int:
        st = workers[1].engine.streams.get(f"bot-{bots[0]}")
        view = workers[1].engine.remote.cluster_of.get(st.id) if st is not None else None
        return view.rooms if view is not None else 0
    wait_for(lambda: cluster_rooms() == 4, timeout=20)
    assert not any("takedown" in actions_on(client, f"bot-{a}", s["review"]) for a in bots)
    # Viewers report the main room (partition 0); a reviewer decides its case.
    for r in reporters:
        client.post("/v1/reports", params={"stream": "main", "reporter": r}, headers=bearer(s["ingest"]))
    case = wait_for(lambda: client.get("/v1/cases", headers=bearer(s["review"])).json()["items"], timeout=20)[0]
    assert case["id"].startswith("p0:")
    r = client.post(f"/v1/cases/{case['id']}/decision", json={"violating": True, "note": "same clip as the bots"},
                    headers=bearer(s["review"]))
    assert r.status_code == 202
    wait_for(lambda: "takedown" in actions_on(client, "main", s["review"]), timeout=20)
    # The coordinator hears of the decision and tells partition 1: its rooms of the same clip go down.
    for a in bots:
        wait_for(lambda a=a: "takedown" in actions_on(client, f"bot-{a}", s["review"]), timeout=20)
    verdicts = client.get(f"/v1/decisions/bot-{bots[0]}", headers=bearer(s["review"])).json()["verdicts"]
    assert any("cluster-confirmed" in v["rules"] for v in verdicts)
    # The decision's frames are in the reviewed bank of both partitions and in its export.
    assert all(len(w.engine.banks["reviewed"]) > 0 for w in workers)
    wait_for(lambda: client.get("/v1/banks/reviewed/export", headers=bearer(s["operate"])).text, timeout=20)
    with backend.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(coord_batches)
                            .where(coord_batches.c.run == backend.run)).scalar() > 0
    # Each worker's own metrics (served with --metrics-port): log lag, verdicts by kind, event to verdict.
    text = workers[1].metrics.render().decode()
    assert 'floodwall_verdicts_total{action="takedown",mode="live"}' in text
    lag = next(line for line in text.splitlines() if line.startswith("floodwall_log_lag_seconds_count"))
    assert float(lag.split()[-1]) > 0
    assert "floodwall_event_to_verdict_seconds_count" in text and 'floodwall_queue_depth{queue="consumer"}' in text
