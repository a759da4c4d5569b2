"""Event batches on the wire: JSON (base64 for bytes) or msgpack (raw bytes), for the API and JetStream.

A batch is an array of events in either encoding; each event is the same tagged map (``type``,
``id``, ``ts`` ...). msgpack carries a frame's ``pixels`` or ``image`` as binary, a third smaller than
base64 in JSON, and decodes faster. ``decode_checked`` also reads an image frame's header (format
and size limits, content/frames.py) so that the API refuses a bad image with the field named
instead of publishing it. ``decode_clean`` takes a whole batch in one decoder call when every event
passes; the route falls back to one call per event only to name the bad ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from floodwall.events import Event, EventError, FrameSampled, decode_event

if TYPE_CHECKING:
    from floodwall.content.frames import FrameError

__all__ = ["MSGPACK_TYPES", "Format", "body_format", "decode_checked", "decode_clean", "decode_msgpack_event",
           "encode_msgpack", "raw_text", "split_batch"]

Format = Literal["json", "msgpack"]
JSON_TYPES = ("application/json",)
MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")

_json_list = msgspec.json.Decoder(list[msgspec.Raw])
_msgpack_list = msgspec.msgpack.Decoder(list[msgspec.Raw])
_msgpack_event = msgspec.msgpack.Decoder(Event)
_json_batch = msgspec.json.Decoder(list[Event])
_msgpack_batch = msgspec.msgpack.Decoder(list[Event])
_msgpack_encoder = msgspec.msgpack.Encoder()


def body_format(content_type: str | None) -> Format | None:
    """The batch encoding a Content-Type names (none given: JSON, as before); None for any other type."""
    if not content_type:
        return "json"
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in JSON_TYPES:
        return "json"
    if mime in MSGPACK_TYPES:
        return "msgpack"
    return None


def split_batch(body: bytes, fmt: Format) -> list[msgspec.Raw]:
    """The undecoded events of a batch body; ValueError when the body is not an array in ``fmt``."""
    try:
        return (_json_list if fmt == "json" else _msgpack_list).decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"the body must be a {'JSON' if fmt == 'json' else 'msgpack'} array of events: {exc}") from None


def decode_clean(body: bytes, fmt: Format) -> list[Event] | None:
    """Every event of a batch body when all are valid (what decode_checked accepts); None when any is not.

    One decoder call for the whole array: the common, clean batch skips a call per event. On None the
    caller takes the batch apart (split_batch, decode_checked) to name each bad event by its index.
    """
    try:
        events = (_json_batch if fmt == "json" else _msgpack_batch).decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return None if any(_image_problem(ev) for ev in events) else events


def decode_msgpack_event(raw: bytes | msgspec.Raw) -> Event:
    """Decode and validate one msgpack event, raising EventError naming the bad field (as decode_event does)."""
    try:
        return _msgpack_event.decode(raw)
    except msgspec.ValidationError:
        # Rare path: re-decode as plain data and let the JSON decoder name the field the same way.
        try:
            as_json = msgspec.json.encode(msgspec.msgpack.decode(raw))
        except (msgspec.DecodeError, TypeError, ValueError, OverflowError) as exc:
            raise EventError("", f"not a msgpack event map: {exc}", bytes(raw)) from None
        decode_event(as_json)
        raise EventError("", "invalid event", bytes(raw)) from None  # not reached: the JSON decode fails too
    except msgspec.DecodeError as exc:
        raise EventError("", f"not valid msgpack: {exc}", bytes(raw)) from None


def decode_checked(raw: bytes | msgspec.Raw, fmt: Format) -> Event:
    """One event, validated, with an image frame's header checked too (EventError naming the field)."""
    ev = decode_event(raw) if fmt == "json" else decode_msgpack_event(raw)
    err = _image_problem(ev)
    if err is not None:
        raise EventError(err.field, err.reason, bytes(raw))
    return ev


def _image_problem(ev: Event) -> FrameError | None:
    """What is wrong with an image frame's header (a FrameError), None for any other event or a sound header."""
    if type(ev) is not FrameSampled or not ev.image:
        return None
    from floodwall.content.frames import FrameError, check_image

    try:
        check_image(ev.image, ev.width, ev.height)
    except FrameError as err:
        return err
    return None


def raw_text(raw: bytes | msgspec.Raw, fmt: Format) -> str:
    """A readable copy of a rejected event for the dead letters (msgpack shown as JSON where it can be)."""
    if fmt == "json":
        return bytes(raw).decode("utf-8", "replace")
    try:
        return msgspec.json.encode(msgspec.msgpack.decode(raw)).decode()
    except Exception:  # noqa: BLE001  (anything undecodable is kept as hex)
        return "msgpack:" + bytes(raw)[:5000].hex()


def encode_msgpack(events: Sequence[Event]) -> bytes:
    """A msgpack array of events (what a client posts with Content-Type application/msgpack)."""
    return _msgpack_encoder.encode(list(events))
