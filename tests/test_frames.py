"""Compact frames: images and edge PDQ hashes in events, decoded as hostile input, matched like pixels."""

from __future__ import annotations

import io

import msgspec
import numpy as np
import pytest
from PIL import Image
from test_engine import Harness

from floodwall.adapters.nats_log import decode_batch, encode_batches
from floodwall.content.frames import MAX_PIXELS, FrameError, check_image, decode_image, encode_image, frame_groups
from floodwall.content.pdq import hamming, hash_frames, to_hex
from floodwall.events import EventError, FrameSampled, decode_event, encode_event
from floodwall.sim.render import CLIP, MERCHANT, Renderer
from floodwall.adapters.wire import body_format, decode_checked, decode_msgpack_event, encode_msgpack, split_batch

HEX = "a" * 64


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return Renderer(64).render(np.array([CLIP]), np.array([3]), np.array([42.0]), [None])[0]


def _frame(**kw) -> FrameSampled:
    return FrameSampled(id=kw.pop("id", "f1"), ts=1.0, stream="s", account="a", **kw)


def _json(**fields) -> bytes:
    return msgspec.json.encode({"type": "frame_sampled", "id": "f1", "ts": 1.0, "stream": "s", "account": "a",
                                **fields})


# ---- the event's own checks (cheap, no decoding) -------------------------------------------------


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "pixels"),  # no form at all
    ({"pdq": "xyz"}, "pdq"),
    ({"pdq": "g" * 64}, "pdq"),
    ({"pdq": HEX, "pdq_quality": 101}, "pdq_quality"),
    ({"pdq": HEX, "pdq_quality": -1}, "pdq_quality"),
    ({"pdq_mirrored": HEX, "image": ""}, "pdq_mirrored"),
    ({"pdq": HEX, "pdq_mirrored": "1234"}, "pdq_mirrored"),
    ({"image": "R0lGODlhAQABAAAAACw="}, "image"),  # a GIF: not an accepted format
    ({"image": "AAAA"}, "image"),
    ({"image": "/9j/", "pixels": "AAAA", "width": 8, "height": 8}, "image"),  # two forms
    ({"pdq": HEX, "width": 4, "height": 4}, "width"),
])
def test_bad_frame_fields_are_named(fields, field) -> None:
    with pytest.raises(EventError) as err:
        decode_event(_json(**fields))
    assert err.value.field == field


def test_oversized_image_bytes_are_refused_before_decoding() -> None:
    from floodwall.events import MAX_IMAGE_BYTES

    with pytest.raises(ValueError, match="`image` has"):
        _frame(image=b"\xff\xd8\xff" + bytes(MAX_IMAGE_BYTES))


def test_compact_forms_round_trip_in_json_and_msgpack(clip) -> None:
    jpeg = encode_image(clip, "jpeg")
    frames = [_frame(id="i", image=jpeg), _frame(id="h", pdq=HEX, pdq_quality=80, pdq_mirrored="b" * 64),
              _frame(id="p", width=64, height=64, pixels=clip.tobytes())]
    for f in frames:
        assert decode_event(encode_event(f)) == f
    raws = split_batch(encode_msgpack(frames), "msgpack")
    assert [decode_checked(r, "msgpack") for r in raws] == frames
    # msgpack carries bytes as bytes: the JPEG frame is its image plus a few dozen bytes.
    assert len(encode_msgpack(frames[:1])) < len(jpeg) + 80 < len(encode_event(frames[0]))
    # JetStream messages: msgpack now, JSON arrays (older messages) still read.
    (payload,) = encode_batches(frames)
    assert decode_batch(payload) == frames
    assert decode_batch(b"[" + b",".join(encode_event(f) for f in frames) + b"]") == frames


def test_msgpack_event_errors_name_the_field() -> None:
    raw = msgspec.msgpack.encode({"type": "frame_sampled", "id": "x", "ts": 1.0, "stream": "s", "account": "a",
                                  "pdq": "nothex"})
    with pytest.raises(EventError) as err:
        decode_msgpack_event(raw)
    assert err.value.field == "pdq"
    with pytest.raises(EventError) as err:
        decode_msgpack_event(b"\xc1")  # a byte msgpack never uses
    assert "msgpack" in err.value.reason
    with pytest.raises(ValueError, match="msgpack array"):
        split_batch(b"\x81\xa1a\x01", "msgpack")  # a map, not an array


def test_content_types() -> None:
    assert body_format(None) == "json"
    assert body_format("application/json; charset=utf-8") == "json"
    assert body_format("application/msgpack") == "msgpack"
    assert body_format("application/x-msgpack") == "msgpack"
    assert body_format("text/plain") is None
    assert body_format("multipart/form-data; boundary=x") is None


