"""The gate log: answers on disk in one write, copied into the journal at restart when the journal lacks them."""

from __future__ import annotations

import os

import msgspec
import pytest
import sqlalchemy as sa

from floodwall.events import StreamStarted
from floodwall.service import gatelog as gatelog_mod
from floodwall.service.gatelog import GateLog
from floodwall.service.journal import Journal, tune_sqlite


def _started(i: int) -> StreamStarted:
    return StreamStarted(id=f"g{i}", ts=100.0 + i, stream=f"live{i}", account=f"a{i}", device=f"d{i}", ip="10.0.0.1")


def _answer(i: int) -> bytes:
    return msgspec.json.encode({"event": f"g{i}", "action": "allow", "verdict": f"v{i}"})


@pytest.fixture
def db(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    tune_sqlite(eng)
    yield eng, tmp_path / "fw.db.gates"
    eng.dispose()


def _restart(eng, path) -> tuple[Journal, GateLog, int]:
    """What a start does: open the journal, then restore from the gate log (the committer not started yet)."""
    j = Journal(eng, "service", deliver=lambda seq, evs: None)
    j.open()
    g = GateLog(path)
    return j, g, g.restore(j)


def test_answers_the_journal_lacks_are_copied_in_at_restart(db):
    eng, path = db
    j, g, copied = _restart(eng, path)
    assert copied == 0
    for i in range(3):
        g.write(_started(i), _answer(i))
    j.commit_now([([_started(0)], "done", ("g0", _answer(0)))])  # the first made it to the journal before the kill
    g.close()  # killed: the other two never reached the journal
    j2, g2, copied = _restart(eng, path)
    assert copied == 2
    assert [j2.answer(f"g{i}") for i in range(3)] == [_answer(i) for i in range(3)]
    done = [(kind, [e.id for e in evs]) for _seq, kind, evs in j2.rows()]
    assert done == [("done", ["g0"]), ("done", ["g1"]), ("done", ["g2"])]  # replayed to rebuild the engine
    assert path.stat().st_size == 0
    g2.close()
    _j3, g3, copied = _restart(eng, path)  # nothing is copied twice
    assert copied == 0
    g3.close()


def test_a_torn_last_record_is_left_out(db):
    eng, path = db
    _j, g, _ = _restart(eng, path)
    g.write(_started(1), _answer(1))
    g.write(_started(2), _answer(2))
    g.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])  # a power loss in the middle of the second write
    j2, g2, copied = _restart(eng, path)
    assert copied == 1 and j2.answer("g1") == _answer(1) and j2.answer("g2") is None
    g2.close()


def test_records_of_another_database_are_never_replayed(db, tmp_path):
    eng, path = db
    _j, g, _ = _restart(eng, path)
    g.write(_started(1), _answer(1))
    g.close()
    # The database is replaced (deleted and made again); the old gate log is still beside it.
    eng.dispose()
    for f in tmp_path.glob("fw.db*"):
        if f != path:
            f.unlink()
    fresh = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    tune_sqlite(fresh)
    j2, g2, copied = _restart(fresh, path)
    assert copied == 0 and j2.answer("g1") is None and list(j2.rows()) == []
    g2.close()
    fresh.dispose()


def test_the_file_is_cut_back_only_when_the_journal_holds_every_record(db, monkeypatch):
    eng, path = db
    monkeypatch.setattr(gatelog_mod, "CUT_AT", 200)
    j, g, _ = _restart(eng, path)
    j.start()
    try:
        for i in range(4):
            g.write(_started(i), _answer(i))
        assert g.written == 4 and g.journaled == 0
        size = path.stat().st_size
        assert size > 200
        g.write(_started(4), _answer(4))  # four records not yet journaled: the file keeps them
        assert path.stat().st_size > size
        futs = [j.enqueue([_started(i)], "done", (f"g{i}", _answer(i))) for i in range(5)]
        for f in futs:
            f.add_done_callback(g.on_journaled)
            f.result(timeout=10)
        assert g.journaled == 5
        g.write(_started(5), _answer(5))  # now every earlier record is in the journal: cut back first
        assert [ev.id for _b, ev, _a in g.records()] == ["g5"]
        assert os.path.getsize(path) < size
    finally:
        j.stop()
        g.close()


def test_a_failed_journal_commit_leaves_the_record_to_the_file(db):
    eng, path = db
    _j, g, _ = _restart(eng, path)
    g.write(_started(1), _answer(1))
    import concurrent.futures

    fut: concurrent.futures.Future = concurrent.futures.Future()
    fut.add_done_callback(g.on_journaled)
    fut.set_exception(RuntimeError("disk full"))
    assert g.journaled == 0 and g.written == 1
    g.close()


def test_a_stopped_log_refuses_writes_and_opens_again_at_the_next_start(db):
    eng, path = db
    j, g, _ = _restart(eng, path)
    g.write(_started(1), _answer(1))
    g.close()
    with pytest.raises(OSError, match="not open"):
        g.write(_started(2), _answer(2))
    j2 = Journal(eng, "service", deliver=lambda seq, evs: None)
    j2.open()
    assert g.restore(j2) == 1  # the same object, started again (an app's lifespan run twice)
    g.write(_started(3), _answer(3))
    assert [ev.id for _b, ev, _a in g.records()] == ["g3"]
    g.close()


def test_a_start_that_dies_before_cutting_the_file_leaves_its_records_to_the_next(db):
    eng, path = db
    j, g, _ = _restart(eng, path)
    g.write(_started(1), _answer(1))
    g.close()  # killed before the journal's copy
    j2 = Journal(eng, "service", deliver=lambda seq, evs: None)
    j2.open()  # the next start counts its boot, then dies before restoring the gate log
    j3, g3, copied = _restart(eng, path)  # two boots after the record was written
    assert copied == 1 and j3.answer("g1") == _answer(1)
    g3.close()
