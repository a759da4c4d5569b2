"""The embedded journal: group commits in order, checkpoints off the commit path, recovery after a failed commit."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import sqlalchemy as sa

from floodwall.events import ReportFiled
from floodwall.service import journal as journal_mod
from floodwall.service.journal import Journal, JournalError, tune_sqlite


def _events(n: int, tag: str) -> list[ReportFiled]:
    return [ReportFiled(id=f"{tag}-{i}", ts=1.0 + i, stream=f"s-{tag}", reporter=f"r{i}", reason="other")
            for i in range(n)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
        tune_sqlite(eng)
        yield eng
        eng.dispose()
        return
    from service_helpers import new_pg_database

    url, drop = new_pg_database("fwjournal")
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()
    drop()


def test_batches_are_delivered_in_seq_order_and_read_back(engine):
    delivered: list[tuple[int, list[str]]] = []
    j = Journal(engine, "r", deliver=lambda seq, evs: delivered.append((seq, [e.id for e in evs])))
    j.open()
    j.start()

    async def post() -> list[int]:
        return list(await asyncio.gather(*(j.append(_events(3, f"b{k}")) for k in range(20))))

    seqs = asyncio.run(post())
    j.stop()
    assert sorted(seqs) == list(range(1, 21))
    assert [s for s, _ in delivered] == list(range(1, 21))
    rows = list(j.rows())
    assert [seq for seq, _, _ in rows] == list(range(1, 21))
    by_seq = dict(delivered)
    assert all([e.id for e in evs] == by_seq[seq] for seq, _, evs in rows)


def test_wal_checkpoints_run_in_their_own_thread(engine, monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("WAL checkpoints are SQLite's")
    calls: list[tuple[str, tuple[int, int]]] = []
    real = journal_mod.checkpoint

    def spy(conn):
        got = real(conn)
        calls.append((threading.current_thread().name, got))
        return got

    monkeypatch.setattr(journal_mod, "checkpoint", spy)
    monkeypatch.setattr(journal_mod, "CHECKPOINT_EVERY", 0.05)
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.start()
    for k in range(30):
        j.enqueue(_events(50, f"c{k}")).result(10)
    end = time.monotonic() + 5
    while not any(done > 0 for _, (_, done) in calls) and time.monotonic() < end:
        time.sleep(0.02)
    j.stop()
    assert any(done > 0 for _, (_, done) in calls), calls
    assert {name for name, _ in calls} == {"floodwall-checkpoint"}


def test_a_failed_commit_refuses_its_batch_and_the_next_commit_works(engine, monkeypatch):
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.start()
    real = j._insert
    state = {"fail": True}

    def flaky(conn, rows, answers):
        if state.pop("fail", False):
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))
        real(conn, rows, answers)

    monkeypatch.setattr(j, "_insert", flaky)
    with pytest.raises(JournalError, match="disk I/O error"):
        j.enqueue(_events(2, "x")).result(10)
    assert not j.alive()
    assert j.enqueue(_events(2, "y")).result(10) == 1
    assert j.alive()
    j.stop()
    assert [[e.id for e in evs] for _, _, evs in j.rows()] == [["y-0", "y-1"]]


def test_a_batch_that_cannot_be_encoded_fails_its_caller_and_the_committer_goes_on(engine, monkeypatch):
    real = journal_mod._encoder

    class Picky:
        def encode(self, events):
            if events and events[0].id.startswith("bad"):
                raise TypeError("cannot encode")
            return real.encode(events)

    monkeypatch.setattr(journal_mod, "_encoder", Picky())
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.start()
    try:
        with pytest.raises(JournalError, match="cannot encode"):  # an answer, not a caller left waiting
            j.enqueue(_events(1, "bad")).result(timeout=5)
        assert j.alive()  # one bad batch, not a broken journal
        assert j.enqueue(_events(2, "good")).result(timeout=5) == 1
    finally:
        j.stop()
    assert [[e.id for e in evs] for _, _, evs in j.rows()] == [["good-0", "good-1"]]


def test_a_batch_queued_behind_a_reply_is_committed_without_waiting_for_other_traffic(engine):
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.start()
    try:
        futs = [j.enqueue_behind(_events(1, f"gate{k}"), (f"gate{k}-0", b"{}")) for k in range(3)]
        assert sorted(f.result(timeout=5) for f in futs) == [1, 2, 3]  # nothing else came: committed anyway
        assert j.answer("gate2-0") == b"{}"
    finally:
        j.stop()
    assert [kind for _s, kind, _e in j.rows()] == ["done"] * 3


def test_batches_queued_behind_while_a_commit_runs_share_the_next_and_go_first(engine, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real = Journal._insert

    def slow_first(self, conn, rows, answers):
        if not entered.is_set():  # hold the first commit open while more arrives
            entered.set()
            release.wait(10)
        real(self, conn, rows, answers)

    monkeypatch.setattr(Journal, "_insert", slow_first)
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.start()
    try:
        first = j.enqueue(_events(1, "first"))
        assert entered.wait(10)
        later = j.enqueue(_events(2, "ingest"))  # queued before the gate batches below...
        behind = [j.enqueue_behind(_events(1, f"gate{k}"), (f"gate{k}-0", b"{}")) for k in range(3)]
        commits = j.commits
        release.set()
        assert first.result(timeout=10) == 1
        seq = later.result(timeout=10)
        # ...yet committed after them, in one group: they were applied before it was delivered.
        assert [f.result(timeout=10) for f in behind] == [2, 3, 4] and seq == 5
        assert j.commits == commits + 2
        last = j.enqueue_behind(_events(1, "gate9"), ("gate9-0", b"{}"))
    finally:
        j.stop()  # a stop commits what waits behind
    assert last.result(timeout=10) == 6
    assert [kind for _s, kind, _e in j.rows()] == ["event"] + ["done"] * 3 + ["event", "done"]
    assert j.answer("gate9-0") == b"{}"


def test_a_cut_keeps_the_snapshot_in_parts_and_drops_the_rows_it_covers(engine):
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.commit_now([(_events(2, f"b{k}"), "event", None) for k in range(5)])
    data = bytes(range(256)) * 40
    assert j.cut(3, data, "mac-1", part=1000) == 3  # rows 1-3 go, in the snapshot's transaction
    assert [seq for seq, _, _ in j.rows()] == [4, 5]
    assert j.snapshot() == (3, data, "mac-1")
    assert j.cut(5, b"later", "mac-2") == 2
    assert j.snapshot() == (5, b"later", "mac-2") and list(j.rows()) == []  # the older snapshot went too


def test_seqs_go_on_after_a_cut_that_left_no_rows(engine):
    """A cut of every row, then a restart: new batches must not reuse seqs at or below the processed mark."""
    from floodwall.service.runtime import mark_processed

    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.commit_now([(_events(1, f"b{k}"), "event", None) for k in range(3)])
    with engine.begin() as conn:
        mark_processed(conn, "r", 3)
    assert j.cut(3, b"state", "mac") == 3
    again = Journal(engine, "r", deliver=lambda seq, evs: None)
    again.open()
    again.commit_now([(_events(1, "late"), "event", None)])  # accepted, not yet processed
    third = Journal(engine, "r", deliver=lambda seq, evs: None)
    third.open()
    assert [(seq, [e.id for e in evs]) for seq, _k, evs in third.rows() if seq > third.processed] == [(4, ["late-0"])]


def test_a_cut_drops_gate_answers_older_than_the_retry_window(engine, monkeypatch):
    """Gate answers are kept GATE_ANSWERS_KEEP for retries, then a cut drops them: the table no longer grows with
    every gate call for as long as the service runs. Answers within the window are untouched."""
    now = [1_000_000.0]
    monkeypatch.setattr(journal_mod.time, "time", lambda: now[0])
    j = Journal(engine, "r", deliver=lambda seq, evs: None)
    j.open()
    j.commit_now([([ev], "done", (ev.id, f"answer-{ev.id}".encode())) for ev in _events(3, "old")])
    now[0] += journal_mod.GATE_ANSWERS_KEEP - 60
    j.commit_now([([ev], "done", (ev.id, f"answer-{ev.id}".encode())) for ev in _events(2, "new")])
    j._answers.clear()  # what a restart forgets: the table alone answers
    now[0] += 120  # the old ones are now past the window, the new ones are not
    j.cut(0, b"state", "mac")
    assert [j.answer(f"old-{k}") for k in range(3)] == [None, None, None]
    assert [j.answer(f"new-{k}") for k in range(2)] == [b"answer-new-0", b"answer-new-1"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(journal_mod.gate_answers)).scalar() == 2
