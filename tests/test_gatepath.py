"""The gate's hot path: it answers only a cached key with the gate scope, within its rate, sending a
stream_started; every other request reaches the app's route with its body as sent."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import msgspec
import pytest

from floodwall.service.auth import ApiError
from floodwall.service.gatepath import GatePath

STARTED = msgspec.json.encode({"type": "stream_started", "id": "g1", "ts": 100.0, "stream": "live1",
                               "account": "a1", "device": "d1", "ip": "10.0.0.1"})


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def labels(self, *_):
        return self

    def inc(self, n: int = 1) -> None:
        self.n += n


class World:
    """The app's state as the middleware reads it, and the app behind it."""

    def __init__(self, *, scopes=("gate",), wait: float = 0.0, fail: ApiError | None = None) -> None:
        self.key = SimpleNamespace(allows=lambda scope: scope in scopes)
        self.wait = wait
        self.fail = fail
        self.decided: list = []
        self.taken = 0
        self.routed: list[bytes] = []
        self.accepted = Counter()
        metrics = SimpleNamespace(events_in=self.accepted)
        self.state = SimpleNamespace(backend=self, keys=self, buckets=self, metrics=metrics)

    def cached(self, presented: str):
        return self.key if presented == "fw_good" else None

    def take(self, key) -> float:
        self.taken += 1
        return self.wait

    async def gate(self, ev) -> dict:
        if self.fail is not None:
            raise self.fail
        self.decided.append(ev)
        return {"event": ev.id, "action": "allow"}

    async def app(self, scope, receive, send) -> None:
        """The route: records the body it reads, answers 299."""
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.routed.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


def call(world: World, body: bytes = STARTED, *, headers=((b"authorization", b"Bearer fw_good"),),
         path: str = "/v1/gate", method: str = "POST") -> tuple[int, bytes, dict]:
    scope = {"type": "http", "path": path, "method": method, "headers": list(headers)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(GatePath(world.app, world.state)(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), scope


def test_a_cached_gate_key_with_a_stream_started_is_answered_here():
    w = World()
    status, body, scope = call(w)
    assert status == 200 and msgspec.json.decode(body) == {"event": "g1", "action": "allow"}
    assert [ev.id for ev in w.decided] == ["g1"] and w.routed == [] and w.taken == 1 and w.accepted.n == 1
    assert scope["route"].path == "/v1/gate"  # counted under the route's template
    status, _, _ = call(World(), headers=((b"x-api-key", b"fw_good"),))
    assert status == 200


@pytest.mark.parametrize("case", [
    dict(headers=()),  # no key: the route answers 401
    dict(headers=((b"authorization", b"Bearer fw_unknown"),)),  # not verified lately: the route verifies it
    dict(headers=((b"cookie", b"fw_session=abc"),)),  # a console session: CSRF and origin are the route's
    dict(world=dict(scopes=("ingest",))),  # 403 is the route's
    dict(world=dict(wait=1.5)),  # over its rate: the route answers 429
    dict(body=b'{"type": "stream_started", "id": 5}'),  # invalid: the route names the field
    dict(body=msgspec.json.encode({"type": "account_registered", "id": "r1", "ts": 1.0, "account": "a1",
                                   "phone": "1", "device": "d", "ip": "10.0.0.1"})),  # not a go-live
    dict(body=b"[" * 100),
    dict(path="/v1/events"),
    dict(method="GET"),
])
def test_everything_else_reaches_the_route_with_its_body_as_sent(case):
    w = World(**case.pop("world", {}))
    body = case.get("body", STARTED)
    status, answer, _ = call(w, **case)
    assert (status, answer) == (299, b"route") and w.routed == [body] and w.decided == []


def test_a_backend_refusal_is_answered_as_the_route_would():
    w = World(fail=ApiError(503, "journal_down", "the gate log cannot write"))
    status, body, _ = call(w)
    assert status == 503 and msgspec.json.decode(body)["error"]["type"] == "journal_down" and w.routed == []


def test_the_full_app_takes_the_route_first_then_this_path(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from service_helpers import bearer

    from floodwall.adapters.keys import KeyStore
    from floodwall.service import app as app_mod
    from floodwall.service import gatepath
    from floodwall.service.serve import build_backend

    took: list[str] = []

    def spy(name, real):
        async def answer(backend, ev, metrics):
            took.append(name)
            return await real(backend, ev, metrics)
        return answer

    monkeypatch.setattr(app_mod, "gate_answer_body", spy("route", gatepath.gate_answer_body))
    monkeypatch.setattr(gatepath, "gate_answer_body", spy("here", gatepath.gate_answer_body))
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys = KeyStore(backend.store.engine)
    secret = keys.create("gate-key", ["gate"])[0]
    with TestClient(app_mod.create_app(backend, keys)) as client:
        answers = []
        for i in range(2):
            ev = msgspec.json.decode(STARTED) | {"id": f"g{i}", "stream": f"live{i}", "account": f"a{i}"}
            r = client.post("/v1/gate", json=ev, headers=bearer(secret))
            assert r.status_code == 200
            answers.append(r.json())
        assert took == ["route", "here"]  # the first call verified the key; the second found it cached
        assert answers[0].keys() == answers[1].keys() and answers[0]["action"] == answers[1]["action"]
        r = client.post("/v1/gate", json={"type": "stream_started", "id": 5}, headers=bearer(secret))
        assert r.status_code == 422 and took == ["route", "here"]
        text = client.get("/metrics").text
        assert 'floodwall_http_requests_total{route="/v1/gate",status="200"} 2.0' in text
