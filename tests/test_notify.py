"""Owner notifications: outbox, delivery worker with retries and backoff, webhook and Apprise adapters."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from floodwall.adapters.notifiers import (
    AppriseNotifier,
    RecordingNotifier,
    WebhookNotifier,
)
from floodwall.events import ActionOrder
from floodwall.response.outbox import DeliveryWorker, Outbox, backoff, delays

T0 = 1_766_412_000.0


class Receiver:
    """A real HTTP server on 127.0.0.1 that fails its first `fail` requests with 503, then accepts."""

    def __init__(self, fail=0):
        self.fail = fail
        self.requests = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rec.requests.append((dict(self.headers), body))
                code = 503 if len(rec.requests) <= rec.fail else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(fail=0):
        r = Receiver(fail)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def notify(aid, ts=T0):
    return ActionOrder(key=f"notify:account:{aid}", ts=ts, action="notify", subject="account", target=aid, verdict="v1")


def phone(aid):
    return f"+86138{aid[-4:].rjust(8, '0')}"


def test_a_failing_webhook_is_retried_with_backoff_and_sent_once(tmp_path, receiver):
    srv = receiver(fail=2)
    box = Outbox(f"sqlite:///{tmp_path}/s.db", run="r1")
    assert box.enqueue([notify("acc1")], phone) == 1
    assert box.enqueue([notify("acc1")], phone) == 0  # the same order again is the same message
    worker = DeliveryWorker(box, WebhookNotifier(f"http://127.0.0.1:{srv.port}/hook"), base_delay=2, max_delay=60)
    assert worker.drain(T0) == {"sent": 0, "retried": 1, "dead": 0}
    row = box.rows()[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"] == T0 + 2
    assert "HTTP 503" in row["last_error"]
    assert worker.drain(T0 + 1) == {"sent": 0, "retried": 0, "dead": 0}  # not due yet: backoff respected
    assert worker.drain(T0 + 2) == {"sent": 0, "retried": 1, "dead": 0}
    assert box.rows()[0]["next_attempt_at"] == T0 + 2 + 4  # doubled
    assert worker.drain(T0 + 6) == {"sent": 1, "retried": 0, "dead": 0}
    for t in (T0 + 10, T0 + 100, T0 + 1000):
        assert worker.drain(t)["sent"] == 0  # sent is final: nothing goes out twice
    assert len(srv.requests) == 3
    headers, body = srv.requests[-1]
    msg = json.loads(body)
    assert msg["account"] == "acc1" and msg["to"] == phone("acc1") and "new password" in msg["body"]
    assert headers["Idempotency-Key"] == "r1|notify:account:acc1"
    row = box.rows()[0]
    assert row["status"] == "sent" and row["attempts"] == 3 and delays([row]) == [6.0]


def test_a_dead_channel_gives_up_after_max_attempts(tmp_path):
    box = Outbox(f"sqlite:///{tmp_path}/s.db", run="r1")
    box.enqueue([notify("acc2")], phone)
    worker = DeliveryWorker(box, RecordingNotifier(fail_first=99), base_delay=1, max_attempts=3)
    t = T0
    for _ in range(10):
        worker.drain(t)
        t += 100
    row = box.rows()[0]
    assert row["status"] == "dead" and row["attempts"] == 3


def test_two_workers_on_one_outbox_send_each_message_once(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    box = Outbox(url, run="r1")
    box.enqueue([notify(f"a{i}") for i in range(20)], phone)
    sink = RecordingNotifier()
    w1, w2 = DeliveryWorker(Outbox(url, run="r1"), sink), DeliveryWorker(Outbox(url, run="r1"), sink)
    w1.drain(T0)
    w2.drain(T0)
    w1.drain(T0 + 1)
    assert sorted(m.account for m in sink.sent) == sorted(f"a{i}" for i in range(20))


def test_backoff_doubles_and_caps():
    assert [backoff(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_apprise_adapter_delivers_to_a_json_endpoint(tmp_path, receiver):
    srv = receiver(fail=1)
    box = Outbox(f"sqlite:///{tmp_path}/s.db", run="r1")
    box.enqueue([notify("acc3")], phone)
    worker = DeliveryWorker(box, AppriseNotifier([f"json://127.0.0.1:{srv.port}/notify"]), base_delay=1)
    assert worker.drain(T0)["retried"] == 1
    assert worker.drain(T0 + 1)["sent"] == 1
    assert worker.drain(T0 + 5)["sent"] == 0
    assert len(srv.requests) == 2
    payload = json.loads(srv.requests[-1][1])
    assert payload["title"] == "Your account may have been taken over" and "acc3" in payload["message"]


def test_apprise_adapter_refuses_an_unknown_url():
    with pytest.raises(ValueError, match="does not understand"):
        AppriseNotifier(["nosuchscheme://x"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sole_worker_sends_what_a_polling_one_sends_and_skips_idle_polls(tmp_path, seed):
    """Polls every 5 s over random enqueues, a flaky channel and a throughput cap: the same messages go out
    at the same polls with the same retries, and the sole worker reads the table only when something is due."""
    import random

    import sqlalchemy as sa

    from floodwall.adapters.notifiers import FlakyNotifier

    rng = random.Random(seed)
    plan = {round(rng.uniform(0, 600) / 5) * 5: [f"a{seed}-{k}-{j}" for j in range(rng.randint(1, 4))]
            for k in range(12)}
    got, queries = {}, {}
    for sole in (False, True):
        box = Outbox(f"sqlite:///{tmp_path}/{sole}.db", run="r")
        count = [0]
        sa.event.listen(box.db, "before_cursor_execute", lambda *a, c=count: c.__setitem__(0, c[0] + 1))
        sink = RecordingNotifier()
        worker = DeliveryWorker(box, FlakyNotifier(sink, 0.3, seed), every=5, batch=3, base_delay=2, sole=sole)
        log = []
        for t in range(0, 2400):  # the last half hour idle, as most of a replay is for the outbox
            if t in plan:
                box.enqueue([notify(a, T0 + t) for a in plan[t]], phone)
            before = len(sink.sent)
            worker.poll(T0 + t)
            log += [(t, m.key) for m in sink.sent[before:]]
        got[sole], queries[sole] = (log, [(r["key"], r["status"], r["attempts"]) for r in box.rows()]), count[0]
    assert got[True] == got[False]
    assert got[True][0]  # something was sent
    assert queries[True] < queries[False] / 2
