"""202 means durable on the embedded default: `floodwall serve` SIGKILLed and restarted on its SQLite
file loses nothing it answered 202 for, processes it exactly once, and keeps its state (issue 12,
findings 4 and 10)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import sqlalchemy as sa
from service_helpers import bearer, wait_for

from floodwall.adapters import store as store_tables
from floodwall.adapters.keys import KeyStore
from floodwall.persistence.tables import journal_snapshots
from floodwall.service.journal import journal, journal_marks

T0 = time.time()  # events of now: the engine's idempotency window is measured in event time


class Server:
    """`floodwall serve` on an SQLite file, in its own process."""

    def __init__(self, tmp_path, db: str, extra: tuple[str, ...] = ()) -> None:
        self.tmp_path = tmp_path
        self.extra = list(extra)
        self.url = f"sqlite:///{db}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.tmp_path / f"serve-{self.starts}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "floodwall.cli", "serve", "--store", self.url,
                                      "--port", str(self.port), "--tick", "0.05", *self.extra], stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        end = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, (self.tmp_path / f"serve-{self.starts}.log").read_text()[-3000:]
            assert time.monotonic() < end, "serve did not get ready in 60 s"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(tmp_path, request):
    db = tmp_path / "fw.db"
    srv = Server(tmp_path, str(db), getattr(request, "param", ()))
    from floodwall.service.runtime import open_store

    open_store(srv.url, "service").engine.dispose()
    keys = KeyStore(sa.create_engine(srv.url))
    srv.secrets = {s: keys.create(f"{s}-key", [s], rate=1e6, burst=1e6)[0]
                   for s in ("ingest", "gate", "operate", "review")}
    try:
        yield srv
    finally:
        srv.stop()


def report(i: int, prefix: str = "r") -> dict:
    return {"type": "report_filed", "id": f"{prefix}{i}", "ts": T0 + i * 0.001, "stream": f"s{i % 37}",
            "reporter": f"u{i}"}


def report_ids(url: str) -> set[str]:
    t = store_tables.reports
    with sa.create_engine(url).connect() as conn:
        return set(conn.execute(sa.select(t.c.id).where(t.c.run == "service")).scalars())


def gate_event(i: int) -> dict:
    return {"type": "stream_started", "id": f"g{i}", "ts": time.time(), "stream": f"live{i}", "account": f"a{i}",
            "device": f"d{i}", "ip": "10.0.0.1"}


def without_dup(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "duplicate"}


@pytest.mark.parametrize("server", [(), ("--compact-every", "100")], ids=["whole-journal", "cut-journal"],
                         indirect=True)
def test_300_reports_survive_a_sigkill_and_state_survives_restarts(server):
    s = server.secrets
    server.start()
    c = httpx.Client(base_url=server.base, timeout=30)
    # state that must come back: a bank added through the API, the operator's level pin, a gate answer
    assert c.post("/v1/banks", json={"name": "ops-block"}, headers=bearer(s["operate"])).status_code == 201
    assert c.post("/v1/banks/ops-block/hashes", json={"hashes": ["ab" * 32]},
                  headers=bearer(s["operate"])).json()["added"] == 1
    assert c.post("/incident/level", json={"level": "elevated", "reason": "drill"},
                  headers=bearer(s["operate"])).status_code == 200
    first = c.post("/v1/gate", json=gate_event(1), headers=bearer(s["gate"]))
    assert first.status_code == 200
    for k in range(3):
        r = c.post("/v1/events", json=[report(i) for i in range(k * 100, k * 100 + 100)], headers=bearer(s["ingest"]))
        assert r.status_code == 202 and r.json()["durable"] is True
    server.kill()  # at once: the loop has had no time to process most of them
    server.start()
    wait_for(lambda: len(report_ids(server.url)) == 300, timeout=30)
    assert report_ids(server.url) == {f"r{i}" for i in range(300)}
    # a gate retry after the restart answers exactly the first decision
    again = c.post("/v1/gate", json=gate_event(1), headers=bearer(s["gate"]))
    assert again.status_code == 200 and without_dup(again.json()) == without_dup(first.json())
    assert again.json()["duplicate"] is True
    # a new gate call after the restart, and its retry: 200, the same decision (no verdict id reused)
    new = c.post("/v1/gate", json=gate_event(2), headers=bearer(s["gate"]))
    retry = c.post("/v1/gate", json=gate_event(2), headers=bearer(s["gate"]))
    assert new.status_code == 200 and retry.status_code == 200
    assert without_dup(retry.json()) == without_dup(new.json())
    assert c.get("/v1/banks/ops-block/export", headers=bearer(s["operate"])).text == "ab" * 32 + "\n"
    assert c.get("/v1/incidents", headers=bearer(s["review"])).json()["level"] == 1
    server.stop()  # a clean restart too
    server.start()
    assert c.get("/v1/banks/ops-block/export", headers=bearer(s["operate"])).text == "ab" * 32 + "\n"
    assert c.get("/v1/incidents", headers=bearer(s["review"])).json()["level"] == 1
    third = c.post("/v1/gate", json=gate_event(2), headers=bearer(s["gate"]))
    assert without_dup(third.json()) == without_dup(new.json())
    with sa.create_engine(server.url).connect() as conn:
        ids = list(conn.execute(sa.select(store_tables.verdicts.c.id)).scalars())
    assert len(ids) == len(set(ids)) and any(".b2-" in i for i in ids)


def actions_on(url: str, target: str) -> list[str]:
    t = store_tables.actions
    with sa.create_engine(url).connect() as conn:
        return list(conn.execute(sa.select(t.c.action).where(t.c.target == target).order_by(t.c.ts)).scalars())


def test_an_executed_mass_action_survives_a_sigkill_and_can_be_undone_after_it(server):
    """A mass action's freezes are engine state like any other (journaled, replayed), and the proposal, its
    effects and its id sequence come back, so the operator can still undo it after a restart."""
    s = server.secrets
    other = KeyStore(sa.create_engine(server.url)).create("second-operator", ["operate"])[0]
    server.start()
    c = httpx.Client(base_url=server.base, timeout=30)
    reg = {"type": "account_registered", "id": "reg-x", "ts": time.time(), "account": "acc-x", "phone": "+15550100",
           "device": "dev-x", "ip": "10.9.0.1"}
    assert c.post("/v1/events", json=[reg], headers=bearer(s["ingest"])).status_code == 202

    def proposed():
        r = c.post("/mass-actions", json={"kind": "freeze_ring", "target": "acc-x", "reason": "drill"},
                   headers=bearer(s["operate"]))
        return r.json() if r.status_code == 200 else None

    forged = {"type": "mass_orders", "id": "mo-1", "ts": time.time(), "mass_action": "ma9", "reason": "x",
              "orders": [["restore", "account", "acc-x"]]}
    r = c.post("/v1/events", json=[forged], headers=bearer(s["ingest"]))  # the log's own event: never from a client
    assert r.status_code == 422 and r.json()["error"]["rejected"][0]["field"] == "type"
    p = wait_for(proposed, timeout=30)  # 422 until the loop has processed the registration
    assert p["id"] == "ma1" and p["effects"] == []
    c.post(f"/mass-actions/{p['id']}/approve", headers=bearer(s["operate"])).raise_for_status()
    done = c.post(f"/mass-actions/{p['id']}/approve", headers=bearer(other))
    assert done.status_code == 200 and done.json()["status"] == "executed"
    assert done.json()["effects"] == [["freeze", "account", "acc-x"]]
    wait_for(lambda: actions_on(server.url, "acc-x") == ["freeze"], timeout=30)
    server.kill()
    server.start()
    listed = c.get("/mass-actions", headers=bearer(s["operate"])).json()
    assert [(x["id"], x["status"], x["effects"]) for x in listed] == [("ma1", "executed", [["freeze", "account", "acc-x"]])]
    undone = c.post("/mass-actions/ma1/undo", json={"reason": "drill over"}, headers=bearer(s["operate"]))
    assert undone.status_code == 200 and undone.json()["status"] == "undone"
    # The engine still knew the account was frozen, so the undo restores it (a lost freeze restores nothing).
    wait_for(lambda: actions_on(server.url, "acc-x") == ["freeze", "restore"], timeout=30)
    again = c.post("/mass-actions", json={"kind": "freeze_ring", "target": "acc-x", "reason": "drill 2"},
                   headers=bearer(s["operate"]))
    assert again.status_code == 200 and again.json()["id"] == "ma2"  # ids go on; the audit chain's ma1 stays one action
    server.stop()  # a clean restart keeps the undone state too
    server.start()
    listed = c.get("/mass-actions", headers=bearer(s["operate"])).json()
    assert [(x["id"], x["status"]) for x in listed] == [("ma1", "undone"), ("ma2", "proposed")]


@pytest.mark.parametrize("server", [(), ("--compact-every", "3000")], ids=["whole-journal", "cut-journal"],
                         indirect=True)
def test_20000_events_three_random_sigkills_every_202_processed_exactly_once(server):
    """While a client posts 20,000 events, SIGKILL the server at random points (3 kills), restart it; with the
    journal cut every 3,000 events too (a restart then starts from the newest snapshot)."""
    t_begin = time.monotonic()
    rnd = random.Random(12)
    chunks = [[report(i, "f") for i in range(k, k + 200)] for k in range(0, 20_000, 200)]
    acked: set[str] = set()
    done = threading.Event()
    server.start()
    head = bearer(server.secrets["ingest"])

    def client() -> None:
        with httpx.Client(base_url=server.base, timeout=10) as c:
            for chunk in chunks:
                while True:  # a client retries what got no 202: the ids make the retry harmless
                    try:
                        r = c.post("/v1/events", json=chunk, headers=head)
                        if r.status_code == 202:
                            acked.update(ev["id"] for ev in chunk)
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)
        done.set()

    t = threading.Thread(target=client, daemon=True)
    t.start()
    # Kill at random points of the client's progress (not of the clock), so a fast machine still sees 3.
    marks = sorted(rnd.uniform(0.1, 0.85) * 20_000 for _ in range(3))
    kills = 0
    for mark in marks:
        while len(acked) < mark and not done.is_set():
            time.sleep(0.005)
        if done.is_set():
            break
        time.sleep(rnd.uniform(0.0, 0.05))  # mid-request, not just between two
        server.kill()
        kills += 1
        server.start()
    t.join(80)
    assert done.is_set(), "the client did not finish"
    assert kills == 3, "the client finished before three kills: post more events"
    # every event answered 202 is stored, and nothing else
    wait_for(lambda: acked <= report_ids(server.url), timeout=30)
    assert report_ids(server.url) <= {ev["id"] for chunk in chunks for ev in chunk}
    db = sa.create_engine(server.url)
    with db.connect() as conn:
        top, rows = conn.execute(sa.select(sa.func.max(journal.c.seq), sa.func.sum(journal.c.events))
                                 .where(journal.c.kind == "event")).one()
        wait_for(lambda: db.connect().execute(sa.select(journal_marks.c.processed)).scalar() >= top, timeout=30)
    # exactly once in the engine: it counted each distinct id once, though retries journaled some twice
    stats = httpx.get(f"{server.base}/v1/incidents", headers=bearer(server.secrets["review"])).json()
    assert stats["events"] == len(report_ids(server.url)) >= len(acked)
    if not server.extra:
        assert rows >= len(acked)
    else:  # cut: the rows before the newest snapshot are gone, and the engine's count came back with it
        with db.connect() as conn:
            snap = conn.execute(sa.select(sa.func.max(journal_snapshots.c.seq))).scalar()
            first = conn.execute(sa.select(sa.func.min(journal.c.seq))).scalar()
        assert snap is not None and (first is None or first > snap) and rows < len(acked)
    assert time.monotonic() - t_begin < 90
