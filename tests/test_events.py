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


# ---- bounds at the edge: every field fits the column it lands in (finding 3) --------------------

from floodwall.adapters import store as store_tables  # noqa: E402
from floodwall.events import EVENT_TYPES  # noqa: E402
from floodwall.persistence import tables as service_tables  # noqa: E402

STRING_FIELDS = [  # (event, field, the column it is stored in)
    ("report_filed", "id", store_tables.reports.c.id),
    ("report_filed", "stream", store_tables.reports.c.stream),
    ("report_filed", "reporter", store_tables.reports.c.reporter),
    ("report_filed", "reason", store_tables.reports.c.reason),
    ("stream_started", "stream", store_tables.verdicts.c.key),
    ("stream_started", "account", store_tables.actions.c.target),
    ("review_decided", "item", service_tables.cases.c.id),
    ("review_decided", "reviewer", service_tables.cases.c.reviewer),
]
BASE = {
    "report_filed": {"type": "report_filed", "id": "r1", "ts": 1.0, "stream": "s", "reporter": "u"},
    "stream_started": {"type": "stream_started", "id": "g1", "ts": 1.0, "stream": "s", "account": "a",
                       "device": "d", "ip": "10.0.0.1"},
    "review_decided": {"type": "review_decided", "id": "d1", "ts": 1.0, "item": "rv-1", "reviewer": "r",
                       "violating": True},
}


@pytest.mark.parametrize("etype, field, column", STRING_FIELDS)
@given(extra=st.integers(min_value=1, max_value=300))
def test_a_string_longer_than_its_column_is_refused_naming_the_field(etype, field, column, extra):
    limit = column.type.length
    ok = {**BASE[etype], field: "x" * limit}
    decode_event(json.dumps(ok))  # exactly the column's size fits
    with pytest.raises(EventError) as exc:
        decode_event(json.dumps({**BASE[etype], field: "x" * (limit + extra)}))
    assert exc.value.field == field
    assert f"length <= {limit}" in exc.value.reason


@given(text=st.text(min_size=4001, max_size=4100))
def test_free_text_is_capped(text):
    raw = json.dumps({"type": "chat_posted", "id": "c", "ts": 1.0, "stream": "s", "account": "a", "text": text})
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert exc.value.field == "text"


@given(n=st.integers(max_value=-1) | st.integers(min_value=10**12 + 1))
def test_counts_are_non_negative_and_bounded(n):
    raw = json.dumps({"type": "viewer_count", "id": "v", "ts": 1.0, "stream": "s", "viewers": n})
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert exc.value.field == "viewers"


@pytest.mark.parametrize("ts", ["1e999", "-1e999", "NaN"])
def test_non_finite_times_are_refused(ts):
    raw = '{"type": "report_filed", "id": "r", "ts": %s, "stream": "s", "reporter": "u"}' % ts
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert exc.value.field in ("ts", "")  # NaN is not JSON at all; 1e999 decodes to inf and fails the bound


def test_every_event_string_field_is_bounded():
    # A new field added without a bound would let an out-of-schema value reach the store again.
    for cls in EVENT_TYPES:
        (_, comps) = msgspec.json.schema_components([cls])
        props = comps[cls.__name__]["properties"]
        for name, spec in props.items():
            options = spec.get("anyOf", [spec])
            for opt in options:
                if opt.get("type") == "string" and "enum" not in opt and "const" not in opt and name != "pixels":
                    assert "maxLength" in opt, f"{cls.__name__}.{name} has no length bound"


def test_a_bank_edit_holds_only_pdq_hashes():
    from floodwall.adapters.nats_log import _batch_decoder

    good = {"type": "bank_changed", "id": "b", "ts": 1.0, "bank": "x", "op": "add", "hashes": ["a" * 64]}
    _batch_decoder.decode(json.dumps([good]))
    with pytest.raises(msgspec.ValidationError):
        _batch_decoder.decode(json.dumps([{**good, "hashes": ["zz" * 40]}]))
