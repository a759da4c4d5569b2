"""Hash banks: ThreatExchange hex import/export, dedupe, and block/allow matching."""

from __future__ import annotations

import numpy as np
import pytest

from floodwall.content.bank import BankSet, HashBank, parse_hash_lines
from floodwall.content.pdq import from_hex, hamming, to_hex, to_hex_many


def rand_hex(rng: np.random.Generator, n: int) -> list[str]:
    return to_hex_many(rng.integers(0, 2**64 - 1, (n, 4), dtype=np.uint64, endpoint=True))


def at_distance(rng: np.random.Generator, hex_hash: str, d: int) -> np.ndarray:
    h = from_hex(hex_hash)
    bits = np.unpackbits(h.astype(">u8").view(np.uint8))
    bits[rng.choice(256, d, replace=False)] ^= 1
    out = np.packbits(bits).view(">u8").astype(np.uint64)
    assert hamming(out, h) == d
    return out


# ----------------------------------------------------------------------------- HashBank


def test_import_export_round_trip_with_comments_and_extra_columns(tmp_path):
    rng = np.random.default_rng(0)
    hexes = rand_hex(rng, 5)
    text = "\n".join(
        [
            "# ThreatExchange export",
            "",
            hexes[0],
            f"  {hexes[1].upper()}  ",  # case and padding normalised
            f"{hexes[2]},1685000000,some-tag",  # extra CSV columns
            f"{hexes[3]}\tdescriptor 12 # trailing",
            "   # indented comment",
            hexes[0],  # duplicate: skipped
            hexes[4],
        ]
    )
    bank = HashBank("ncmec")
    assert bank.import_text(text, source="te", added_at=123.0) == 5
    assert bank.hexes() == hexes and len(bank) == 5
    exported = bank.export_text()
    assert exported == "".join(h + "\n" for h in hexes)
    again = HashBank("copy")
    again.import_text(exported)
    assert again.export_text() == exported
    path = tmp_path / "bank.txt"
    bank.export_file(path)
    assert path.read_text() == exported
    from_file = HashBank("file")
    assert from_file.import_file(path) == 5
    assert from_file.export_text() == exported
    assert from_file.source == ["bank.txt"] * 5
    assert bank.source == ["te"] * 5 and bank.added_at == [123.0] * 5


@pytest.mark.parametrize(
    ("lines", "lineno", "reason"),
    [
        (["{h}", "# c", "abc"], 3, "64 hex digits, got 3"),
        (["{h}", "", "{h}0"], 3, "64 hex digits, got 65"),
        (["pdq_hash,tags", "{h}"], 1, "64 hex digits, got 8"),
        (["{h}", "{g}"], 2, "non-hex character 'z'"),
        (["", "", "", ",{h}"], 4, "empty hash field"),
    ],
)
def test_bad_line_names_line_number_and_reason(lines, lineno, reason):
    h = rand_hex(np.random.default_rng(1), 1)[0]
    g = "z" + h[1:]
    text = "\n".join(line.format(h=h, g=g) for line in lines)
    bank = HashBank("b")
    with pytest.raises(ValueError, match=rf"^line {lineno}: .*{reason}"):
        bank.import_text(text)
    assert len(bank) == 0  # all-or-nothing


def test_parse_hash_lines_handles_crlf():
    hexes = rand_hex(np.random.default_rng(2), 2)
    assert parse_hash_lines(f"{hexes[0]}\r\n\r\n{hexes[1]}\r\n") == hexes


def test_add_forms_dedupe_and_remove():
    rng = np.random.default_rng(3)
    hexes = rand_hex(rng, 4)
    bank = HashBank("b", "allow")
    assert bank.add(hexes[0], source="manual", note="n1") == 1
    assert bank.add([hexes[1], hexes[1].upper(), hexes[0]]) == 1  # in-batch and existing dupes
    assert bank.add(from_hex(hexes[2])) == 1  # one (4,) array
    assert bank.add(np.stack([from_hex(hexes[2]), from_hex(hexes[3])])) == 1
    assert len(bank) == 4 and bank.hexes() == hexes
    assert bank.note[0] == "n1" and bank.source[0] == "manual"
    assert hexes[1].upper() in bank
    assert bank.remove(hexes[1].upper()) is True
    assert bank.remove(hexes[1]) is False
    assert len(bank) == 3 and bank.hexes() == [hexes[0], hexes[2], hexes[3]]
    assert bank.add(hexes[1]) == 1  # re-add gets a new entry id
    assert bank.hexes()[-1] == hexes[1] and bank.n_rows == 5
    with pytest.raises(ValueError, match="64 hex digits"):
        bank.add("abc")
    with pytest.raises(ValueError, match="kind"):
        HashBank("x", "deny")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- BankSet


