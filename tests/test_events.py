"""Event validation: bad input gets a clear error naming the field and lands in the dead-letter list."""

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from floodwall.adapters.eventlog import read_jsonl, write_jsonl
from floodwall.events import (
    DeadLetters,
    EventError,
    FrameSampled,
    Login,
    ReportFiled,
    decode_event,
    encode_event,
)

GOOD_LOGIN = {"type": "login", "id": "e1", "ts": 1766412000.0, "account": "a1", "device": "d1", "ip": "1.2.3.4"}


def bad(**changes):
    d = dict(GOOD_LOGIN)
    for k, v in changes.items():
        if v is None:
            d.pop(k)
        else:
            d[k] = v
    return json.dumps(d)


@pytest.mark.parametrize(
    "raw, field, words",
    [
        (bad(ts="late"), "ts", "Expected `float`, got `str`"),
        (bad(ts=-5), "ts", "non-negative"),
        (bad(account=None), "account", "missing required field"),
        (bad(id=""), "id", "must not be empty"),
        (bad(credential_change="pin"), "credential_change", "Invalid enum value 'pin'"),
        (bad(type="teleport"), "type", "unknown event type"),
        (bad(v=99), "v", "not a supported schema version"),
        ('{"type": "viewer_count", "id": "x", "ts": 1, "stream": "s", "viewers": -3}', "viewers", ">= 0"),
        ("not json", "", "not valid JSON"),
    ],
)
def test_bad_event_names_the_field(raw, field, words):
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert exc.value.field == field
    assert words in exc.value.reason


def test_frame_pixels_must_match_dimensions():
    raw = msgspec.json.encode(
        {"type": "frame_sampled", "id": "f", "ts": 1.0, "stream": "s", "account": "a", "width": 8, "height": 8,
         "pixels": b"\x00" * 100}
    )
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert exc.value.field == "pixels"
    assert "width*height*3 = 192" in exc.value.reason


def test_dead_letters_keep_every_bad_line(tmp_path):
    path = tmp_path / "events.jsonl"
    good = [Login(id=f"e{i}", ts=float(i), account="a", device="d", ip="1.1.1.1") for i in range(3)]
    lines = [encode_event(good[0]).decode(), bad(ts="x"), encode_event(good[1]).decode(), "{", "",
             encode_event(good[2]).decode()]
    path.write_text("\n".join(lines) + "\n")
    dead = DeadLetters()
    events = list(read_jsonl(path, dead))
    assert [e.id for e in events] == ["e0", "e1", "e2"]
    assert [(d.line, d.field) for d in dead] == [(2, "ts"), (4, "")]
    assert "Expected `float`" in dead.items[0].reason


@given(
    st.text(min_size=1, max_size=20), st.floats(min_value=0, max_value=4e9), st.text(max_size=20),
    st.text(max_size=20),
)
def test_round_trip(eid, ts, stream, reporter):
    ev = ReportFiled(id=eid, ts=ts, stream=stream, reporter=reporter)
    assert decode_event(encode_event(ev)) == ev


def test_frame_round_trip_keeps_pixels(tmp_path):
    ev = FrameSampled(id="f1", ts=5.0, stream="s", account="a", width=8, height=8, pixels=bytes(range(192)))
    path = tmp_path / "f.jsonl"
    write_jsonl(path, [ev])
    dead = DeadLetters()
    assert list(read_jsonl(path, dead)) == [ev]
    assert len(dead) == 0
