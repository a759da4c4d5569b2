"""Segment files of a SQLite journal: the batches' bytes beside the database, the rows pointing to them."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from floodwall.events import ReportFiled
from floodwall.persistence.tables import journal
from floodwall.service import segments as seg_mod
from floodwall.service.journal import Journal, JournalError, tune_sqlite
from floodwall.service.runtime import mark_processed
from floodwall.service.segments import REF, Segments, is_ref


def _events(n: int, tag: str) -> list[ReportFiled]:
    return [ReportFiled(id=f"{tag}-{i}", ts=1.0 + i, stream=f"s-{tag}", reporter=f"r{i}", reason="other")
            for i in range(n)]


@pytest.fixture
def eng(tmp_path):
    e = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    tune_sqlite(e)
    yield e
    e.dispose()


def _journal(eng) -> Journal:
    j = Journal(eng, "service", deliver=lambda seq, evs: None)
    j.open()
    return j


def _ids(j: Journal) -> list[tuple[int, list[str]]]:
    return [(seq, [e.id for e in evs]) for seq, _kind, evs in j.rows()]


def _bodies(eng) -> list[bytes]:
    with eng.connect() as conn:
        return conn.execute(sa.select(journal.c.body).order_by(journal.c.seq)).scalars().all()


def test_event_batches_go_to_a_segment_and_the_rows_point_to_them(eng, tmp_path):
    j = _journal(eng)
    j.commit_now([(_events(3, "a"), "event", None), (_events(1, "g"), "done", ("g-0", b"{}")),
                  (_events(2, "b"), "event", None)])
    bodies = _bodies(eng)
    assert [is_ref(b) for b in bodies] == [True, False, True]  # a gate call's row keeps its batch
    assert all(len(b) < 40 for b in bodies if is_ref(b))
    assert [p.name for p in (tmp_path / "fw.db.segments" / "service").iterdir()] == ["000001-000000000001.seg"]
    j.stop()
    assert _ids(_journal(eng)) == [(1, ["a-0", "a-1", "a-2"]), (2, ["g-0"]), (3, ["b-0", "b-1"])]


def test_a_new_start_writes_a_new_segment_and_reads_the_old_one(eng, tmp_path):
    j = _journal(eng)
    j.commit_now([(_events(1, "a"), "event", None)])
    j.stop()
    again = _journal(eng)
    again.commit_now([(_events(1, "b"), "event", None)])
    names = sorted(p.name for p in (tmp_path / "fw.db.segments" / "service").iterdir())
    assert names == ["000001-000000000001.seg", "000002-000000000002.seg"]
    assert _ids(again) == [(1, ["a-0"]), (2, ["b-0"])]


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_a_damaged_or_missing_record_is_refused_naming_its_file(eng, tmp_path, damage):
    j = _journal(eng)
    j.commit_now([(_events(5, "a"), "event", None)])
    j.stop()
    path = tmp_path / "fw.db.segments" / "service" / "000001-000000000001.seg"
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 1]) + data[-2:])
    elif damage == "truncate":
        path.write_bytes(data[:-1])
    else:
        path.unlink()
    with pytest.raises(JournalError, match=r"journal batch 1: .*000001-000000000001\.seg"):
        _ids(_journal(eng))


def test_a_record_whose_row_never_committed_is_not_replayed_and_goes_at_the_next_cut(eng, tmp_path, monkeypatch):
    j = _journal(eng)
    j.commit_now([(_events(1, "a"), "event", None)])
    real = j._insert

    def fail(conn, rows, answers):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(j, "_insert", fail)
    with pytest.raises(JournalError, match="disk I/O error"):
        j.commit_now([(_events(1, "lost"), "event", None)])  # written to the segment, its row refused
    monkeypatch.setattr(j, "_insert", real)
    j.commit_now([(_events(1, "b"), "event", None)])
    j.stop()
    assert _ids(_journal(eng)) == [(1, ["a-0"]), (2, ["b-0"])]  # seq 2 was the refused one's, then reused


def test_a_cut_removes_the_segments_only_cut_rows_point_into(eng, tmp_path, monkeypatch):
    monkeypatch.setattr(seg_mod, "SEGMENT_BYTES", 1)  # a new segment for every group
    folder = tmp_path / "fw.db.segments" / "service"
    j = _journal(eng)
    for k in range(4):
        j.commit_now([(_events(2, f"b{k}"), "event", None)])
    (folder / "000000-000000000099.seg").write_bytes(b"left by another database")
    assert len(list(folder.iterdir())) == 5
    with eng.begin() as conn:
        mark_processed(conn, "service", 2)
    assert j.cut(2, b"state", "mac") == 2
    assert sorted(p.name for p in folder.iterdir()) == ["000001-000000000003.seg", "000001-000000000004.seg"]
    j.commit_now([(_events(1, "after"), "event", None)])
    j.stop()
    again = _journal(eng)
    assert [seq for seq, _ in _ids(again)] == [3, 4, 5]
    with eng.begin() as conn:
        mark_processed(conn, "service", 5)
    again.cut(5, b"state", "mac")
    assert list(folder.iterdir()) == []  # nothing is pointed into, and this start has not written yet


def test_the_fsync_setting_governs_the_segment_writes(eng, tmp_path, monkeypatch):
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(seg_mod.os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    j = _journal(eng)
    j.commit_now([(_events(1, "a"), "event", None), (_events(1, "b"), "event", None)])
    assert len(calls) == 1  # one for the group
    monkeypatch.setenv("FLOODWALL_SYNC", "normal")
    lazy = Journal(eng, "other", deliver=lambda seq, evs: None)
    lazy.open()
    lazy.commit_now([(_events(1, "c"), "event", None)])
    assert len(calls) == 1
    assert (tmp_path / "fw.db.segments" / "other").is_dir()  # each run its own folder: no shared file names


def test_a_group_of_more_batches_than_one_writev_takes_is_written_whole(tmp_path):
    s = Segments(tmp_path / "segs")
    s.open(1)
    bodies = [bytes([k % 256]) * (k + 1) for k in range(1500)]  # 3,000 buffers
    refs = s.write(list(enumerate(bodies, start=1)))
    assert all(r[:1] == REF for r in refs)
    assert [s.read(seq, r) for seq, r in enumerate(refs, start=1)] == bodies
    with pytest.raises(seg_mod.SegmentError, match="damaged"):
        s.read(2, refs[0])  # a reference read as another batch's


def test_a_run_name_unfit_for_a_path_gets_a_hashed_folder(tmp_path):
    from floodwall.service.segments import segment_folder

    assert segment_folder(f"{tmp_path}/fw.db", "service") == tmp_path / "fw.db.segments" / "service"
    odd = segment_folder(f"{tmp_path}/fw.db", "../../etc")
    assert odd.parent == tmp_path / "fw.db.segments" and odd.name.startswith("run-") and "/" not in odd.name
    assert segment_folder(f"{tmp_path}/fw.db", "..").name.startswith("run-")
