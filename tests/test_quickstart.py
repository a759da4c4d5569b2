"""examples/quickstart.py against a really served app: events in, gate answers, orders on the webhook."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import httpx
import pytest
from service_helpers import served

from floodwall.adapters.keys import KeyStore
from floodwall.events import ActionOrder
from floodwall.service.orders_webhook import OrdersWebhook
from floodwall.service.serve import build_app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load():
    spec = importlib.util.spec_from_file_location("quickstart", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quickstart_posts_events_asks_the_gate_and_receives_orders(tmp_path) -> None:
    qs = _load()
    hook_port = _free_port()
    receiver, orders = qs.start_order_receiver(hook_port)
    try:
        app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05,
                        orders_webhook=f"http://127.0.0.1:{hook_port}/orders")
        secret, _ = KeyStore(app.state.backend.store.engine).create("quickstart", ["ingest", "gate"])
        with served(app) as url:
            out = qs.run(url, secret, orders, wait=20)
    finally:
        receiver.shutdown()
    tag = out["tag"]
    bot, old = out["gate"][f"room-{tag}-bot"], out["gate"][f"room-{tag}-old"]
    assert bot["action"] == "limit" and "gate-limit-risky" in bot["rules"]
    assert old["allow"] is True
    limits = [o for o in out["orders"] if o["target"] == f"room-{tag}-bot" and o["action"] == "limit"]
    assert limits, out["orders"]  # came over the webhook, not from the gate's reply
    assert not [o for o in out["orders"] if o["target"] == f"room-{tag}-old" and o["action"] in ("limit", "takedown")]


def test_orders_webhook_refuses_a_bad_url_and_retries_failures() -> None:
    with pytest.raises(ValueError, match="http"):
        OrdersWebhook("ftp://x")
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503 if len(calls) < 3 else 204)

    hook = OrdersWebhook("http://platform/orders", backoff=0.01, client=httpx.Client(transport=httpx.MockTransport(handler)))
    hook.submit([ActionOrder(key="k1", ts=1.0, action="limit", subject="stream", target="s1", verdict="v1")])
    hook.close()
    assert hook.sent == 1 and hook.failed == 0 and len(calls) == 3
    assert calls[-1].headers["Idempotency-Key"] == "k1"
    hook2 = OrdersWebhook("http://platform/orders", attempts=2, backoff=0.01,
                          client=httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))))
    hook2.submit([ActionOrder(key="k2", ts=1.0, action="limit", subject="stream", target="s1", verdict="v1")])
    hook2.close()
    assert hook2.sent == 0 and hook2.failed == 1
