"""Shared helpers of the service tests: keys, events, waiting, the running NATS and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid

import pytest

NATS_URL = os.environ.get("FLOODWALL_TEST_NATS", "nats://127.0.0.1:4222")
PG_ADMIN = os.environ.get("FLOODWALL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def need(port: int, what: str) -> None:
    """Fail (not skip) when a service the tests must use for real is down: scripts/services.sh starts it."""
    if not port_open(port):
        pytest.fail(f"{what} is not running on 127.0.0.1:{port}; run scripts/services.sh")


def new_pg_database(prefix: str = "fwtest") -> tuple[str, callable]:
    """A fresh PostgreSQL database; returns (its URL, a function that drops it)."""
    import sqlalchemy as sa

    need(5432, "PostgreSQL")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def bearer(secret: str) -> dict[str, str]:
    """Authorization header for a key."""
    return {"Authorization": f"Bearer {secret}"}


def wait_for(pred, timeout: float = 10.0, every: float = 0.05):
    """Poll until pred() is truthy; returns its value or fails."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    pytest.fail(f"condition not met within {timeout} s")


@contextlib.contextmanager
def served(app):
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def nats_deployment(partitions: int = 2, coordinator: bool = True):
    """The API (NATS backend) in a TestClient, a worker thread per partition and the coordinator thread,
    on a fresh PostgreSQL database and JetStream stream; yields (client, secrets by scope, backend, workers)."""
    import asyncio

    import nats
    from fastapi.testclient import TestClient

    from floodwall.adapters.keys import KeyStore
    from floodwall.adapters.nats_log import stream_name
    from floodwall.service.app import create_app
    from floodwall.service.coordinator import CoordinatorService
    from floodwall.service.serve import build_backend
    from floodwall.service.worker import Worker

    need(4222, "NATS")
    url, drop = new_pg_database("fwnats")
    run = f"t{uuid.uuid4().hex[:10]}"
    backend = build_backend(store_url=url, log_url=NATS_URL, run=run, partitions=partitions)
    keys = KeyStore(backend.store.engine)
    secrets = {s: keys.create(s, [s])[0] for s in ("ingest", "gate", "review", "operate")}
    consumers = [Worker(nats_url=NATS_URL, store_url=url, run=run, partition=i, partitions=partitions)
                 for i in range(partitions)]
    if coordinator:
        consumers.append(CoordinatorService(nats_url=NATS_URL, store_url=url, run=run, partitions=partitions))
    threads = [threading.Thread(target=lambda c=c: asyncio.run(c.run_forever()), daemon=True) for c in consumers]
    try:
        with TestClient(create_app(backend, keys)) as client:
            for t in threads:
                t.start()
            yield client, secrets, backend, consumers[:partitions]
            for c in consumers:
                c.stop()
            for t in threads:
                t.join(10)
    finally:
        async def cleanup():
            nc = await nats.connect(NATS_URL)
            await nc.jetstream().delete_stream(stream_name(run))
            await nc.close()
        asyncio.run(cleanup())
        backend.store.engine.dispose()
        for c in consumers:
            c.store.engine.dispose()
        drop()
