"""The audit chain: any changed, removed or reordered entry is found, and the verify command names it."""

import pytest
import sqlalchemy as sa

from floodwall.cli import main
from floodwall.response.audit import AuditLog, audit_log, verify_store

T0 = 1_766_400_000.0


def chain(url, n=5):
    log = AuditLog(url, chain="ops")
    for i in range(n):
        log.append(T0 + i, f"op{i % 2}", "approved", f"ma{i}", {"i": i, "note": "ok"})
    return log


def tamper(log, seq, **values):
    with log.db.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.chain == "ops", audit_log.c.seq == seq).values(**values))


def test_an_untouched_chain_verifies(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    checked, breaks = verify_store(url)
    assert checked == 5 and breaks == []
    entries = log.entries()
    assert entries[0]["prev"] == "0" * 64 and all(b["prev"] != "0" * 64 for b in entries[1:])


@pytest.mark.parametrize("seq", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("field, value", [("payload", '{"i":99,"note":"ok"}'), ("actor", "mallory"), ("ts", T0 + 0.5)])
def test_changing_any_entry_names_that_entry(tmp_path, seq, field, value):
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    tamper(log, seq, **{field: value})
    _, breaks = verify_store(url)
    assert len(breaks) == 1 and breaks[0].seq == seq and "does not match its hash" in breaks[0].reason


@pytest.mark.parametrize("seq", [1, 2, 3, 4, 5])
def test_rewriting_an_entry_and_recomputing_every_hash_without_the_key_is_caught(tmp_path, seq):
    """Finding 8: with unkeyed SHA-256, an edit plus recomputed later hashes verified. Not with the MAC key."""
    from floodwall.response.audit import digest

    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    entries = log.entries()
    entries[seq - 1]["payload"] = '{"i":-1}'
    prev = entries[seq - 2]["hash"] if seq > 1 else "0" * 64
    for e in entries[seq - 1:]:  # the attacker rewrites this entry and relinks every later one
        e["prev"] = prev
        e["hash"] = prev = digest(e)
        tamper(log, e["seq"], payload=e["payload"], prev=e["prev"], hash=e["hash"])
    _, breaks = verify_store(url)
    assert breaks[0].seq == seq and "does not match its hash" in breaks[0].reason


@pytest.mark.parametrize("seq", [1, 3, 4])
def test_relinking_under_another_key_breaks_at_the_edit(tmp_path, seq):
    from floodwall.response.audit import mac

    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    e = log.entries()[seq - 1]
    e["actor"] = "mallory"
    tamper(log, seq, actor="mallory", hash=mac(e, b"not the key" * 4))
    assert verify_store(url)[1][0].seq == seq


def test_a_removed_entry_is_named(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    with log.db.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 3))
    _, breaks = verify_store(url)
    assert breaks[0].seq == 3 and "missing" in breaks[0].reason


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_a_truncated_tail_is_caught_by_the_checkpoint(tmp_path, capsys, cut):
    """Finding 8: deleting the newest entries left a chain that still verified."""
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    with log.db.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq > 5 - cut))
    _, breaks = verify_store(url)
    assert len(breaks) == 1 and breaks[0].seq == 5 - cut + 1 and "truncated" in breaks[0].reason
    assert main(["audit", "verify", "--store", url]) == 1
    assert "truncated" in capsys.readouterr().out


def test_a_forged_checkpoint_is_refused(tmp_path):
    import json

    url = f"sqlite:///{tmp_path}/a.db"
    chain(url)
    path = tmp_path / "a.db.audit-checkpoints"
    last = json.loads(path.read_text().splitlines()[-1])
    path.write_text(path.read_text() + json.dumps({**last, "seq": 2}) + "\n")  # claim fewer entries
    breaks = verify_store(url)[1]
    assert any("does not verify" in b.reason for b in breaks)


def test_the_key_is_a_0600_file_next_to_the_database_or_from_the_environment(tmp_path, monkeypatch):
    import os

    from floodwall.response.audit import mac

    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url, n=2)
    key_file = tmp_path / "a.db.audit-key"
    assert key_file.exists() and os.stat(key_file).st_mode & 0o777 == 0o600
    assert log.entries()[0]["hash"] == mac(log.entries()[0], bytes.fromhex(key_file.read_text().strip()))
    monkeypatch.setenv("FLOODWALL_AUDIT_KEY", "11" * 32)
    monkeypatch.setenv("FLOODWALL_AUDIT_CHECKPOINTS", str(tmp_path / "cp"))
    other = chain(f"sqlite:///{tmp_path}/b.db", n=2)
    assert other.key == b"\x11" * 32 and not (tmp_path / "b.db.audit-key").exists()
    assert verify_store(f"sqlite:///{tmp_path}/b.db")[1] == []
    monkeypatch.setenv("FLOODWALL_AUDIT_KEY", "11" * 8)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        chain(f"sqlite:///{tmp_path}/c.db", n=1)


def test_verify_command_names_the_first_broken_entry(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    assert main(["audit", "verify", "--store", url]) == 0
    assert "5 entries" in capsys.readouterr().out
    tamper(log, 4, actor="mallory")
    tamper(log, 2, actor="mallory")
    assert main(["audit", "verify", "--store", url]) == 1
    out = capsys.readouterr().out
    assert "entry 2 is broken" in out and "entry 4" not in out


def test_chain_and_verify_command_on_postgresql(capsys, tmp_path, monkeypatch):
    """The same chain in PostgreSQL (the store at scale): clean, then a changed entry named by the command."""
    from service_helpers import new_pg_database

    monkeypatch.setenv("FLOODWALL_AUDIT_DIR", str(tmp_path))  # the key and checkpoints beside nothing: here

    url, drop = new_pg_database("fwaudit")
    try:
        log = chain(url)
        assert main(["audit", "verify", "--store", url]) == 0
        tamper(log, 3, payload='{"i":3,"note":"edited"}')
        assert main(["audit", "verify", "--store", url, "--chain", "ops"]) == 1
        assert "entry 3 is broken" in capsys.readouterr().out
        log.db.dispose()
    finally:
        drop()


def test_verify_command_takes_a_file_path(tmp_path, capsys):
    db = tmp_path / "a.db"
    log = chain(f"sqlite:///{db}")
    assert main(["audit", "verify", str(db)]) == 0
    tamper(log, 1, action="executed")
    assert main(["audit", "verify", str(db)]) == 1
    assert "entry 1 is broken" in capsys.readouterr().out
    assert main(["audit", "verify", str(tmp_path / "missing.db")]) == 2