# ---- decoding images is hostile input --------------------------------------------------------------


def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h (a decompression bomb's header), with no real pixel data."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_image_limits_are_checked_from_the_header(clip) -> None:
    with pytest.raises(FrameError, match="each side|pixels"):
        check_image(_png_header(60000, 60000))  # PIL's own bomb guard or ours: refused either way
    with pytest.raises(FrameError, match="each side"):
        check_image(_png_header(5000, 8))
    with pytest.raises(FrameError, match="pixels"):
        check_image(_png_header(4096, 4096))  # sides fine, pixel count over MAX_PIXELS
    assert 4096 * 4096 > MAX_PIXELS
    with pytest.raises(FrameError, match="each side"):
        check_image(_png_header(4, 4))
    with pytest.raises(FrameError) as err:
        check_image(encode_image(clip, "png"), width=32, height=32)
    assert err.value.field == "width"
    gif = io.BytesIO()
    Image.fromarray(clip).save(gif, format="GIF")
    with pytest.raises(FrameError, match="GIF"):
        check_image(gif.getvalue())
    assert check_image(encode_image(clip, "webp")) == ("webp", 64, 64)


def test_truncated_and_garbage_images_raise_frame_errors(clip) -> None:
    jpeg = encode_image(clip, "jpeg")
    for bad in (jpeg[: len(jpeg) // 2], jpeg[:20], b"\xff\xd8\xff" + bytes(300), b"\x89PNG\r\n\x1a\n" + b"\0" * 50):
        with pytest.raises(FrameError) as err:
            decode_image(bad)
        assert err.value.field == "image"


@pytest.mark.parametrize("form", ["jpeg", "png", "webp"])
def test_decoded_images_hash_like_their_pixels(clip, form) -> None:
    px = decode_image(encode_image(clip, form))
    assert px.shape == (64, 64, 3)
    h_raw, _ = hash_frames(clip[None])
    h_img, q = hash_frames(px[None])
    assert q[0] >= 50
    assert int(hamming(h_raw, h_img)[0]) <= 16  # lossy codecs move a few bits, far inside the 31 radius


def test_frame_groups_mix_forms_and_leave_out_bad_images(clip) -> None:
    (h,), (q,), (m,) = hash_frames(clip[None], with_mirror=True)
    jpeg = encode_image(clip, "jpeg")
    frames = [_frame(id="raw", width=64, height=64, pixels=clip.tobytes()), _frame(id="img", image=jpeg),
              _frame(id="bad", image=jpeg[:100]), _frame(id="edge", pdq=to_hex(h), pdq_mirrored=to_hex(m)),
              _frame(id="edge-noq", pdq=to_hex(h))]
    out = frame_groups(frames)
    assert [f.id for f in out.undecodable] == ["bad"]
    by_id = {f.id: (g, i) for g in out for i, f in enumerate(g.frames)}
    g, i = by_id["raw"]
    assert g.pixels is not None and (g.frames[by_id["img"][1]].id == "img")  # same size: one group
    ge, ie = by_id["edge"]
    assert ge.pixels is None
    assert to_hex(ge.hashes[ie]) == to_hex(h) and to_hex(ge.mirrored[ie]) == to_hex(m)
    assert ge.quality[ie] == 100  # no quality sent: counted as good
    _, inoq = by_id["edge-noq"]
    assert to_hex(ge.mirrored[inoq]) == to_hex(h)  # no mirror hash sent: its own hash stands in


# ---- the engine matches compact frames as it matches pixels ------------------------------------------------


def _engine_with_banked_clip(clip, policy="floodwall"):
    h = Harness(policy)
    hashes, _ = hash_frames(clip[None])
    h.engine.banks["confirmed"].add(hashes, source="test")
    from floodwall.events import StreamStarted

    h.send(*h.account("bad", fresh=True, avatar=False), *h.account("good", fresh=False))
    h.send(StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-bad", account="bad", device="d-bad", ip="5.6.7.8"),
           StreamStarted(id=h.eid(), ts=h.clock.now(), stream="s-good", account="good", device="d-good",
                         ip="1.2.3.4"))
    return h


def _fs(h, sid, aid, **kw) -> FrameSampled:
    return FrameSampled(id=h.eid(), ts=h.clock.now(), stream=sid, account=aid, **kw)


@pytest.mark.parametrize("policy", ["floodwall", "floodwall-robust"])
def test_hash_only_frames_are_matched_against_the_banks(clip, policy) -> None:
    h = _engine_with_banked_clip(clip, policy)
    honest = Renderer(64).render(np.array([MERCHANT]), np.array([99]), np.array([42.0]), [None])[0]
    (hb,), (qb,) = hash_frames(clip[None])
    (hg,), (qg,) = hash_frames(honest[None])
    h.send(_fs(h, "s-bad", "bad", pdq=to_hex(hb), pdq_quality=int(qb)),
           _fs(h, "s-good", "good", pdq=to_hex(hg), pdq_quality=int(qg)))
    assert h.actions("takedown") == {"s-bad"}
    assert h.engine.streams["s-bad"].bank_match


def test_edge_mirror_hash_catches_a_mirrored_copy(clip) -> None:
    h = _engine_with_banked_clip(clip)
    flipped = np.ascontiguousarray(clip[:, ::-1])
    (hf,), (qf,), (mf,) = hash_frames(flipped[None], with_mirror=True)
    h.send(_fs(h, "s-bad", "bad", pdq=to_hex(hf), pdq_quality=int(qf)))
    assert not h.engine.streams["s-bad"].bank_match  # the flipped copy's own hash is far from the bank's
    h.send(_fs(h, "s-bad", "bad", pdq=to_hex(hf), pdq_quality=int(qf), pdq_mirrored=to_hex(mf)))
    assert h.engine.streams["s-bad"].bank_match


def test_low_quality_edge_hashes_do_not_match(clip) -> None:
    h = _engine_with_banked_clip(clip)
    (hb,), _ = hash_frames(clip[None])
    h.send(_fs(h, "s-bad", "bad", pdq=to_hex(hb), pdq_quality=40))
    assert not h.engine.streams["s-bad"].bank_match


@pytest.mark.parametrize("form", ["jpeg", "webp"])
def test_image_frames_are_matched_and_a_bad_image_never_stops_the_engine(clip, form) -> None:
    h = _engine_with_banked_clip(clip, "floodwall-robust")
    img = encode_image(clip, form)
    h.send(_fs(h, "s-good", "good", image=img[: len(img) // 3]))  # passes the event's checks, fails to decode
    assert h.engine.frames_undecodable == 1
    h.send(_fs(h, "s-bad", "bad", image=img))
    assert h.actions("takedown") == {"s-bad"}
    assert h.engine.frames_undecodable == 1


def test_reviewer_sees_an_image_frame_and_a_hash_only_frame_has_no_picture(clip) -> None:
    from floodwall.service.console import frame_png

    h = _engine_with_banked_clip(clip)
    h.send(_fs(h, "s-good", "good", image=encode_image(clip, "webp")))
    png = frame_png(h.engine, "s-good")
    assert Image.open(io.BytesIO(png)).size == (128, 128)
    (hb,), _ = hash_frames(clip[None])
    h.send(_fs(h, "s-good", "good", pdq=to_hex(hb)))
    with pytest.raises(KeyError):
        frame_png(h.engine, "s-good")


# ---- a clean batch decoded in one call ---------------------------------------------------------------


def test_a_clean_batch_decodes_in_one_call_as_event_by_event(clip) -> None:
    """decode_clean gives exactly what split_batch + decode_checked give when every event passes, in both
    encodings, and None when any one fails (a bad field, a broken image header, a non-array body)."""
    import random

    from floodwall.adapters.wire import decode_clean
    from floodwall.content.frames import encode_image

    rng = random.Random(3)
    jpeg = encode_image(clip, "jpeg")
    forms = [dict(pdq=HEX), dict(width=64, height=64, pixels=clip.tobytes()), dict(image=jpeg)]
    bad = [_json(pdq="xyz"), _json(image=_png_header(100_000, 100_000)), _json(image=b"not an image"),
           b'{"type": "nope", "id": "x", "ts": 1}']
    for trial in range(40):
        frames = [_frame(id=f"f{trial}-{k}", **rng.choice(forms)) for k in range(rng.randint(0, 6))]
        for fmt, body in (("json", b"[" + b",".join(encode_event(f) for f in frames) + b"]"),
                          ("msgpack", encode_msgpack(frames))):
            assert decode_clean(body, fmt) == [decode_checked(r, fmt) for r in split_batch(body, fmt)] == frames
        # One bad event anywhere: no clean batch (the route then names it by index).
        raws = [encode_event(f) for f in frames]
        raws.insert(rng.randint(0, len(raws)), rng.choice(bad))
        assert decode_clean(b"[" + b",".join(raws) + b"]", "json") is None
    assert decode_clean(b'{"type": "frame_sampled"}', "json") is None  # not an array
    assert decode_clean(b"\xc1", "msgpack") is None
