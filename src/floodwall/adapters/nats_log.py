"""The event log at scale: NATS JetStream, with subjects partitioned by account.

One stream per deployment (``FW_<run>``) holds ``fw.<run>.events.<p>`` (a partition's event
batches, many events per message) and ``fw.<run>.dead`` (malformed input, with the reason).
A partition is ``crc32(account) mod N``: stable across processes and restarts. Stream events
whose only key is the stream (viewer counts, reports, chat lines, whose ``account`` is the
poster) follow the stream's owner, learned from the events that name it; a stream never seen
falls back to the hash of its id. Review decisions name their partition in the case id
(``p<i>:<item>``).
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from collections.abc import Sequence

import msgspec

from floodwall.events import (
    AccountRegistered,
    ApiCall,
    ChatPosted,
    DeadLetter,
    Event,
    FrameSampled,
    Login,
    ProfileChanged,
    ReportFiled,
    ReviewDecided,
    StreamEnded,
    StreamStarted,
    ViewerCount,
    encode_event,
)

MAX_MESSAGE = 800_000  # bytes per JetStream message; NATS refuses payloads over max_payload (1 MiB default)
_RUN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_CASE = re.compile(r"^p(\d+):(.+)$")

_batch_decoder = msgspec.json.Decoder(list[Event])


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


def partition_of(key: str, partitions: int) -> int:
    """Stable partition of an account key."""
    return zlib.crc32(key.encode()) % partitions


def case_id(partition: int, item: str) -> str:
    """The service-wide id of a worker's review item."""
    return f"p{partition}:{item}"


def parse_case_id(cid: str) -> tuple[int, str] | None:
    """(partition, item) of a service-wide case id, or None."""
    m = _CASE.match(cid)
    return (int(m.group(1)), m.group(2)) if m else None


class Partitioner:
    """Maps each event to its account's partition (see the module docstring)."""

    def __init__(self, partitions: int, *, remember: int = 500_000) -> None:
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.partitions = partitions
        self.remember = remember
        self._owner: OrderedDict[str, str] = OrderedDict()  # stream -> account, bounded (oldest forgotten)

    def _learn(self, stream: str, account: str) -> None:
        if stream not in self._owner:
            self._owner[stream] = account
            if len(self._owner) > self.remember:
                self._owner.popitem(last=False)

    def partition(self, ev: Event) -> int:
        """The partition an event belongs to."""
        t = type(ev)
        if t is StreamStarted or t is StreamEnded or t is FrameSampled:
            self._learn(ev.stream, ev.account)  # type: ignore[union-attr]
            key = ev.account  # type: ignore[union-attr]
        elif t is AccountRegistered or t is Login or t is ProfileChanged:
            key = ev.account  # type: ignore[union-attr]
        elif t is ChatPosted or t is ViewerCount or t is ReportFiled:
            key = self._owner.get(ev.stream, ev.stream)  # type: ignore[union-attr]
        elif t is ApiCall:
            key = ev.account or ev.principal  # type: ignore[union-attr]
        elif t is ReviewDecided or hasattr(ev, "item"):
            parsed = parse_case_id(ev.item)  # type: ignore[union-attr]
            if parsed is None:
                raise ValueError(f"review item {ev.item!r} is not a case id of the form p<partition>:<item>")  # type: ignore[union-attr]
            if parsed[0] >= self.partitions:
                raise ValueError(f"case {ev.item!r} names partition {parsed[0]} of {self.partitions}")  # type: ignore[union-attr]
            return parsed[0]
        else:
            key = ev.id
        return partition_of(key, self.partitions)

    def split(self, events: Sequence[Event]) -> dict[int, list[Event]]:
        """Events grouped by partition, each group in arrival order."""
        out: dict[int, list[Event]] = {}
        for ev in events:
            p = self.partition(ev)
            if hasattr(ev, "item") and type(ev) is not FrameSampled:
                parsed = parse_case_id(ev.item)  # type: ignore[union-attr]
                if parsed is not None:  # the worker knows its items by their local id
                    ev = msgspec.structs.replace(ev, item=parsed[1])
            out.setdefault(p, []).append(ev)
        return out


def encode_batches(events: Sequence[Event], limit: int = MAX_MESSAGE) -> list[bytes]:
    """JSON arrays of events, each under ``limit`` bytes (one message each)."""
    out: list[bytes] = []
    parts: list[bytes] = []
    size = 2
    for ev in events:
        b = encode_event(ev)
        if parts and size + len(b) + 1 > limit:
            out.append(b"[" + b",".join(parts) + b"]")
            parts, size = [], 2
        parts.append(b)
        size += len(b) + 1
    if parts:
        out.append(b"[" + b",".join(parts) + b"]")
    return out


def decode_batch(payload: bytes) -> list[Event]:
    """The events of one message (validated again: the log may hold anything)."""
    return _batch_decoder.decode(payload)


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

        groups = self.partitioner.split(events)
        tasks, parts = [], []
        for p, evs in sorted(groups.items()):
            for payload in encode_batches(evs):
                tasks.append(self.js.publish(events_subject(self.run, p), payload, stream=self.stream,
                                             headers=headers))
                parts.append(p)
        acks = await asyncio.gather(*tasks)
        seqs: dict[int, int] = {}
        for p, ack in zip(parts, acks):
            seqs[p] = max(seqs.get(p, 0), ack.seq)
        return seqs

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
    from nats.js.errors import NotFoundError

    name = stream_name(run)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(StreamConfig(name=name, subjects=[events_subject(run, "*"), dead_subject(run)],
                                         storage=StorageType.FILE, max_msg_size=MAX_MESSAGE + 100_000))
