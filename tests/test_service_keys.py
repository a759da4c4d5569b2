"""API keys: 256-bit secrets stored under HMAC-SHA-256 with a pepper kept outside the database, legacy
argon2 hashes verified once and rehashed, failed attempts limited per address and per key id."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from service_helpers import bearer

from floodwall.adapters.keys import HMAC_PREFIX, KeyStore, api_keys, load_pepper
from floodwall.service.serve import build_app

PEPPER = b"p" * 40


def stored_hash(engine, key_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(api_keys.c.hash).where(api_keys.c.id == key_id)).scalar_one()


def test_secrets_are_256_bits_and_stored_under_a_keyed_hash(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/k.db")
    keys = KeyStore(engine, pepper=PEPPER)
    secret, key = keys.create("a", ["ingest"])
    raw = secret.split("_", 2)[2]
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) == 32
    h = stored_hash(engine, key.id)
    assert h.startswith(HMAC_PREFIX) and raw not in h
    assert keys.verify(secret) == key
    # The same database under another pepper verifies nothing: the hash alone is not enough.
    assert KeyStore(engine, pepper=b"q" * 40).verify(secret) is None


def test_a_legacy_argon2_hash_is_verified_once_and_rehashed(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/k.db")
    keys = KeyStore(engine, pepper=PEPPER)
    secret, key = keys.create("old", ["review"])
    ph = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with engine.begin() as conn:  # as an older version stored it
        conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(hash=ph.hash(secret.split("_", 2)[2])))
    assert stored_hash(engine, key.id).startswith("$argon2")
    assert KeyStore(engine, pepper=PEPPER).verify(secret[:-2] + "xx") is None
    assert stored_hash(engine, key.id).startswith("$argon2")  # a wrong secret changes nothing
    assert KeyStore(engine, pepper=PEPPER).verify(secret) == key
    assert stored_hash(engine, key.id).startswith(HMAC_PREFIX)
    assert KeyStore(engine, pepper=PEPPER).verify(secret) == key


def test_the_pepper_comes_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOODWALL_KEY_PEPPER", raising=False)
    path = tmp_path / "conf" / "pepper"
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER_FILE", str(path))
    first = load_pepper()
    assert len(first) >= 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_pepper() == first  # kept, not regenerated
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER", "e" * 48)
    assert load_pepper() == b"e" * 48


def test_failed_attempts_are_limited_per_address_and_per_key_id(tmp_path):
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    good, key = app.state.keys.create("real", ["review"])
    other, _ = app.state.keys.create("other", ["review"])
    with TestClient(app) as client:
        codes = [client.get("/v1/cases", headers=bearer(f"fw_{key.id}_wrong{i}")).status_code for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        r = client.get("/v1/cases", headers=bearer(f"fw_{key.id}_wrong"))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        # The address is held too: another key id from it waits as well.
        assert client.get("/v1/cases", headers=bearer("fw_0123456789abcdef_x")).status_code == 429
        assert client.post("/login", data={"key": other}).status_code == 429
    # From another address, the key id stays held for guesses.
    with TestClient(app, client=("10.9.9.9", 5000)) as client:
        assert client.get("/v1/cases", headers=bearer(f"fw_{key.id}_wrong")).status_code == 429
        assert client.get("/v1/cases", headers=bearer(other)).status_code == 200


@pytest.fixture(autouse=True)
def _pepper(monkeypatch):
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER", "t" * 48)
