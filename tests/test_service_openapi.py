"""The whole app `floodwall serve` builds publishes its OpenAPI document and serves /docs with local assets."""

from __future__ import annotations

import re
import socket

import pytest
from fastapi.testclient import TestClient

from floodwall.service.serve import build_app


@pytest.fixture
def full_app(tmp_path):
    """The app `floodwall serve` builds with its embedded defaults (console, status page, operator routes)."""
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    yield app
    app.state.backend.store.engine.dispose()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test (the docs must not need a CDN)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_openapi_json_covers_the_console_status_and_operator_routes(full_app, no_network):
    with TestClient(full_app) as client:
        r = client.get("/openapi.json")
        assert r.status_code == 200, r.text[:500]
        paths = r.json()["paths"]
    for path in ("/v1/events", "/v1/gate", "/review", "/status", "/incident/level", "/mass-actions"):
        assert path in paths, f"{path} missing from the OpenAPI document"


def test_docs_page_and_every_asset_it_loads_are_served_locally(full_app, no_network):
    with TestClient(full_app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
        assert not [u for u in urls if re.match(r"(https?:)?//", u)], f"/docs loads from elsewhere: {urls}"
        assets = [u for u in urls if u.endswith((".js", ".css"))]
        assert len(assets) >= 2, urls  # Swagger UI's script and stylesheet
        for url in [*urls, "/redoc"]:
            r = client.get(url)
            assert r.status_code == 200, f"{url} -> {r.status_code}"
            if url.endswith(".js"):
                assert len(r.content) > 100_000  # the real bundle, not a placeholder