def test_block_match_threshold_and_best_bank():
    rng = np.random.default_rng(4)
    hexes = rand_hex(rng, 3)
    b1, b2 = HashBank("b1"), HashBank("b2")
    b1.add(rand_hex(rng, 500) + [hexes[0]])
    b2.add([hexes[1]])
    bs = BankSet([b1, b2])
    q = np.stack(
        [
            at_distance(rng, hexes[0], 31),  # b1 at threshold
            at_distance(rng, hexes[1], 10),  # b2
            at_distance(rng, hexes[2], 0),  # in no bank
            at_distance(rng, hexes[0], 32),  # just over
        ]
    )
    m = bs.match(q)
    assert m.matched.tolist() == [True, True, False, False]
    assert m.distance.tolist() == [31, 10, -1, -1]
    assert m.bank.tolist() == [0, 1, -1, -1]
    assert m.entry.tolist() == [500, 0, -1, -1]
    assert [m.bank_name(i) for i in range(4)] == ["b1", "b2", None, None]
    assert b1.hex_at(int(m.entry[0])) == hexes[0]
    assert not m.allowed.any() and (m.allow_bank == -1).all()
    # A closer copy added to the later bank b2 wins over b1.
    q0 = at_distance(rng, hexes[0], 20)
    b2.add(to_hex(at_distance(rng, to_hex(q0), 5)), source="later")
    m = bs.match(q0)
    assert m.bank_name(0) == "b2" and m.distance[0] == 5 and m.entry[0] == 1


def test_ties_go_to_earlier_bank_and_per_bank_threshold():
    rng = np.random.default_rng(5)
    h = rand_hex(rng, 1)[0]
    strict, loose = HashBank("strict", threshold=8), HashBank("loose")
    strict.add(h)
    loose.add(h)
    bs = BankSet([strict, loose], threshold=20)
    assert bs.threshold_for(strict) == 8 and bs.threshold_for(loose) == 20
    m = bs.match(np.stack([at_distance(rng, h, 5), at_distance(rng, h, 12), at_distance(rng, h, 21)]))
    assert m.bank.tolist() == [0, 1, -1]
    assert m.distance.tolist() == [5, 12, -1]


def test_allow_bank_suppresses_match():
    rng = np.random.default_rng(6)
    h_bad, h_both = rand_hex(rng, 2)
    block, allow = HashBank("csam"), HashBank("known-ok", "allow")
    block.add([h_bad, h_both])
    allow.add(to_hex(at_distance(rng, h_both, 4)))
    bs = BankSet([block, allow], threshold=31, allow_threshold=10)
    q = np.stack([at_distance(rng, h_bad, 3), at_distance(rng, h_both, 2), at_distance(rng, h_both, 30)])
    m = bs.match(q)
    # q1 is within 10 of the allow entry (<= 6 bits); q2 is >= 26 from it.
    assert m.matched.tolist() == [True, False, True]
    assert m.allowed.tolist() == [False, True, False]
    assert m.allow_bank_name(1) == "known-ok" and m.allow_entry[1] == 0
    assert 2 <= m.allow_distance[1] <= 6 and m.allow_distance[0] == -1
    # The suppressed block hit is still reported for audit.
    assert m.bank[1] == 0 and m.distance[1] == 2 and m.bank_name(1) is None
    assert m.bank_names == ("csam", "known-ok")


def test_bank_edits_take_effect_on_next_match():
    rng = np.random.default_rng(7)
    h = rand_hex(rng, 1)[0]
    bank = HashBank("b")
    bs = BankSet([bank])
    q = at_distance(rng, h, 7)[None]
    assert not bs.match(q).matched[0]
    bank.add(h)
    assert bs.match(q).matched[0]
    bank.remove(h)
    assert not bs.match(q).matched[0]
    bank.add(h)  # new entry id 1
    m = bs.match(q)
    assert m.matched[0] and m.entry[0] == 1
    allow = HashBank("ok", "allow")
    bs.add_bank(allow)
    allow.add(h)
    assert bs.match(q).allowed[0] and not bs.match(q).matched[0]
    bs.remove_bank("ok")
    assert bs.match(q).matched[0]
    with pytest.raises(ValueError, match="already"):
        bs.add_bank(HashBank("b"))
    assert bs["b"] is bank


def test_match_many_queries_vectorised():
    rng = np.random.default_rng(8)
    bank = HashBank("big")
    hexes = rand_hex(rng, 20000)
    bank.add(hexes)
    bs = BankSet([bank])
    idx = rng.integers(0, 20000, 300)
    q = np.concatenate([np.stack([at_distance(rng, hexes[i], int(d)) for i, d in zip(idx, rng.integers(0, 32, 300))]),
                        rng.integers(0, 2**64 - 1, (700, 4), dtype=np.uint64, endpoint=True)])
    m = bs.match(q)
    assert len(m) == 1000
    assert m.matched[:300].all() and not m.matched[300:].any()
    np.testing.assert_array_equal(m.entry[:300], idx)
