"""The event log at scale: NATS JetStream, with subjects partitioned by account.

One stream per deployment (``FW_<run>``) holds:

- ``fw.<run>.events.<p>``: a partition's event batches, many events per message (msgpack, so frames'
  pixels, images and hashes travel as bytes; a JSON array is read too). Besides the
  platform's events, the coordinator's notices and bank edits for that partition land here too.
- ``fw.<run>.sketch.<p>``: the partition's sketches for the coordinator (msgpack; hashes and keys).
- ``fw.<run>.dead``: malformed input, with the reason.

Which partition an event belongs to is :class:`~floodwall.coordination.partition.Partitioner`'s call.
Messages that may be sent twice (a worker or the coordinator redoing work after a crash) carry a
``Nats-Msg-Id``, so JetStream keeps one; their events' ids are stable too, so an engine drops a
repeat that comes later than JetStream's duplicate window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from floodwall.coordination.partition import (
    Partitioner,
    case_id,
    parse_case_id,
    partition_of,
)
from floodwall.events import DeadLetter, Event, LogEvent, Sketch

__all__ = ["JetStreamLog", "Partitioner", "case_id", "decode_batch", "encode_batches", "ensure_stream",
           "events_subject", "parse_case_id", "partition_of", "sketch_subject", "stream_name"]

MAX_MESSAGE = 800_000  # bytes per JetStream message; NATS refuses payloads over max_payload (1 MiB default)
_RUN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

_batch_decoder = msgspec.json.Decoder(list[LogEvent])
_batch_msgpack_decoder = msgspec.msgpack.Decoder(list[LogEvent])
_event_msgpack_encoder = msgspec.msgpack.Encoder()
_sketch_encoder = msgspec.msgpack.Encoder()
_sketch_decoder = msgspec.msgpack.Decoder(Sketch)


def check_run(run: str) -> str:
    """A run name usable in stream and subject names, or ValueError."""
    if not _RUN.match(run):
        raise ValueError(f"run name {run!r} must be 1-40 of A-Z a-z 0-9 _ -")
    return run


def stream_name(run: str) -> str:
    """The JetStream stream of a run."""
    return f"FW_{check_run(run)}"


def events_subject(run: str, partition: int | str) -> str:
    """Subject of one partition's event batches ("*" for all)."""
    return f"fw.{run}.events.{partition}"


def dead_subject(run: str) -> str:
    """Subject of malformed input."""
    return f"fw.{run}.dead"


def sketch_subject(run: str, partition: int | str) -> str:
    """Subject of one partition's sketches for the coordinator ("*" for all)."""
    return f"fw.{run}.sketch.{partition}"


def encode_sketch(sk: Sketch) -> bytes:
    """Bytes of one sketch (msgpack: hashes travel as raw bytes)."""
    return _sketch_encoder.encode(sk)


def decode_sketch(payload: bytes) -> Sketch:
    """The sketch in one message."""
    return _sketch_decoder.decode(payload)


def encode_batches(events: Sequence[Event], limit: int = MAX_MESSAGE) -> list[bytes]:
    """msgpack arrays of events, each under ``limit`` bytes (one message each)."""
    out: list[bytes] = []
    parts: list[bytes] = []
    size = 5  # the array header
    for ev in events:
        b = _event_msgpack_encoder.encode(ev)
        if parts and size + len(b) > limit:
            out.append(_msgpack_array(parts))
            parts, size = [], 5
        parts.append(b)
        size += len(b)
    if parts:
        out.append(_msgpack_array(parts))
    return out


def _msgpack_array(parts: list[bytes]) -> bytes:
    """A msgpack array of already-encoded items (array 32 header: length big-endian)."""
    return b"\xdd" + len(parts).to_bytes(4, "big") + b"".join(parts)


def decode_batch(payload: bytes) -> list[LogEvent]:
    """The events of one message (validated again: the log may hold anything); msgpack or a JSON array."""
    # A JSON batch starts with "[" (possibly after whitespace); a msgpack array never does.
    if payload[:1] in (b"[", b" ", b"\n", b"\t", b"\r"):
        return _batch_decoder.decode(payload)
    return _batch_msgpack_decoder.decode(payload)


class JetStreamLog:
    """Publishes event batches and dead letters to a run's JetStream stream (asyncio)."""

    def __init__(self, url: str, run: str, partitions: int) -> None:
        self.url = url
        self.run = check_run(run)
        self.stream = stream_name(run)
        self.partitioner = Partitioner(partitions)
        self.nc = None
        self.js = None

    async def connect(self) -> None:
        """Connect and make sure the stream exists."""
        import nats

        self.nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=-1)
        self.js = self.nc.jetstream()
        await ensure_stream(self.js, self.run)

    @property
    def connected(self) -> bool:
        """True while the NATS connection is up."""
        return self.nc is not None and self.nc.is_connected

    async def publish(self, events: Sequence[Event], headers: dict[str, str] | None = None) -> dict[int, int]:
        """Publish events by partition; returns each partition's last stream sequence once all are acked."""
        import asyncio

        groups = sorted(self.partitioner.split(events).items())
        seqs = await asyncio.gather(*(self.publish_to(p, evs, headers=headers) for p, evs in groups))
        return {p: seq for (p, _), seq in zip(groups, seqs)}

    async def publish_to(self, partition: int, events: Sequence[LogEvent], msg_id: str | None = None,
                         headers: dict[str, str] | None = None) -> int:
        """Publish events to one partition as they are (gates, bank edits); the last sequence.

        ``msg_id`` names the message for JetStream's duplicate window (a large batch becomes
        several messages, named ``<msg_id>.<k>``).
        """
        import asyncio

        payloads = encode_batches(events)
        acks = await asyncio.gather(*(
            self.js.publish(events_subject(self.run, partition), payload, stream=self.stream,
                            headers={**(headers or {}), **({"Nats-Msg-Id": f"{msg_id}.{k}"} if msg_id else {})} or None)
            for k, payload in enumerate(payloads)))
        return max((a.seq for a in acks), default=0)

    async def broadcast(self, events: Sequence[LogEvent]) -> dict[int, int]:
        """Publish the same events to every partition (a bank edit); each partition's last sequence."""
        import asyncio

        n = self.partitioner.partitions
        seqs = await asyncio.gather(*(self.publish_to(p, events) for p in range(n)))
        return dict(enumerate(seqs))

    async def publish_dead(self, items: Sequence[DeadLetter]) -> None:
        """Malformed input to the dead-letter subject, one message each, with the reason."""
        import asyncio

        await asyncio.gather(*(self.js.publish(dead_subject(self.run), msgspec.json.encode(d), stream=self.stream)
                               for d in items))

    async def close(self) -> None:
        """Flush and close."""
        if self.nc is not None:
            await self.nc.drain()


async def ensure_stream(js, run: str) -> None:
    """Create the run's stream if it does not exist (file storage: durable across server restarts)."""
    from nats.js.api import StorageType, StreamConfig
    from nats.js.errors import BadRequestError, NotFoundError

    name = stream_name(run)
    subjects = [events_subject(run, "*"), sketch_subject(run, "*"), dead_subject(run)]
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(StreamConfig(name=name, subjects=subjects, storage=StorageType.FILE,
                                             max_msg_size=MAX_MESSAGE + 100_000))
            return
        except BadRequestError:  # another process made it first
            info = await js.stream_info(name)
    if set(subjects) - set(info.config.subjects or ()):  # made by an older version: add the new subjects
        import dataclasses

        await js.update_stream(dataclasses.replace(info.config, subjects=subjects))
