"""HMA's API under /hma: an HMA client against a served app, HMA's codes and shapes, the engine's banks."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import threading
import time
from pathlib import Path

import httpx
import pytest
from hma_client import HmaClient, HmaHttpError
from PIL import Image
from service_helpers import bearer, served, wait_for

from floodwall.adapters.keys import KeyStore
from floodwall.service.app import create_app
from floodwall.service.serve import build_backend

DATA = Path(__file__).parent / "data" / "pdq"
ORIG = DATA / "bridge-mods__aaa-orig.jpg"
ORIG_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"  # HMA's test_api_banks expects this
UNRELATED = DATA / "misc-images__c.png"
OTHER = DATA / "reg-test-input__labelme-subset__q0122.jpg"
DAY = 86_400.0


@contextlib.contextmanager
def floodwall(db: Path, **app_kw):
    """``floodwall serve`` on embedded defaults under uvicorn; yields (base URL, secrets by scope, backend)."""
    backend = build_backend(store_url=f"sqlite:///{db}", tick=0.05)
    keys = KeyStore(backend.store.engine)
    secrets = {s: keys.create(f"{s}-key", [s])[0] for s in ("ingest", "gate", "review", "operate", "admin")}
    with served(create_app(backend, keys, **app_kw)) as url:
        yield url, secrets, backend


@pytest.fixture
def svc(tmp_path):
    with floodwall(tmp_path / "fw.db") as s:
        yield s


def test_an_hma_client_runs_unchanged_against_floodwall(svc, tmp_path):
    url, s, _ = svc
    hma = HmaClient(url + "/hma", s["admin"])
    assert hma.status() == "I-AM-ALIVE"
    assert {"/c/banks", "/m/lookup", "/h/hash", "/c/bank/<bank_name>/content/<content_id>"} <= set(hma.site_map())
    assert hma.banks() == []
    assert hma.create_bank("TEST_BANK") == {"name": "TEST_BANK", "matching_enabled_ratio": 1.0}
    assert hma.bank("TEST_BANK") == {"name": "TEST_BANK", "matching_enabled_ratio": 1.0}
    assert hma.banks() == [{"name": "TEST_BANK", "matching_enabled_ratio": 1.0}]

    added = hma.add_photo("TEST_BANK", ORIG)
    assert added == {"id": added["id"], "signals": {"pdq": ORIG_PDQ}}
    other_pdq = hma.hash_photo(OTHER)["pdq"]
    by_hash = hma.add_hash("TEST_BANK", other_pdq)
    assert by_hash["signals"] == {"pdq": other_pdq} and by_hash["id"] != added["id"]
    assert hma.hash_photo(ORIG) == {"pdq": ORIG_PDQ}

    got = hma.content("TEST_BANK", added["id"], include_signals=True)
    assert got["id"] == added["id"] and got["bank"]["name"] == "TEST_BANK" and got["signals"] == {"pdq": ORIG_PDQ}
    assert "signals" not in hma.content("TEST_BANK", added["id"])

    # Look up by hash and by photo; distances are strings, as in HMA.
    assert hma.lookup_hash(ORIG_PDQ) == {"TEST_BANK": [{"bank_content_id": added["id"], "distance": "0"}]}
    assert hma.lookup_hash(other_pdq) == {"TEST_BANK": [{"bank_content_id": by_hash["id"], "distance": "0"}]}
    assert hma.lookup_photo(ORIG) == {"pdq": {"TEST_BANK": [{"bank_content_id": added["id"], "distance": "0"}]}}
    assert hma.raw_lookup(ORIG_PDQ) == {"matches": [added["id"]]}
    assert hma.raw_lookup(ORIG_PDQ, include_distance=True) == {
        "matches": [{"bank_content_id": added["id"], "distance": "0"}]}
    # Blurred and shrunk copies are found; an unrelated photo is not.
    for copy in ("bridge-mods__blur-a-lot.jpg", "bridge-mods__shrink-a-lot.jpg", "bridge-mods__square-128x128.jpg"):
        hits = hma.lookup_photo(DATA / copy)["pdq"]["TEST_BANK"]
        assert [h["bank_content_id"] for h in hits] == [added["id"]], copy
        assert 0 < int(hits[0]["distance"]) <= 31, copy
    assert hma.lookup_photo(UNRELATED) == {"pdq": {}}
    assert hma.compare(ORIG_PDQ, other_pdq)["pdq"][0] is False
    assert hma.compare(ORIG_PDQ, ORIG_PDQ) == {"pdq": [True, {"distance": 0}]}

    assert hma.remove_content("TEST_BANK", added["id"]) == {"deleted": 1}
    assert hma.remove_content("TEST_BANK", added["id"]) == {"deleted": 0}
    assert hma.lookup_photo(ORIG) == {"pdq": {}}
    with pytest.raises(HmaHttpError) as e:
        hma.content("TEST_BANK", added["id"])
    assert e.value.status == 404
    assert hma.delete_bank("TEST_BANK") == {"message": "Done"}
    assert hma.delete_bank("TEST_BANK") == {"message": "Done"}  # HMA: deleting a missing bank succeeds
    assert hma.banks() == []
    assert hma.lookup_hash(other_pdq) == {}


def test_hma_status_codes_and_messages_for_bad_input(svc):
    url, s, _ = svc
    h = bearer(s["admin"])
    c = httpx.Client(base_url=url + "/hma", headers=h, timeout=60)
    for bad in ("01_TEST_BANK", "my_test_bank", "BANK-1", "", "A" * 65, 7):
        r = c.post("/c/banks", json={"name": bad})
        assert r.status_code == 400 and "CAPS_AND_UNDERSCORE" in r.json()["message"], bad
    assert c.post("/c/banks", json={}).json() == {"message": "name is required"}
    assert c.post("/c/banks", content=b"[1]", headers={"content-type": "application/json"}).status_code == 400
    assert c.post("/c/banks", json={"name": "B", "enabled_ratio": 2}).status_code == 400
    assert c.post("/c/banks", json={"name": "B", "enabled_ratio": "x"}).status_code == 400
    assert c.post("/c/banks", json={"name": "B"}).status_code == 201
    assert c.post("/c/banks", json={"name": "B"}).status_code == 403  # HMA: "Bank already exists"
    r = c.get("/c/bank/NOPE")
    assert r.status_code == 404 and r.json() == {"message": "bank 'NOPE' not found"}
    assert r.headers["content-type"].startswith("application/json")
    assert c.post("/c/bank/NOPE/signal", json={"pdq": ORIG_PDQ}).status_code == 404
    assert c.post("/c/bank/B/signal", json={}).json() == {"message": "No signals given"}
    assert c.post("/c/bank/B/signal", json={"md5": "0" * 32}).json() == {"message": "No such signal type md5"}
    assert c.post("/c/bank/B/signal", json={"pdq": "xyz"}).status_code == 400
    assert c.post("/c/bank/B/signal", json={"pdq": "g" * 64}).status_code == 400
    assert c.get("/c/bank/B/content/abc").status_code == 404
    assert c.get("/c/bank/B/content/99").status_code == 404
    # Uploads: the field names the content type; photos only; not a photo; no upload at all.
    assert c.post("/c/bank/B/content", files={"video": ("v.mp4", b"x")}).status_code == 400
    r = c.post("/h/hash", files={"photo": ("p.jpg", b"not an image")})
    assert r.status_code == 400 and "not a readable photo" in r.json()["message"]
    assert c.post("/h/hash").json() == {"message": "Neither `url` nor multipart file upload was received"}
    two = [("photo", ("a.jpg", ORIG.read_bytes())), ("photo", ("b.jpg", ORIG.read_bytes()))]
    assert c.post("/h/hash", files=two).json() == {"message": "Only one file allowed per request"}
    assert c.post("/c/bank/B/content", files={"photo": ("a.jpg", ORIG.read_bytes())},
                  data={"metadata": '{"bad_key": 1}'}).status_code == 400
    ok = c.post("/c/bank/B/content", files={"photo": ("a.jpg", ORIG.read_bytes())},
                data={"metadata": '{"content_id": "post-1", "json": {"why": "test"}}'})
    assert ok.status_code == 200
    assert c.get(f"/c/bank/B/content/{ok.json()['id']}").json()["metadata"]["content_id"] == "post-1"
    # Lookups: the signal type and the signal are checked.
    assert c.get("/m/lookup", params={"signal_type": "md5", "signal": ORIG_PDQ}).json() == {
        "message": "No such SignalType 'md5'"}
    assert c.get("/m/lookup", params={"signal_type": "pdq"}).status_code == 400
    assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": "abc"}).status_code == 400
    assert c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": ORIG_PDQ,
                                          "include_distance": "maybe"}).status_code == 400
    assert c.post("/m/compare", json={"pdq": [ORIG_PDQ]}).status_code == 400
    assert c.post("/m/compare", json={"pdq": ORIG_PDQ}).status_code == 400
    # Fetching URLs is off unless configured: a documented 403, and nothing is fetched.
    r = c.get("/h/hash", params={"url": "http://127.0.0.1:9/x.jpg"})
    assert r.status_code == 403 and "--hma-fetch-urls" in r.json()["message"]
    assert c.get("/h/hash").json() == {"message": "url is required"}
    assert c.get("/c/signal_type").json() == [{"name": "pdq", "enabled_ratio": 1.0}]
    assert c.get("/c/content_type").json() == [{"name": "photo", "enabled": True}]


def test_hma_routes_need_a_key_with_the_right_scope(svc):
    url, s, _ = svc
    base = url + "/hma"
    assert httpx.get(base + "/status").status_code == 200  # load balancers call it without a key
    assert httpx.get(base + "/c/banks").status_code == 401
    assert httpx.get(base + "/m/lookup", params={"signal_type": "pdq", "signal": ORIG_PDQ}).status_code == 401
    assert httpx.get(base + "/c/banks", headers=bearer(s["ingest"])).status_code == 403
    assert httpx.get(base + "/c/banks", headers=bearer(s["gate"])).status_code == 200
    # Lookups with gate; curation needs operate.
    assert httpx.post(base + "/c/banks", json={"name": "X"}, headers=bearer(s["gate"])).status_code == 403
    assert httpx.post(base + "/c/banks", json={"name": "X"}, headers=bearer(s["operate"])).status_code == 201
    assert httpx.post(base + "/c/bank/X/signal", json={"pdq": ORIG_PDQ}, headers=bearer(s["gate"])).status_code == 403
    assert httpx.delete(base + "/c/bank/X", headers=bearer(s["review"])).status_code == 403
    r = httpx.get(base + "/m/lookup", params={"signal_type": "pdq", "signal": ORIG_PDQ}, headers=bearer(s["gate"]))
    assert r.status_code == 200 and r.json() == {}
    audit = httpx.get(url + "/v1/audit", headers=bearer(s["admin"])).json()["items"]
    assert "hma.bank.create" in [a["action"] for a in audit]


def _variant(tmp_path: Path, name: str, fn) -> Path:
    with Image.open(ORIG) as im:
        out = fn(im.convert("RGB"))
    p = tmp_path / name
    out.save(p, quality=90)
    return p


def test_robust_true_finds_mirrored_and_cropped_copies_plain_pdq_misses(svc, tmp_path):
    url, s, _ = svc
    hma = HmaClient(url + "/hma", s["admin"])
    hma.create_bank("ROBUST")
    cid = hma.add_photo("ROBUST", ORIG, robust="true")["id"]
    mirrored = _variant(tmp_path, "mirror.jpg", lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    def crop(im):
        w, h = im.size
        return im.crop((int(0.07 * w), int(0.07 * h), w - int(0.03 * w), h - int(0.03 * h)))

    cropped = _variant(tmp_path, "crop.jpg", crop)
    padded = _variant(tmp_path, "pad.jpg", lambda im: _pad(im, 0.2))
    for copy in (mirrored, cropped, padded):
        assert hma.lookup_photo(copy) == {"pdq": {}}, copy.name  # plain PDQ, as HMA: missed
        hits = hma.lookup_photo(copy, robust="true")["pdq"]["ROBUST"]
        assert [x["bank_content_id"] for x in hits] == [cid], copy.name
    assert hma.lookup_photo(UNRELATED, robust="true") == {"pdq": {}}
    assert hma.lookup_photo(OTHER, robust="true") == {"pdq": {}}
    # The engine's bank holds the derived views too (so a robust policy catches crops in live rooms).
    banks = httpx.get(url + "/v1/banks", headers=bearer(s["admin"])).json()["items"]
    assert next(b for b in banks if b["name"] == "ROBUST")["size"] > 1
    # Removing the content takes every view out again.
    hma.remove_content("ROBUST", cid)
    banks = httpx.get(url + "/v1/banks", headers=bearer(s["admin"])).json()["items"]
    assert next(b for b in banks if b["name"] == "ROBUST")["size"] == 0


def _pad(im: Image.Image, frac: float) -> Image.Image:
    w, h = im.size
    out = Image.new("RGB", (int(w * (1 + frac)), int(h * (1 + frac))), (0, 0, 0))
    out.paste(im, ((out.size[0] - w) // 2, (out.size[1] - h) // 2))
    return out


def _frame_events(sid: str, aid: str, photo: Path, now: float) -> list[dict]:
    with Image.open(photo) as im:
        im = im.convert("RGB").resize((128, 80), Image.BILINEAR)
        px = im.tobytes()
    return [
        {"type": "account_registered", "id": f"reg-{aid}", "ts": now - 30 * DAY, "account": aid,
         "phone": "8613800000000", "device": f"dev-{aid}", "ip": "10.0.0.1"},
        {"type": "stream_started", "id": f"start-{sid}", "ts": now, "stream": sid, "account": aid,
         "device": f"dev-{aid}", "ip": "10.0.0.1", "title": "hello"},
        {"type": "frame_sampled", "id": f"fr-{sid}", "ts": now + 1, "stream": sid, "account": aid,
         "width": 128, "height": 80, "pixels": base64.b64encode(px).decode()},
    ]


def _actions(url: str, key: str, sid: str) -> list[str]:
    return [a["action"] for a in httpx.get(f"{url}/v1/decisions/{sid}", headers=bearer(key)).json()["actions"]]


def test_a_hash_added_through_hma_takes_down_the_next_room_that_shows_it(svc):
    url, s, _ = svc
    hma = HmaClient(url + "/hma", s["admin"])
    now = time.time()
    ingest = bearer(s["ingest"])
    # Before: a room showing the photo stays up (nothing banked yet).
    r = httpx.post(url + "/v1/events", json=_frame_events("before", "a1", ORIG, now), headers=ingest)
    assert r.status_code == 202
    wait_for(lambda: httpx.get(f"{url}/v1/decisions/before", headers=bearer(s["review"])).json()["verdicts"])
    time.sleep(0.5)
    assert "takedown" not in _actions(url, s["review"], "before")

    hma.create_bank("NCII")
    hma.add_hash("NCII", ORIG_PDQ)  # a hash from a partner, no photo
    r = httpx.post(url + "/v1/events", json=_frame_events("after", "a2", ORIG, now + 5), headers=ingest)
    assert r.status_code == 202
    wait_for(lambda: "takedown" in _actions(url, s["review"], "after"))
    verdicts = httpx.get(f"{url}/v1/decisions/after", headers=bearer(s["review"])).json()["verdicts"]
    assert any("bank-match" in v["rules"] for v in verdicts)
    # A room showing something else is left alone.
    assert httpx.post(url + "/v1/events", json=_frame_events("other", "a3", UNRELATED, now + 6),
                      headers=ingest).status_code == 202
    wait_for(lambda: httpx.get(f"{url}/v1/decisions/other", headers=bearer(s["review"])).json()["verdicts"])
    assert "takedown" not in _actions(url, s["review"], "other")


def test_hma_banks_survive_a_restart_and_reach_the_new_engine(tmp_path):
    db = tmp_path / "fw.db"
    with floodwall(db) as (url, s, _):
        hma = HmaClient(url + "/hma", s["admin"])
        hma.create_bank("KEEP", enabled_ratio=0.5)
        cid = hma.add_hash("KEEP", ORIG_PDQ)["id"]
    with floodwall(db) as (url, s2, backend):
        hma = HmaClient(url + "/hma", s2["admin"])
        assert hma.banks() == [{"name": "KEEP", "matching_enabled_ratio": 0.5}]
        assert hma.raw_lookup(ORIG_PDQ) == {"matches": [cid]}
        # The embedded engine started empty; the app put the bank's hashes back into it at start.
        assert ORIG_PDQ in backend.hub.engine.banks["KEEP"]


def test_rename_and_ratio_follow_hma_and_move_the_engine_bank(svc):
    url, s, backend = svc
    hma = HmaClient(url + "/hma", s["admin"])
    hma.create_bank("OLD")
    cid = hma.add_hash("OLD", ORIG_PDQ)["id"]
    with pytest.raises(HmaHttpError) as e:
        hma.update_bank("OLD", name="1_invalid_name")
    assert e.value.status == 400
    assert hma.update_bank("OLD", name="NEW")["name"] == "NEW"
    assert ORIG_PDQ in backend.hub.engine.banks["NEW"] and ORIG_PDQ not in backend.hub.engine.banks["OLD"]
    assert hma.update_bank("NEW", enabled=False)["matching_enabled_ratio"] == 0
    assert hma.lookup_hash(ORIG_PDQ) == {}  # disabled for lookups (HMA's coinflip against ratio 0)
    assert hma.lookup_hash(ORIG_PDQ, bypass_coinflip="true") == {"NEW": [{"bank_content_id": cid, "distance": "0"}]}
    assert hma.update_bank("NEW", enabled_ratio=0.5)["matching_enabled_ratio"] == 0.5
    assert hma.banks() == [{"name": "NEW", "matching_enabled_ratio": 0.5}]
    assert hma.raw_lookup(ORIG_PDQ) == {"matches": [cid]}  # raw lookups ignore ratios, as HMA's


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_hash_by_url_only_when_the_server_allows_it(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(DATA)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        photo_url = f"http://127.0.0.1:{httpd.server_port}/{ORIG.name}"
        with floodwall(tmp_path / "fw.db", hma_fetch_urls=True) as (url, s, _):
            c = httpx.Client(base_url=url + "/hma", headers=bearer(s["admin"]), timeout=60)
            assert c.get("/h/hash", params={"url": photo_url}).json() == {"pdq": ORIG_PDQ}
            r = c.get("/h/hash", params={"url": f"http://127.0.0.1:{httpd.server_port}/expected.csv"})
            assert r.status_code == 400 and "ContentType" in r.json()["message"]
            assert c.get("/h/hash", params={"url": "file:///etc/passwd"}).status_code == 400
            assert c.post("/c/banks", json={"name": "U"}).status_code == 201
            assert c.post("/c/bank/U/content", params={"url": photo_url}).json()["signals"] == {"pdq": ORIG_PDQ}
            assert c.get("/m/lookup", params={"url": photo_url}).json()["pdq"]["U"][0]["distance"] == "0"
    finally:
        httpd.shutdown()


def test_decoder_refuses_oversized_and_bomb_photos():
    from floodwall.service.hma_media import MAX_PIXELS, MediaError, decode_photo

    buf = io.BytesIO()
    Image.new("L", (8000, 6000)).save(buf, format="PNG")  # 48 Mpx of nothing compresses to a few KB
    assert 8000 * 6000 > MAX_PIXELS
    with pytest.raises(MediaError, match="pixels"):
        decode_photo(buf.getvalue())
    with pytest.raises(MediaError, match="empty"):
        decode_photo(b"")
    tiny = io.BytesIO()
    Image.new("RGB", (3, 3)).save(tiny, format="PNG")
    with pytest.raises(MediaError, match="at least 5"):
        decode_photo(tiny.getvalue())


def test_hma_under_the_nats_backend_reaches_every_worker():
    from service_helpers import nats_deployment

    with nats_deployment(coordinator=False) as (client, s, backend, workers):
        curate = HmaClient("http://testserver/hma", s["operate"], client=client)
        look = HmaClient("http://testserver/hma", s["gate"], client=client)
        assert curate.create_bank("NATS_BANK") == {"name": "NATS_BANK", "matching_enabled_ratio": 1.0}
        cid = curate.add_photo("NATS_BANK", ORIG)["id"]
        hits = look.lookup_photo(DATA / "bridge-mods__blur-a-lot.jpg")["pdq"]["NATS_BANK"]
        assert [h["bank_content_id"] for h in hits] == [cid]
        # Every partition's engine got the hash through the log.
        wait_for(lambda: all(_has(w, "NATS_BANK", ORIG_PDQ) for w in workers), timeout=20)
        assert curate.remove_content("NATS_BANK", cid) == {"deleted": 1}
        wait_for(lambda: not any(_has(w, "NATS_BANK", ORIG_PDQ) for w in workers), timeout=20)
        assert look.lookup_photo(ORIG) == {"pdq": {}}


def _has(worker, bank: str, h: str) -> bool:
    try:
        return h in worker.engine.banks[bank]
    except KeyError:
        return False
