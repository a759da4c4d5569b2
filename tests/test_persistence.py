"""One schema: the migrations at head build exactly the tables' metadata (SQLite and PostgreSQL), upgrade
is idempotent and adopts stores made before migrations, and no module outside ``floodwall.persistence``
declares a table or writes SQL as a string."""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from floodwall.cli import main
from floodwall.persistence import schema
from floodwall.persistence.tables import api_keys, audit_log, metadata, verdicts
from service_helpers import new_pg_database

SRC = Path(__file__).resolve().parents[1] / "src" / "floodwall"
PERSISTENCE = SRC / "persistence"


def differences(engine: sa.Engine) -> list:
    """What Alembic sees between the database and the tables' metadata (empty: they match)."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def without_created_by() -> list[sa.Column]:
    """api_keys' columns as stores made before created_by existed had them."""
    return [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in api_keys.c if c.name != "created_by"]


@pytest.fixture
def pg_url():
    url, drop = new_pg_database("fwschema")
    yield url
    drop()


def test_the_head_constant_is_alembics_head(tmp_path):
    """schema.HEAD lets a store at head open without Alembic: it must name the newest revision."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(schema.alembic_config()).get_heads() == [schema.HEAD]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    assert not schema.at_head(engine)
    schema.upgrade(engine)
    assert schema.at_head(engine)


def test_head_matches_the_metadata_on_sqlite(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    assert schema.current(engine) is None
    assert schema.upgrade(engine) == schema.head()
    assert table_names(engine) == set(metadata.tables) and len(metadata.tables) == 21
    assert differences(engine) == []
    # Same DDL as create_all, byte for byte (compare_metadata does not look at AUTOINCREMENT and the like).
    made = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    metadata.create_all(made)
    q = "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version' ORDER BY name"
    with engine.connect() as a, made.connect() as b:
        assert a.exec_driver_sql(q).all() == b.exec_driver_sql(q).all()


def test_head_matches_the_metadata_on_postgresql(pg_url):
    engine = sa.create_engine(pg_url)
    try:
        assert schema.upgrade(pg_url) == schema.head()
        assert schema.current(pg_url) == schema.head()
        assert table_names(engine) == set(metadata.tables)
        assert differences(engine) == []
        cols = {c["name"]: c for c in sa.inspect(engine).get_columns("dead_letters")}
        assert "nextval" in str(cols["id"]["default"])  # SERIAL, as create_all made it
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_is_idempotent_and_keeps_rows(kind, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'x.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    schema.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(audit_log.insert().values(chain="c", seq=1, ts=1.0, actor="a", action="x", subject="s",
                                                   payload="{}", prev="0", hash="h"))
        assert schema.upgrade(url) == schema.upgrade(engine) == schema.head()
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_store_made_before_migrations_is_adopted(tmp_path):
    """create_all-era stores: some tables, api_keys without created_by; upgrade adds the rest and keeps rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = sa.MetaData()
    for t in (verdicts, audit_log):
        t.to_metadata(old)
    keys = sa.Table("api_keys", old, *without_created_by())
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(keys.insert().values(id="k1", name="n", hash="h", scopes=["admin"], rate=1.0, burst=1.0,
                                          created=0.0, revoked=None))
    assert differences(engine) != []
    schema.upgrade(engine)
    assert differences(engine) == []
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_keys)).one()
    assert row.id == "k1" and row.created_by is None


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_together_migrate_once(kind, tmp_path, request):
    """Four migrators at once on one fresh database: each succeeds (the lock serialises them), one version row."""
    url = f"sqlite:///{tmp_path / 'race.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        engine = sa.create_engine(url)  # one engine each, as separate processes would have
        try:
            barrier.wait()
            schema.upgrade(engine)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [schema.head()]
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_database_from_a_newer_floodwall_is_refused_by_name(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    schema.upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(schema.SchemaError, match="9999"):
        schema.upgrade(engine)
    assert main(["db", "upgrade", "--url", url]) == 1
    assert "9999" in capsys.readouterr().err
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_gate_answers_stored_before_0003_keep_their_place_and_age_from_the_upgrade(kind, tmp_path, request):
    """0003 adds gate_answers.ts: answers already stored stay, aged from the upgrade (a cut keeps them a full
    retry window), and a later downgrade leaves them too."""
    import time

    from alembic import command

    from floodwall.persistence.tables import gate_answers

    url = f"sqlite:///{tmp_path / 'g.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    cfg = schema.alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(sa.table("gate_answers", sa.column("run"), sa.column("id"), sa.column("answer")).insert(),
                         [{"run": "r", "id": f"g{k}", "answer": b"{}"} for k in range(3)])
        before = time.time()
        schema.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(gate_answers.c.id, gate_answers.c.ts).order_by(gate_answers.c.id)).all()
        assert [r.id for r in rows] == ["g0", "g1", "g2"] and all(before - 1 <= r.ts <= time.time() + 1 for r in rows)
        assert differences(engine) == []
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM gate_answers")).scalar() == 3
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(tmp_path):
    from alembic import command

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'd.db'}")
    schema.upgrade(engine)
    cfg = schema.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert table_names(engine) == set()
    schema.upgrade(engine)
    assert differences(engine) == []


def test_in_memory_stores_get_every_table_without_alembic():
    engine = sa.create_engine("sqlite://")
    schema.ensure(engine)
    assert table_names(engine) == set(metadata.tables)
    assert "alembic_version" not in sa.inspect(engine).get_table_names()


