"""Hash-list exchange: python-threatexchange's formats, the local-file fetcher, bank sync, banks import/export."""

from __future__ import annotations

import pytest
from service_helpers import served

from floodwall.adapters.keys import KeyStore
from floodwall.cli import main
from floodwall.content.bank import HashBank
from floodwall.content.exchange import LocalFileFetcher, dump, parse, sync_bank
from floodwall.service.app import create_app
from floodwall.service.serve import build_backend

A, B, C = "a" * 64, "0123456789abcdef" * 4, "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_pdq_lines_and_typed_csv_are_read_and_detected():
    assert parse(f"# export\n{A}\n\n{B.upper()},extra\n{A}\n").hashes == [A, B]
    typed = f"signal_type,signal\npdq,{A}\nvideo_md5,d41d8cd98f00b204e9800998ecf8427e\nPDQ,{B}\npdq,{A}\n"
    got = parse(typed)
    assert got.hashes == [A, B] and got.skipped == {"video_md5": 1}
    assert parse(typed, "te-csv").hashes == [A, B]
    with pytest.raises(ValueError, match="line 2: PDQ hash must be 64 hex digits"):
        parse(f"{A}\nnot-a-hash\n", "pdq")
    with pytest.raises(ValueError, match="line 3: bad pdq signal"):
        parse(f"pdq,{A}\npdq,{B}\npdq,xyz\n")
    with pytest.raises(ValueError, match="line 1: expected 'signal_type,signal'"):
        parse("pdq\n", "te-csv")
    with pytest.raises(ValueError, match="format must be one of"):
        parse("", "json")  # type: ignore[arg-type]


def test_dump_round_trips_in_both_formats():
    for fmt in ("pdq", "te-csv"):
        assert parse(dump([A, B, C], fmt)).hashes == [A, B, C]
    assert dump([A], "te-csv") == f"pdq,{A}\n"
    with pytest.raises(ValueError):
        dump([A], "csv")  # type: ignore[arg-type]


def test_local_file_fetcher_sync_adds_withdraws_and_keeps_other_entries(tmp_path):
    f = tmp_path / "partner.csv"
    f.write_text(f"pdq,{A}\npdq,{B}\n")
    bank = HashBank("PARTNER")
    bank.add(C, source="review:1")  # ours, not the partner's
    fetcher = LocalFileFetcher(f, name="partner")
    first = sync_bank(bank, fetcher)
    assert (first.added, first.removed) == (2, 0) and sorted(bank.hexes()) == sorted([A, B, C])
    again = sync_bank(bank, fetcher, first.checkpoint)  # unchanged file: nothing to do
    assert (again.added, again.removed, again.checkpoint) == (0, 0, first.checkpoint)
    f.write_text(f"pdq,{B}\n")  # the partner withdrew A
    third = sync_bank(bank, fetcher, first.checkpoint)
    assert (third.added, third.removed) == (0, 1) and sorted(bank.hexes()) == sorted([B, C])
    f.unlink()
    with pytest.raises(FileNotFoundError, match="partner.csv"):
        sync_bank(bank, fetcher, third.checkpoint)


def test_banks_import_and_export_against_a_running_service(tmp_path, capsys):
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    keys = KeyStore(backend.store.engine)
    op = keys.create("op", ["operate"])[0]
    src = tmp_path / "list.csv"
    src.write_text(f"signal_type,signal\npdq,{A}\nvideo_md5,d41d8cd98f00b204e9800998ecf8427e\npdq,{B}\n")
    with served(create_app(backend, keys)) as url:
        assert main(["banks", "import", str(src), "--bank", "partner", "--url", url, "--key", op]) == 0
        assert "read 2 PDQ hashes from list.csv, 2 new, skipped 1 video_md5" in capsys.readouterr().out
        assert A in backend.hub.engine.banks["partner"]  # the engine matches it at once
        out = tmp_path / "out.csv"
        assert main(["banks", "export", "--bank", "partner", "--format", "te-csv", "-o", str(out),
                     "--url", url, "--key", op]) == 0
        assert sorted(out.read_text().splitlines()) == sorted([f"pdq,{A}", f"pdq,{B}"])
        assert main(["banks", "export", "--bank", "nope", "--url", url, "--key", op]) == 1
        assert "HTTP 404" in capsys.readouterr().err
        bad = tmp_path / "bad.txt"
        bad.write_text("zzz\n")
        assert main(["banks", "import", str(bad), "--bank", "partner", "--url", url, "--key", op]) == 2
        assert "line 1" in capsys.readouterr().err
        assert main(["banks", "import", str(tmp_path / "missing"), "--bank", "x", "--url", url, "--key", op]) == 2
        assert main(["banks", "import", str(src), "--bank", "partner", "--url", url, "--key", "fw_bad_key"]) == 1
