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


@pytest.mark.parametrize("seq", [1, 2, 3, 4])
def test_rewriting_an_entry_and_its_hash_breaks_the_next_link(tmp_path, seq):
    from floodwall.response.audit import digest

    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    e = log.entries()[seq - 1]
    e["payload"] = '{"i":-1}'
    tamper(log, seq, payload=e["payload"], hash=digest(e))
    _, breaks = verify_store(url)
    assert breaks[0].seq == seq + 1 and f"entry {seq}" in breaks[0].reason


def test_a_removed_entry_is_named(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    with log.db.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 3))
    _, breaks = verify_store(url)
    assert breaks[0].seq == 3 and "missing" in breaks[0].reason


def test_the_head_pins_the_last_entry(tmp_path):
    from floodwall.response.audit import digest

    url = f"sqlite:///{tmp_path}/a.db"
    log = chain(url)
    head = log.head()
    e = log.entries()[-1]
    e["actor"] = "mallory"
    tamper(log, 5, actor="mallory", hash=digest(e))
    assert verify_store(url)[1] == []  # the newest entry, rehashed, is only caught against a published head
    assert verify_store(url, head=head)[1][0].seq == 5


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


def test_chain_and_verify_command_on_postgresql(capsys):
    """The same chain in PostgreSQL (the store at scale): clean, then a changed entry named by the command."""
    from service_helpers import new_pg_database

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
