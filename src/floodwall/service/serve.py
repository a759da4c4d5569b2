"""`floodwall serve`: build the backend the flags ask for and run the API under uvicorn."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from floodwall.adapters.keys import KeyStore
from floodwall.service.app import create_app
from floodwall.service.backends import Backend, EmbeddedBackend, NatsBackend
from floodwall.service.compaction import DEFAULT_EVERY
from floodwall.service.hub import Hub
from floodwall.service.limits import DEFAULT_MAX_BODY
from floodwall.service.metrics import Metrics
from floodwall.service.runtime import (
    EventClock,
    OutboxEnforcer,
    build_engine,
    open_store,
    wall_clock,
)

log = logging.getLogger("floodwall.service")


def build_backend(*, store_url: str, log_url: str = "memory", run: str = "service", partitions: int = 2,
                  policy: str = "floodwall", clock: str = "wall", tick: float = 0.15, notify: str | None = None,
                  image_model: str = "none", orders_webhook: str | None = None,
                  compact_every: int = DEFAULT_EVERY) -> Backend:
    """The embedded backend (``log_url == "memory"``) or the NATS one (``nats://...``)."""
    metrics = Metrics()
    store = open_store(store_url, run)
    if log_url.startswith("nats://"):
        if orders_webhook:  # workers, not the API, hold the engines there: not wired yet
            raise ValueError("--orders-webhook works with the embedded service (--log memory) only")
        return NatsBackend(log_url, run, partitions, store, metrics)
    if log_url != "memory":
        raise ValueError(f"--log must be 'memory' or a nats:// URL, not {log_url!r}")
    if clock not in ("wall", "event"):
        raise ValueError("--clock must be 'wall' or 'event'")
    from floodwall.response.audit import AuditLog
    from floodwall.response.incident import IncidentResponse
    from floodwall.response.outbox import Outbox
    from floodwall.service.runtime import CountingStore

    from floodwall.service.gatelog import GateLog
    from floodwall.service.journal import Journal, sqlite_file, tune_sqlite

    clk = wall_clock() if clock == "wall" else EventClock()
    # 202 means on disk: a journal in the store's database unless the store itself is in memory.
    journal = gatelog = None
    if sqlite_file(store.engine) or store.engine.dialect.name == "postgresql":
        if store.engine.dialect.name == "sqlite":
            tune_sqlite(store.engine)
            gatelog = GateLog(f"{store.engine.url.database}.gates")  # beside the file (service/gatelog.py)
        journal = Journal(store.engine, run, deliver=lambda seq, events: None)  # the backend wires the loop
    # Incident response rides in the engine's loop: surge levels, the policy's playbook, owner messages
    # queued in the store's outbox (delivered by the courier when a --notify channel is given).
    ops = AuditLog(store.engine, "ops")
    responder = IncidentResponse.for_policy(policy, clk.now(), Outbox(store.engine, run=run), audit=ops)
    enforcer = OutboxEnforcer(metrics)
    if orders_webhook:  # orders POSTed to the platform as well as kept in the actions table
        from floodwall.service.orders_webhook import OrdersWebhook

        enforcer.forward = OrdersWebhook(orders_webhook).submit
    engine = build_engine(policy, clock=clk, store=CountingStore(store, metrics), enforcer=enforcer,
                          responder=responder, image_model=image_model)
    hub = Hub(engine)
    compactor = None
    if journal is not None:  # made even with compact_every=0: a restart still loads a snapshot cut before
        from floodwall.response.audit_keys import audit_key
        from floodwall.service.compaction import Compactor

        compactor = Compactor(journal, hub, audit_key(store.engine), every=compact_every)
    backend = EmbeddedBackend(hub, store, metrics, tick=tick, journal=journal, audit=ops, gatelog=gatelog,
                              compactor=compactor)
    if notify:
        from floodwall.response.outbox import DeliveryWorker
        from floodwall.service.runtime import Courier, notifier_for

        backend.courier = Courier(DeliveryWorker(responder.outbox, notifier_for(notify)))
        backend.courier.start()
    if isinstance(clk, EventClock):  # replaying recorded events: time is the events' time
        inner = backend.loop.hub.handle

        def handle(events):
            clk.observe(events)
            return inner(events)

        backend.loop.hub.handle = handle  # type: ignore[method-assign]
    return backend


def build_app(*, store_url: str, log_url: str = "memory", run: str = "service", partitions: int = 2,
              policy: str = "floodwall", clock: str = "wall", tick: float = 0.15,
              extra_routers: tuple[APIRouter, ...] = (), notify: str | None = None, image_model: str = "none",
              orders_webhook: str | None = None, hma_fetch_urls: bool = False,
              max_body: int = DEFAULT_MAX_BODY, compact_every: int = DEFAULT_EVERY) -> FastAPI:
    """The whole app from command-line settings."""
    backend = build_backend(store_url=store_url, log_url=log_url, run=run, partitions=partitions, policy=policy,
                            clock=clock, tick=tick, notify=notify, image_model=image_model,
                            orders_webhook=orders_webhook, compact_every=compact_every)
    if isinstance(backend, EmbeddedBackend):  # the people-facing pages need the engine in this process
        extra_routers = (*people_routers(backend), *extra_routers)
    return create_app(backend, KeyStore(backend.store.engine), extra_routers=extra_routers,
                      hma_fetch_urls=hma_fetch_urls, max_body=max_body)


def people_routers(backend: EmbeddedBackend) -> list[APIRouter]:
    """Reviewer console (review scope), operators' incident controls (operate scope), public status page."""
    from floodwall.response.audit import AuditLog
    from floodwall.response.mass import MassActions
    from floodwall.service.operator_api import router as operator_router
    from floodwall.service.auth import require_scope
    from floodwall.service.web import login_router, page_routers, people_guard

    hub = backend.hub
    mass = MassActions(hub.engine, AuditLog(backend.store.engine, "ops"), lock=hub.lock, submit=hub.submit)
    return [login_router(), *page_routers(hub, guard=people_guard("review")),
            operator_router(hub, mass, require_scope("operate"))]


def run_server(app: FastAPI, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM, with JSON logs."""
    import uvicorn

    from floodwall.service.logs import setup_json_logging

    setup_json_logging()
    if app.state.keys.count() == 0:
        log.warning("no API keys exist: create one with `floodwall keys create --scope admin --store ...`")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