def test_the_cli_upgrades_and_names_a_bad_url(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "current", "--url", url]) == 0
    assert "current none" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0
    assert f"at {schema.head()} (was unmigrated)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{url}: at {schema.head()}"
    assert main(["db", "upgrade", "--url", "not a url"]) == 2
    assert "url" in capsys.readouterr().err
    assert main(["db", "upgrade", "--url", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"]) == 1
    assert "--url" in capsys.readouterr().err


# ---- the schema lives in one place -----------------------------------------------------------------------

SQL_WORDS = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|BEGIN|WITH|TRUNCATE|VACUUM)\b",
                       re.IGNORECASE)


def _outside_persistence() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if PERSISTENCE not in p.parents]


def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if name in names:
                out.append(node)
    return out


def schema_findings(source: str) -> list[str]:
    """Where a module declares a table or metadata, or writes SQL as a string (line and what)."""
    tree = ast.parse(source)
    found = [f"{c.lineno} {ast.unparse(c.func)}" for c in _calls(tree, {"MetaData", "Table"})]
    for c in _calls(tree, {"text", "exec_driver_sql", "literal_column"}):
        f = c.func
        if isinstance(f, ast.Name) or ast.unparse(f.value) in ("sa", "sqlalchemy", "conn", "connection"):
            found.append(f"{c.lineno} {ast.unparse(f)}")
    for c in _calls(tree, {"execute", "executemany", "exec_driver_sql", "executescript"}):
        for arg in c.args[:1]:
            s = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(arg, ast.JoinedStr):
                s = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
            if isinstance(s, str) and SQL_WORDS.match(s):
                found.append(f"{c.lineno} {s[:40]!r}")
    return found


def test_no_table_or_sql_string_outside_the_persistence_module():
    """No MetaData/Table, no text()/exec_driver_sql(), no SQL string handed to execute() anywhere else under src/."""
    found = [f"{p.relative_to(SRC)}:{f}" for p in _outside_persistence()
             for f in schema_findings(p.read_text(encoding="utf-8"))]
    assert found == []


def test_the_scan_sees_what_it_forbids():
    """Not vacuous: each forbidden form in a module is flagged; Core expressions are not."""
    bad = (
        "import sqlalchemy as sa\n"
        "m = sa.MetaData()\n"
        "t = sa.Table('x', m)\n"
        "def f(conn, cur):\n"
        "    conn.execute(sa.text('SELECT 1'))\n"
        "    conn.exec_driver_sql('VACUUM')\n"
        "    cur.execute(f'PRAGMA synchronous={1}')\n"
        "    cur.execute('insert into x values (1)')\n"
    )
    assert sorted(int(f.split()[0]) for f in schema_findings(bad)) == [2, 3, 5, 6, 6, 7, 8]
    good = "import sqlalchemy as sa\ndef f(conn, t):\n    conn.execute(sa.select(t).where(t.c.id == 1))\n"
    assert schema_findings(good) == []


def test_the_migrations_ship_in_the_wheel():
    """setuptools finds packages by __init__.py, and the template only through package-data."""
    import tomllib

    for d in (PERSISTENCE / "migrations", PERSISTENCE / "migrations" / "versions"):
        assert (d / "__init__.py").exists(), d
    data = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "persistence/migrations/script.py.mako" in data["floodwall"]


def test_the_service_migrates_its_store_when_it_opens_it(tmp_path):
    """open_store (serve, worker, coordinator) and KeyStore (`floodwall keys`) leave the database at head."""
    from floodwall.adapters.keys import KeyStore
    from floodwall.service.runtime import open_store

    url = f"sqlite:///{tmp_path / 'svc.db'}"
    store = open_store(url, "r")
    assert schema.current(store.engine) == schema.head()
    store.engine.dispose()
    old = tmp_path / "old-keys.db"
    engine = sa.create_engine(f"sqlite:///{old}")
    legacy = sa.MetaData()
    sa.Table("api_keys", legacy, *without_created_by())
    legacy.create_all(engine)
    keys = KeyStore(engine, pepper=b"p" * 32)  # a store from before created_by: adopted on open
    _, parent = keys.create("parent", ["admin"])
    _, child = keys.create("child", ["review"], created_by=parent.id)
    assert keys.lineage(child.id) == [child.id, parent.id]
    assert schema.current(engine) == schema.head()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_verdict_evidence_with_numpy_numbers_and_nan_is_stored_on_both_databases(kind, tmp_path, request):
    import numpy as np

    from floodwall.adapters.store import SqlStore
    from floodwall.events import Verdict
    from floodwall.persistence.dml import json_text

    url = f"sqlite:///{tmp_path / 'e.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    store = SqlStore(url, run="r")
    evidence = {"stream.score": np.float32(0.5), "stream.frames": np.int64(7), "stream.matched": np.bool_(True),
                "account.ratio": float("nan"), "incident.level": "normal"}
    store.record([Verdict(id="v1", ts=1.0, subject="stream", key="s1", action="review", rules=["r"],
                          policy="p", evidence=evidence)], [])
    (row,) = store.decisions_for("s1")
    # numpy scalars read back as numbers; NaN as null (PostgreSQL's json refuses the NaN token json.dumps wrote)
    assert row["evidence"] == {"stream.score": 0.5, "stream.frames": 7, "stream.matched": True,
                               "account.ratio": None, "incident.level": "normal"}
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_text({"x": object()})
    store.engine.dispose()
