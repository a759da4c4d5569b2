"""API keys: 256-bit secrets stored under HMAC-SHA-256 with a pepper kept outside the database (rotated without
losing keys), legacy argon2 hashes verified once and rehashed, failed attempts limited per address and key id."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def test_a_rotated_pepper_keeps_keys_working_and_moves_each_to_the_new_one_when_used(tmp_path, monkeypatch):
    from floodwall.adapters import pepper

    monkeypatch.delenv("FLOODWALL_KEY_PEPPER", raising=False)
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER_FILE", str(tmp_path / "pepper"))
    engine = sa.create_engine(f"sqlite:///{tmp_path}/k.db")
    used, key = KeyStore(engine).create("used", ["ingest"])
    idle, idle_key = KeyStore(engine).create("idle", ["ingest"])
    first = pepper.load_peppers().current
    rotated = pepper.rotate()
    assert rotated.previous == (first,) and rotated.current != first
    assert stat.S_IMODE(os.stat(tmp_path / "pepper").st_mode) == 0o600
    keys = KeyStore(engine)  # a process started after the rotation
    assert {k["name"]: k["pepper"] for k in keys.list()} == {"used": "previous", "idle": "previous"}
    assert keys.verify(used) == key
    assert stored_hash(engine, key.id).startswith(f"{HMAC_PREFIX}{pepper.fingerprint(rotated.current)}$")
    assert {k["name"]: k["pepper"] for k in keys.list()} == {"used": "current", "idle": "previous"}
    pepper.drop_previous()
    after = KeyStore(engine)
    assert after.verify(used) == key  # moved in time
    assert after.verify(idle) is None  # never used while both were accepted: it stops, as `keys pepper` warned
    assert {k["name"]: k["pepper"] for k in after.list()} == {"used": "current", "idle": "unknown"}
    assert idle_key.id in {k["id"] for k in after.list()}


def test_hashes_written_before_they_named_their_pepper_still_verify_and_are_renamed(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/k.db")
    keys = KeyStore(engine, pepper=PEPPER)
    secret, key = keys.create("a", ["ingest"])
    raw = secret.split("_", 2)[2]
    legacy = HMAC_PREFIX + hmac.new(PEPPER, raw.encode(), hashlib.sha256).hexdigest()
    with engine.begin() as conn:  # as the previous version stored it
        conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(hash=legacy))
    assert KeyStore(engine, pepper=b"q" * 40).verify(secret) is None
    assert KeyStore(engine, pepper=PEPPER).verify(secret[:-1] + "x") is None
    assert KeyStore(engine, pepper=PEPPER).verify(secret) == key
    assert stored_hash(engine, key.id) != legacy and KeyStore(engine, pepper=PEPPER).list()[0]["pepper"] == "current"


def test_peppers_from_the_environment_and_the_cli(tmp_path, monkeypatch, capsys):
    from floodwall.adapters import pepper
    from floodwall.cli import main

    monkeypatch.setenv("FLOODWALL_KEY_PEPPER", "n" * 40)
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER_PREVIOUS", "o" * 40 + ", " + "p" * 40)
    assert pepper.load_peppers() == pepper.Peppers(b"n" * 40, (b"o" * 40, b"p" * 40))
    with pytest.raises(ValueError, match="FLOODWALL_KEY_PEPPER"):
        pepper.rotate()
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER_PREVIOUS", "short")
    with pytest.raises(ValueError, match="shorter than 32"):
        pepper.load_peppers()
    monkeypatch.delenv("FLOODWALL_KEY_PEPPER")
    monkeypatch.delenv("FLOODWALL_KEY_PEPPER_PREVIOUS")
    monkeypatch.setenv("FLOODWALL_KEY_PEPPER_FILE", str(tmp_path / "pepper"))
    store = f"sqlite:///{tmp_path}/k.db"
    assert main(["keys", "create", "--scope", "ingest", "--store", store]) == 0
    assert main(["keys", "pepper", "--rotate", "--store", store]) == 0
    assert main(["keys", "pepper", "--drop-previous", "--store", store]) == 1  # the key has not moved yet
    assert "still be under an earlier pepper" in capsys.readouterr().err
    assert main(["keys", "pepper", "--drop-previous", "--force", "--store", store]) == 0
    assert "1 unknown" in capsys.readouterr().out


def test_failed_attempts_are_counted_across_processes_of_one_store(tmp_path):
    """Two API processes on one store: a guesser's failures at either count against the one limit."""
    from floodwall.service.attempts import FailedAttempts
    from floodwall.service.runtime import open_store

    url = f"sqlite:///{tmp_path}/fw.db"
    open_store(url, "service").engine.dispose()
    a, b = (FailedAttempts(limit=10, window=60.0, store=sa.create_engine(url)) for _ in range(2))
    for i in range(5):
        a.fail("10.0.0.9", None)
        b.fail("10.0.0.9", f"k{i}")
    assert b.wait("10.0.0.9", None) > 50  # ten failures from the address, five seen by each process
    assert a.wait("10.0.0.8", "k0") == 0.0  # another address, a key id with one failure
    alone = FailedAttempts(limit=10, window=60.0)
    for _ in range(5):
        alone.fail("10.0.0.9", None)
    assert alone.wait("10.0.0.9", None) == 0.0  # without the store each process saw only its own five
    broken = FailedAttempts(limit=10, window=60.0, store=sa.create_engine(f"sqlite:///{tmp_path}/none.db"))
    broken.fail("10.0.0.7", None)  # no table there: counted here, logged, never an error
    assert broken.wait("10.0.0.7", None) == 0.0
