"""Action orders to the platform over HTTP: ``floodwall serve --orders-webhook URL`` (embedded service).

The engine hands orders to its enforcer under the engine's lock, where nothing may wait on the
network, so ``OrdersWebhook.submit`` only queues them. A daemon thread POSTs each batch as JSON
``{"orders": [...]}`` (fields as in ``ActionOrder``: key, ts, action, subject, target, verdict,
reason, sample_every) with an ``Idempotency-Key`` header (the orders' keys): sending an order twice
must do nothing twice, so the platform drops keys it has seen. A failed POST (network error or a
non-2xx reply) is retried with backoff up to ``attempts`` times, then counted in ``failed`` and
logged; the orders also stay in the store's ``actions`` table, which a platform can poll.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

import httpx
import msgspec

from floodwall.events import ActionOrder

__all__ = ["OrdersWebhook"]

log = logging.getLogger("floodwall.orders")


class OrdersWebhook:
    """Delivers action orders to one URL from a background thread, batched, with retries."""

    def __init__(self, url: str, *, attempts: int = 5, timeout: float = 5.0, backoff: float = 0.5,
                 max_queue: int = 100_000, client: httpx.Client | None = None) -> None:
        """``url``: http(s) endpoint of the platform's order receiver."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--orders-webhook {url!r}: expected an http:// or https:// URL")
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.client = client or httpx.Client(timeout=timeout)
        self.q: queue.Queue[list[ActionOrder] | None] = queue.Queue(maxsize=max_queue)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="orders-webhook", daemon=True)
        self._thread.start()

    def submit(self, orders: Sequence[ActionOrder]) -> None:
        """Queue orders for delivery (never blocks: a full queue drops and counts them)."""
        if not orders:
            return
        try:
            self.q.put_nowait(list(orders))
        except queue.Full:
            self.dropped += len(orders)
            log.error("orders webhook queue full; %d orders not forwarded (still in the actions table)", len(orders))

    def _run(self) -> None:
        while True:
            batch = self.q.get()
            if batch is None:
                return
            while len(batch) < 500:  # coalesce what is already waiting into one POST
                try:
                    more = self.q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.q.put(None)
                    break
                batch.extend(more)
            self._post(batch)

    def _post(self, batch: list[ActionOrder]) -> None:
        body = msgspec.json.encode({"orders": batch})
        headers = {"content-type": "application/json", "Idempotency-Key": ",".join(o.key for o in batch)[:4000]}
        for attempt in range(self.attempts):
            try:
                r = self.client.post(self.url, content=body, headers=headers)
                if 200 <= r.status_code < 300:
                    self.sent += len(batch)
                    return
                why = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                why = str(exc)
            time.sleep(self.backoff * 2**attempt)
        self.failed += len(batch)
        log.error("orders webhook %s failed after %d attempts (%s); %d orders", self.url, self.attempts, why, len(batch))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` s), then stop."""
        self.q.put(None)
        self._thread.join(timeout)
