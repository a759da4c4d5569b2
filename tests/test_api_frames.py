"""Compact frames through the HTTP API: msgpack batches, images and edge hashes, hostile bodies."""

from __future__ import annotations

import base64
import time

import msgspec
import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_helpers import bearer, wait_for

from floodwall.adapters.keys import KeyStore
from floodwall.content.frames import encode_image
from floodwall.content.pdq import hash_frames, to_hex
from floodwall.service.app import create_app
from floodwall.service.serve import build_backend
from floodwall.sim.render import CLIP, Renderer


@pytest.fixture
def svc(tmp_path):
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys = KeyStore(backend.store.engine)
    secrets = {s: keys.create(f"{s}-key", [s])[0] for s in ("ingest", "review", "operate")}
    with TestClient(create_app(backend, keys)) as client:
        yield client, secrets


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return Renderer(64).render(np.array([CLIP]), np.array([3]), np.array([42.0]), [None])[0]


def _room(sid: str, aid: str, now: float) -> list[dict]:
    return [{"type": "account_registered", "id": f"reg-{aid}", "ts": now - 60, "account": aid,
             "phone": "8617000000001", "device": f"dev-{aid}", "ip": "10.9.9.9"},
            {"type": "stream_started", "id": f"start-{sid}", "ts": now, "stream": sid, "account": aid,
             "device": f"dev-{aid}", "ip": "10.9.9.9"}]


def _frame(fid: str, sid: str, aid: str, now: float, **form) -> dict:
    return {"type": "frame_sampled", "id": fid, "ts": now + 1, "stream": sid, "account": aid, **form}


def _takedown(client, s, sid: str):
    return wait_for(lambda: [a for a in client.get(f"/v1/decisions/{sid}", headers=bearer(s["review"])).json()["actions"]
                             if a["action"] == "takedown"])


def test_msgpack_and_json_compact_frames_take_down_banked_content(svc, clip):
    client, s = svc
    (h,), (q,) = hash_frames(clip[None])
    r = client.post("/v1/banks/confirmed/hashes", json={"hashes": [to_hex(h)]}, headers=bearer(s["operate"]))
    assert r.status_code == 200
    now = time.time()
    jpeg = encode_image(clip, "jpeg")
    # msgpack: the edge hash in one room, the JPEG's raw bytes in another.
    batch = _room("s-hash", "a1", now) + _room("s-jpeg", "a2", now)
    batch += [_frame("f1", "s-hash", "a1", now, pdq=to_hex(h), pdq_quality=int(q)),
              _frame("f2", "s-jpeg", "a2", now, image=jpeg)]
    r = client.post("/v1/events", content=msgspec.msgpack.encode(batch),
                    headers={**bearer(s["ingest"]), "Content-Type": "application/msgpack"})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 6
    _takedown(client, s, "s-hash")
    _takedown(client, s, "s-jpeg")
    # JSON: the same image as base64.
    batch = _room("s-json", "a3", now) + [_frame("f3", "s-json", "a3", now, image=base64.b64encode(jpeg).decode())]
    r = client.post("/v1/events", json=batch, headers=bearer(s["ingest"]))
    assert r.status_code == 202 and r.json()["accepted"] == 3
    _takedown(client, s, "s-json")


def test_bad_images_are_rejected_by_index_naming_the_field(svc, clip):
    client, s = svc
    now = time.time()
    import struct
    import zlib

    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 3000, 3000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
            + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT")))
    batch = [_frame("b1", "s", "a", now, image=b"\xff\xd8\xff" + b"\0" * 64),  # JPEG magic, garbage after
             _frame("b2", "s", "a", now, image=bomb),  # 9 M pixels claimed in 60 bytes
             _frame("b3", "s", "a", now, image=encode_image(clip, "png"), width=32, height=32),
             _frame("ok", "s", "a", now, pdq="0f" * 32)]
    r = client.post("/v1/events", content=msgspec.msgpack.encode(batch),
                    headers={**bearer(s["ingest"]), "Content-Type": "application/msgpack"})
    assert r.status_code == 202
    rej = r.json()["rejected"]
    assert [(e["index"], e["field"]) for e in rej] == [(0, "image"), (1, "image"), (2, "width")]
    assert "pixels" in rej[1]["reason"]
    dead = client.get("/v1/dead-letters", headers=bearer(s["operate"])).json()["items"]
    assert any('"frame_sampled"' in d["raw"] for d in dead)  # kept readable, not as msgpack bytes


def test_other_content_types_and_broken_msgpack_are_refused(svc):
    client, s = svc
    r = client.post("/v1/events", content=b"[]", headers={**bearer(s["ingest"]), "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_media_type"
    r = client.post("/v1/events", content=b"\xc1\xc1", headers={**bearer(s["ingest"]),
                                                               "Content-Type": "application/msgpack"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_body"
    # an array of things that are not event maps: each rejected, nothing crashes
    r = client.post("/v1/events", content=msgspec.msgpack.encode([1, "x", {"type": 3}]),
                    headers={**bearer(s["ingest"]), "Content-Type": "application/msgpack"})
    assert r.status_code == 422 and len(r.json()["error"]["rejected"]) == 3


def test_compact_frames_through_jetstream_and_workers(clip):
    """msgpack batch -> JetStream (msgpack messages) -> workers: edge hash and JPEG taken down, a bad image survived."""
    from service_helpers import nats_deployment

    with nats_deployment() as (client, s, _, _):
        (h,), (q,) = hash_frames(clip[None])
        r = client.post("/v1/banks/confirmed/hashes", json={"hashes": [to_hex(h)]}, headers=bearer(s["operate"]))
        assert r.status_code == 200
        now = time.time()
        jpeg = encode_image(clip, "jpeg")
        batch = _room("n-hash", "na1", now) + _room("n-jpeg", "na2", now)
        batch += [_frame("nf0", "n-jpeg", "na2", now, image=jpeg[: len(jpeg) // 2]),  # header fine, body cut
                  _frame("nf1", "n-hash", "na1", now, pdq=to_hex(h), pdq_quality=int(q)),
                  _frame("nf2", "n-jpeg", "na2", now + 1, image=jpeg)]
        r = client.post("/v1/events", content=msgspec.msgpack.encode(batch),
                        headers={**bearer(s["ingest"]), "Content-Type": "application/msgpack"})
        assert r.status_code == 202 and r.json()["accepted"] == 7, r.text
        _takedown(client, s, "n-hash")
        _takedown(client, s, "n-jpeg")
