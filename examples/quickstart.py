"""A platform's first integration with Floodwall, in one file (httpx and the standard library).

1. receives action orders on a webhook (start `floodwall serve --orders-webhook http://127.0.0.1:9000/orders`),
2. posts what happens on the platform (accounts registering) to /v1/events,
3. asks the go-live gate before a stream goes live, and acts on the answer,
4. waits for the orders the engine sends (a `limit` on the risky room).

    floodwall keys create --scope ingest --scope gate          # prints a key
    floodwall serve --orders-webhook http://127.0.0.1:9000/orders &
    python examples/quickstart.py --url http://127.0.0.1:8080 --key fw_... --webhook-port 9000
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


def start_order_receiver(port: int) -> tuple[ThreadingHTTPServer, queue.Queue]:
    """A webhook endpoint for Floodwall's orders; each order lands in the returned queue once."""
    orders: queue.Queue = queue.Queue()
    seen: set[str] = set()  # orders carry a key: one seen before is a retry, not a second order

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            if length > 10_000_000:
                self.send_response(413)
                self.end_headers()
                return
            try:
                body = json.loads(self.rfile.read(length))
                batch = body["orders"]
            except (ValueError, KeyError, TypeError):
                self.send_response(400)
                self.end_headers()
                return
            for order in batch:
                if order["key"] not in seen:
                    seen.add(order["key"])
                    orders.put(order)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, orders


def run(url: str, key: str, orders: queue.Queue, wait: float = 15.0) -> dict:
    """Post events, ask the gate for two rooms, and collect the orders that arrive; returns what happened."""
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    now, tag = time.time(), uuid.uuid4().hex[:6]
    # Five accounts made a minute ago on one device and network, no avatar: the attack's shape.
    # One account made two years ago: an ordinary streamer.
    events = [{"type": "account_registered", "id": f"reg-{tag}-{i}", "ts": now - 60, "account": f"bot-{tag}-{i}",
               "phone": f"86170000{i:05d}", "device": f"dev-{tag}", "ip": "10.66.0.7"} for i in range(5)]
    events.append({"type": "account_registered", "id": f"reg-{tag}-old", "ts": now - 2 * 365 * 86400,
                   "account": f"old-{tag}", "phone": "8613800000000", "device": f"dev-old-{tag}", "ip": "10.1.2.3"})
    r = api.post("/v1/events", json=events)
    r.raise_for_status()
    print("events:", r.json())
    time.sleep(0.5)  # the engine batches events every 0.15 s: let it see the registrations first

    answers = {}
    for room, account, device, ip in ((f"room-{tag}-bot", f"bot-{tag}-2", f"dev-{tag}", "10.66.0.7"),
                                      (f"room-{tag}-old", f"old-{tag}", f"dev-old-{tag}", "10.1.2.3")):
        gate = api.post("/v1/gate", json={"type": "stream_started", "id": f"go-{room}", "ts": time.time(),
                                          "stream": room, "account": account, "device": device, "ip": ip})
        gate.raise_for_status()
        g = gate.json()
        answers[room] = g
        # The platform's part: let the room go live, or hold it off the recommendation pages.
        print(f"gate {room}: allow={g['allow']} action={g['action']} rules={g['rules']}")

    got: list[dict] = []
    end = time.monotonic() + wait
    while time.monotonic() < end and not any(o["target"] == f"room-{tag}-bot" for o in got):
        try:
            got.append(orders.get(timeout=0.2))
        except queue.Empty:
            pass
    for o in got:
        print(f"order: {o['action']} {o['subject']} {o['target']} ({o['reason']})")
    return {"gate": answers, "orders": got, "tag": tag}


def main() -> None:
    """Command line: the service's URL, an API key (ingest + gate), the webhook's port."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--key", required=True, help="an API key with the ingest and gate scopes")
    ap.add_argument("--webhook-port", type=int, default=9000)
    args = ap.parse_args()
    server, orders = start_order_receiver(args.webhook_port)
    try:
        run(args.url, args.key, orders)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
