"""What a worker and the coordinator share: an ordered JetStream consumer with an in-order writer.

The subject is read with an ordered consumer, strictly in stream order from the start (flow
controlled; nats-py recreates it from the next expected sequence on any gap), so the consumer's
state is a function of what it read. No JetStream acks: the store's committed offset is the
acknowledgement. (A durable pull consumer redelivers an unacked message after ``ack_wait``, out of
order, which would break that rule.)

Messages are taken in groups (what has arrived, up to ``fetch``); a subclass turns a group into one
item to commit (``_group``). Items are committed by ``_commit`` in a writer task, in order, while the
next groups are read; items that queued up meanwhile are committed together. The loop waits only
when ``WRITE_AHEAD`` items are not yet committed, and a failed commit stops the consumer (its restart
rebuilds from the store's offset).
"""

from __future__ import annotations

import asyncio
import threading
import time

from floodwall.adapters.nats_log import ensure_stream, stream_name
from floodwall.service.metrics import Metrics
from floodwall.service.runtime import run_async

WRITE_AHEAD = 8  # items read but not yet committed, at most
BEAT_EVERY = 2.0  # seconds between a consumer's heartbeats (core NATS, fw.<run>.beat.<name>)


async def enqueue_write(writes: asyncio.Queue, writer: asyncio.Task, item) -> None:
    """Queue work for a writer task; if the writer failed, raise its error (a consumer then stops, and its
    restart rebuilds from the store) rather than wait on a full queue forever."""
    put = asyncio.ensure_future(writes.put(item))
    await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
    if writer.done() and not put.done():
        put.cancel()
    if writer.done() and item is not None:
        writer.result()


class LogConsumer:
    """Reads one subject of a run's stream in order and commits what it makes of each group."""

    subject: str = ""
    fetch: int = 32
    beat_name: str = ""  # heartbeats on fw.<run>.beat.<beat_name> while the read loop runs ("": none)

    def __init__(self, nats_url: str, run: str, metrics: Metrics) -> None:
        self.nats_url, self.run, self.metrics = nats_url, run, metrics
        self._stop = threading.Event()  # set from a signal handler or another thread

    def stop(self) -> None:
        """Finish the group in hand, then exit."""
        self._stop.set()

    async def run_forever(self, idle_exit: float | None = None) -> None:
        """Consume until stopped (or idle for ``idle_exit`` seconds)."""
        import nats
        from nats.js.api import ConsumerConfig, DeliverPolicy

        nc = await nats.connect(self.nats_url, connect_timeout=5, max_reconnect_attempts=-1)
        js = nc.jetstream()
        await ensure_stream(js, self.run)
        sub = await js.subscribe(self.subject, stream=stream_name(self.run), ordered_consumer=True, idle_heartbeat=2.0,
                                 config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
                                 pending_bytes_limit=256 * 1024 * 1024)
        self._started()
        writes: asyncio.Queue = asyncio.Queue(maxsize=WRITE_AHEAD)
        writer = asyncio.create_task(self._writer(nc, writes))
        self.metrics.queue_depth.labels("consumer").set_function(lambda: sub.pending_msgs)
        self.metrics.queue_depth.labels("unwritten").set_function(writes.qsize)
        idle_since = time.monotonic()
        last_seq = 0
        self.last_loop = time.monotonic()
        beat = asyncio.create_task(self._beat(nc, writer)) if self.beat_name else None
        while not self._stop.is_set():
            self.last_loop = time.monotonic()
            try:
                msgs = [await sub.next_msg(timeout=0.5)]
            except nats.errors.TimeoutError:
                if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            while len(msgs) < self.fetch and sub.pending_msgs > 0:  # what else has arrived: one commit
                msgs.append(await sub.next_msg(timeout=1.0))
            fresh = [m for m in msgs if m.metadata.sequence.stream > last_seq]  # never expected otherwise
            if not fresh:
                continue
            last_seq = fresh[-1].metadata.sequence.stream
            item = await self._group(nc, js, fresh)
            if item is not None:
                await enqueue_write(writes, writer, item)
        if beat is not None:
            beat.cancel()
        await enqueue_write(writes, writer, None)
        await writer
        await nc.flush()
        await nc.close()

    async def _writer(self, nc, writes: asyncio.Queue) -> None:
        """Commit queued items in order; those that queued up meanwhile go in one commit."""
        done = False
        while not done:
            item = await writes.get()
            if item is None:
                break
            items = [item]
            while not writes.empty():  # under load, fewer and larger transactions
                more = writes.get_nowait()
                if more is None:
                    done = True
                    break
                items.append(more)
            await self._commit(nc, items)

    async def _beat(self, nc, writer: asyncio.Task) -> None:
        """Say this consumer is alive while its read loop turns and its writer runs (the API's readiness)."""
        import msgspec

        subject = f"fw.{self.run}.beat.{self.beat_name}"
        while not writer.done():
            if time.monotonic() - self.last_loop < 5 * BEAT_EVERY:  # a stuck read loop stops beating
                try:
                    await nc.publish(subject, msgspec.json.encode({"name": self.beat_name, "ts": time.time(),
                                                                   **self._beat_info()}))
                except Exception:  # noqa: BLE001, S110  (NATS reconnecting: the next beat tries again)
                    pass
            await asyncio.sleep(BEAT_EVERY)

    def _beat_info(self) -> dict:
        """What a heartbeat carries besides the name and time."""
        return {}

    def _started(self) -> None:
        """Called once subscribed (a log line)."""

    async def _group(self, nc, js, msgs: list) -> object | None:
        """Handle a group of messages in order; the item to commit for them (None: nothing to commit)."""
        raise NotImplementedError

    async def _commit(self, nc, items: list) -> None:
        """Commit items (in the order they were made) and only then advance the offset."""
        raise NotImplementedError


def run_process(consumer: LogConsumer, *, metrics_port: int | None = None, idle_exit: float | None = None) -> None:
    """Run a consumer as its process's main job until SIGTERM or SIGINT (which finish the group in hand)."""
    import gc
    import signal

    if metrics_port:
        consumer.metrics.serve(metrics_port)
    gc.collect()
    gc.freeze()  # the policy, models and imports need no more scanning by the collector

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, consumer.stop)
        await consumer.run_forever(idle_exit=idle_exit)

    run_async(main)
