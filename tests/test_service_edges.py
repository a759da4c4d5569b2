"""The HTTP edge of `floodwall serve`: a body cap (413, streamed bodies too) and a JSON depth limit (400)."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from service_helpers import bearer, served

from floodwall.service.limits import depth_over, json_depth
from floodwall.service.serve import build_app


@pytest.fixture
def live(tmp_path):
    """The full app served by uvicorn on a loopback port (real HTTP: chunked uploads, Content-Length)."""
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05, max_body=1024 * 1024)
    admin, _ = app.state.keys.create("edge", ["admin"], rate=1e6, burst=1e6)
    with served(app) as url:
        yield url, admin


def test_a_64_mb_body_gets_413(tmp_path):
    from fastapi.testclient import TestClient

    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)  # the default cap, 8 MiB
    secret, _ = app.state.keys.create("ingest", ["ingest"])
    with TestClient(app) as client:
        r = client.post("/v1/events", content=b"[" + b" " * (64 * 1024 * 1024) + b"]", headers=bearer(secret))
        assert r.status_code == 413 and r.json()["error"]["type"] == "body_too_large"
        assert client.post("/v1/events", content=b"[]", headers=bearer(secret)).status_code == 202


def test_a_streamed_body_without_content_length_is_cut_at_the_cap(live):
    url, admin = live

    def chunks():
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length (chunked transfer encoding)
            yield b" " * 65536

    r = httpx.post(f"{url}/v1/events", content=chunks(), headers=bearer(admin), timeout=30)
    assert r.status_code == 413, r.text
    ok = httpx.post(f"{url}/v1/events", content=iter([b"[", b"]"]), headers=bearer(admin), timeout=30)
    assert ok.status_code == 202  # a small streamed body is read in full and reaches the route


@pytest.mark.parametrize("path", ["/v1/events", "/v1/gate", "/v1/keys", "/incident/level", "/v1/cases/x/decision"])
def test_json_5000_deep_gets_a_4xx(live, path):
    url, admin = live
    for body in ("[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 5000):
        r = httpx.post(f"{url}{path}", content=body, headers={**bearer(admin), "Content-Type": "application/json"})
        assert r.status_code == 400, (path, body[:10], r.status_code, r.text[:200])
        # The events route decodes an array, and says so of an object before any nesting is read.
        want = "invalid_body" if path == "/v1/events" and body.startswith("{") else "too_deep"
        assert r.json()["error"]["type"] == want, (path, body[:10], r.text[:200])


def test_msgpack_5000_deep_gets_a_4xx(live):
    url, admin = live
    body = b"\x91" * 5000 + b"\x90"  # arrays of one array, 5,000 deep
    r = httpx.post(f"{url}/v1/events", content=body, headers={**bearer(admin), "Content-Type": "application/msgpack"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "too_deep", r.text[:200]


def test_json_depth_skips_strings_and_escapes():
    assert json_depth(b"[]") == 1 and json_depth(b'{"a":[{"b":[]}]}') == 4
    assert json_depth(json.dumps({"s": "[[[[[[", "t": '\\"[[[', "u": "\\\\"}).encode()) == 1
    assert json_depth(json.dumps([[["]]]]]]"]]]).encode()) == 3
    assert json_depth(b"123") == 0 and json_depth(b"") == 0
    deep = json.dumps(json.loads("[" * 900 + "]" * 900)).encode()
    assert json_depth(deep) == 900


def test_depth_over_agrees_with_json_depth():
    # Wide bodies with many brackets but little depth (an events batch), deep ones, brackets inside strings.
    rng = random.Random(7)
    for _ in range(300):
        depth, width = rng.randint(0, 80), rng.randint(0, 60)
        doc = [{"s": "[" * rng.randint(0, 90), "n": [[1]] * rng.randint(0, 3)} for _ in range(width)]
        for _ in range(depth):
            doc = [doc] if rng.random() < 0.5 else {"k": doc}
        body = json.dumps(doc).encode()
        cap = rng.choice((1, 8, 64))
        d = json_depth(body)
        assert depth_over(body, cap) == (d if d > cap else None), (cap, d)


def test_an_events_body_in_many_chunks_is_read_whole(live):
    url, admin = live
    events = [{"type": "account_registered", "id": f"reg-c{i}", "ts": 1.0, "account": f"c{i}",
               "phone": "8613800000000", "device": f"d{i}", "ip": "10.0.0.1"} for i in range(300)]
    body = json.dumps(events).encode()
    pieces = [body[i:i + 997] for i in range(0, len(body), 997)]  # cut inside strings and numbers
    r = httpx.post(f"{url}/v1/events", content=iter(pieces), headers=bearer(admin), timeout=30)
    assert r.status_code == 202 and r.json()["accepted"] == 300 and r.json()["rejected"] == []


def test_edge_limits_hand_an_unscanned_path_its_chunks_and_others_one_body():
    import asyncio

    from floodwall.service.limits import EdgeLimits, whole_body

    seen: list[list[tuple[bytes, bool]]] = []

    async def app(scope, receive, send):
        got = []
        while True:
            m = await receive()
            got.append((m["body"], m["more_body"]))
            if not m["more_body"]:
                break
        seen.append(got)

    async def run(path: str) -> None:
        sent = iter([{"type": "http.request", "body": b"[1,", "more_body": True},
                     {"type": "http.request", "body": b"2]", "more_body": False}])

        async def receive():
            return next(sent)

        await EdgeLimits(app, own_depth=frozenset({"/v1/events"}))({"type": "http", "path": path, "headers": []},
                                                                     receive, None)

    asyncio.run(run("/v1/events"))
    asyncio.run(run("/v1/gate"))
    assert seen == [[(b"[1,", True), (b"2]", False)], [(b"[1,2]", False)]]

    class Req:  # Starlette's stream: the pieces, then an empty one
        def __init__(self, pieces):
            self.pieces = pieces

        async def stream(self):
            for p in [*self.pieces, b""]:
                yield p

    one = b"x" * 1000
    assert asyncio.run(whole_body(Req([one]))) is one  # one piece: no copy
    assert asyncio.run(whole_body(Req([b"ab", b"", b"cd"]))) == b"abcd"
    assert asyncio.run(whole_body(Req([]))) == b""
