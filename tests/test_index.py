"""MIH index: exact against brute force, delta/merge/remove behaviour, sliding window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floodwall.content.index import HashIndex
from floodwall.content.window import WindowIndex
from floodwall.content.pdq import hamming


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, (n, 4), dtype=np.uint64, endpoint=True)


def flip_spread(rng: np.random.Generator, h: np.ndarray, d: int) -> np.ndarray:
    """Copy of h at distance exactly d, the flips spread as evenly as possible over the
    16 16-bit chunks (the adversarial case for pigeonhole probing: at d = 16 no chunk
    is exact, at d = 31 only one chunk is within one bit)."""
    bits = np.unpackbits(h.astype(">u8").view(np.uint8))
    chunks = rng.permutation(16)
    per = np.full(16, d // 16)
    per[chunks[: d % 16]] += 1
    for c in range(16):
        pos = rng.choice(16, size=per[c], replace=False) + 16 * c
        bits[pos] ^= 1
    out = np.packbits(bits).view(">u8").astype(np.uint64)
    assert hamming(out, h) == d
    return out


def near_copies(rng: np.random.Generator, base: np.ndarray, k: int, max_d: int) -> np.ndarray:
    """k copies of random rows of base, each at a random distance below max_d (flips spread)."""
    return np.stack([flip_spread(rng, base[rng.integers(0, len(base))], int(rng.integers(0, max_d))) for _ in range(k)])


def flip_random(rng: np.random.Generator, h: np.ndarray, d: int) -> np.ndarray:
    bits = np.unpackbits(h.astype(">u8").view(np.uint8))
    bits[rng.choice(256, size=d, replace=False)] ^= 1
    return np.packbits(bits).view(">u8").astype(np.uint64)


def brute_force(bank: np.ndarray, ids: np.ndarray, queries: np.ndarray, r: int) -> set[tuple[int, int, int]]:
    d = hamming(queries[:, None, :], bank[None, :, :])
    qi, bi = np.nonzero(d <= r)
    return {(int(q), int(ids[b]), int(d[q, b])) for q, b in zip(qi, bi)}


def as_set(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    q, ids, d = result
    triples = list(zip(q.tolist(), ids.tolist(), d.tolist()))
    assert len(triples) == len(set(triples)), "duplicate results"
    return set(triples)


def planted_case(seed: int, n_bank: int = 1500, n_near: int = 200):
    """Bank of random hashes plus near copies of some at distances 0..40; queries are the
    originals of those copies plus unrelated random hashes."""
    rng = np.random.default_rng(seed)
    base = random_hashes(rng, n_bank)
    src = rng.integers(0, n_bank, n_near)
    dists = np.arange(n_near) % 41
    near = np.stack(
        [(flip_spread if i % 2 else flip_random)(rng, base[s], int(d)) for i, (s, d) in enumerate(zip(src, dists))]
    )
    bank = np.concatenate([base, near])
    ids = rng.permutation(10 * len(bank))[: len(bank)].astype(np.int64)
    queries = np.concatenate([base[src], random_hashes(rng, 50)])
    return bank, ids, queries


@pytest.mark.parametrize("r", [0, 1, 7, 15, 16, 17, 24, 31, 32, 40, 47, 48, 60])
def test_exact_vs_brute_force_all_radii(r):
    bank, ids, queries = planted_case(seed=r)
    ix = HashIndex(delta_limit=64)
    ix.add(bank[:-30], ids[:-30])  # main tables
    ix.add(bank[-30:], ids[-30:])  # delta, scanned
    assert len(ix._ids) > 0 and len(ix._delta[1]) == 30
    expect = brute_force(bank, ids, queries, r)
    got = as_set(ix.query(queries, r))
    assert got == expect
    # The planted copies really exercise the radius: some found at exactly r.
    if 0 < r <= 40:
        assert any(d == r for _, _, d in expect)


@given(seed=st.integers(0, 2**32 - 1), r=st.integers(0, 40))
@settings(max_examples=25, deadline=None)
def test_exact_vs_brute_force_property(seed, r):
    bank, ids, queries = planted_case(seed, n_bank=400, n_near=80)
    ix = HashIndex(delta_limit=100)
    ix.add(bank, ids)
    assert as_set(ix.query(queries, r)) == brute_force(bank, ids, queries, r)


def test_results_sorted_and_typed():
    bank, ids, queries = planted_case(seed=1)
    ix = HashIndex()
    ix.add(bank, ids)
    q, got_ids, d = ix.query(queries, 31)
    assert q.dtype == np.int64 and got_ids.dtype == np.int64 and d.dtype == np.int32
    order = np.lexsort((got_ids, d, q))
    np.testing.assert_array_equal(order, np.arange(len(q)))


def test_complement_is_not_a_match():
    # Distance 256: must not wrap to 0 in any popcount shortcut (MIH probes or linear scans).
    h = random_hashes(np.random.default_rng(0), 1)
    for delta_limit in (0, 4096):  # main tables / delta scan
        ix = HashIndex(delta_limit=delta_limit)
        ix.add(h, [7])
        for r in (31, 47, 60, 255):
            assert len(ix.query(~h, r)[0]) == 0
        assert ix.query(~h, 256)[2].tolist() == [256]


def test_delta_add_visible_immediately_then_merged():
    rng = np.random.default_rng(3)
    base = random_hashes(rng, 10000)
    ix = HashIndex(delta_limit=1000)
    ix.add(base, np.arange(10000))  # over the limit: built into tables
    assert len(ix._ids) == 10000
    new = flip_spread(rng, base[10], 20)[None]
    ix.add(new, [99999])  # stays in the delta
    assert len(ix._ids) == 10000
    ids, d = ix.nearest(new, 0)
    assert ids[0] == 99999 and d[0] == 0
    q, got, _ = ix.query(base[10:11], 31)
    assert set(got.tolist()) == {10, 99999}
    # Push the delta over the limit in small adds: incremental merge path.
    more = random_hashes(rng, 1200)
    for k in range(0, 1200, 100):
        ix.add(more[k : k + 100], np.arange(100000 + k, 100100 + k))
    assert len(ix._ids) == 11001 and len(ix) == 11201
    all_h = np.concatenate([base, new, more])
    all_ids = np.concatenate([np.arange(10000), [99999], np.arange(100000, 101200)])
    queries = np.concatenate([all_h[::97], np.stack([flip_random(rng, h, 25) for h in all_h[::331]])])
    assert as_set(ix.query(queries, 31)) == brute_force(all_h, all_ids, queries, 31)
    # Bucket tables are consistent after the insert: offsets bound sorted chunk values.
    chunks = ix._hashes.view(np.uint16)
    for c in range(16):
        v = chunks[ix._order[c], c]
        assert np.all(np.diff(v.astype(np.int64)) >= 0)
        assert ix._offsets[c][-1] == len(ix._ids)
        np.testing.assert_array_equal(ix._offsets[c][v.astype(np.int64)] <= np.arange(len(v)), True)


def test_remove_tombstones_main_and_delta():
    rng = np.random.default_rng(4)
    h = random_hashes(rng, 300)
    ix = HashIndex(delta_limit=100)
    ix.add(h[:250], np.arange(250))
    ix.add(h[250:], np.arange(250, 300))  # delta
    ix.remove([3, 260, 12345])
    assert len(ix) == 298
    ids, d = ix.nearest(h[[3, 4, 260, 261]], 0)
    np.testing.assert_array_equal(ids, [-1, 4, -1, 261])
    np.testing.assert_array_equal(d, [-1, 0, -1, 0])
    # Re-adding a removed id makes it live again (new entry, old one stays dead).
    ix.add(h[3:4], [3])
    assert ix.nearest(h[3:4], 0)[0][0] == 3
    assert len(ix) == 299


def test_remove_many_triggers_compaction_and_stays_exact():
    rng = np.random.default_rng(5)
    h = random_hashes(rng, 6000)
    ix = HashIndex(delta_limit=500)
    ix.add(h, np.arange(6000))
    ix.remove(np.arange(0, 6000, 2))
    assert len(ix) == 3000
    assert len(ix._ids) == 3000  # rebuilt without the tombstones
    q = np.stack([flip_random(rng, x, 9) for x in h[:40]])
    assert as_set(ix.query(q, 15)) == brute_force(h[1::2], np.arange(1, 6000, 2), q, 15)


def test_nearest_picks_closest_then_smallest_id():
    rng = np.random.default_rng(6)
    h = random_hashes(rng, 1)[0]
    a, b = flip_spread(rng, h, 5), flip_spread(rng, h, 3)
    ix = HashIndex()
    ix.add(np.stack([a, b, b, random_hashes(rng, 1)[0]]), [10, 30, 20, 40])
    ids, d = ix.nearest(np.stack([h, ~h]), 31)
    np.testing.assert_array_equal(ids, [20, -1])
    np.testing.assert_array_equal(d, [3, -1])
    assert d.dtype == np.int32 and ids.dtype == np.int64


def test_empty_index_and_empty_queries():
    ix = HashIndex()
    q, ids, d = ix.query(random_hashes(np.random.default_rng(0), 3), 31)
    assert len(q) == len(ids) == len(d) == 0
    ids, d = ix.nearest(np.zeros((2, 4), np.uint64))
    np.testing.assert_array_equal(ids, [-1, -1])
    ix.add(np.zeros((1, 4), np.uint64), [1])
    assert len(ix.query(np.zeros((0, 4), np.uint64))[0]) == 0


def test_bad_shapes_rejected():
    ix = HashIndex()
    with pytest.raises(ValueError):
        ix.add(np.zeros((2, 3), np.uint64), [1, 2])
    with pytest.raises(ValueError):
        ix.add(np.zeros((2, 4), np.uint64), [1])


def test_large_bank_batched_queries_exact():
    rng = np.random.default_rng(8)
    bank = random_hashes(rng, 60000)
    ix = HashIndex()
    ix.add(bank, np.arange(60000))
    src = rng.integers(0, 60000, 1500)
    queries = np.stack([flip_spread(rng, bank[s], int(d)) for s, d in zip(src, rng.integers(0, 32, 1500))])
    q, ids, d = ix.query(queries, 31)
    np.testing.assert_array_equal(np.unique(q), np.arange(1500))  # every planted copy found
    found = set(zip(q.tolist(), ids.tolist()))
    assert all((i, int(s)) in found for i, s in enumerate(src))
    np.testing.assert_array_equal(d, hamming(queries[q], bank[ids]))


# ----------------------------------------------------------------------------- window


def test_window_expiry_drops_whole_slices():
    rng = np.random.default_rng(9)
    h = random_hashes(rng, 4)
    w = WindowIndex(window_s=10.0, slice_s=1.0)
    w.add(h[0:1], [0], t=0.2)
    w.add(h[1:2], [1], t=0.9)
    w.add(h[2:3], [2], t=5.5)
    w.add(h[3:4], [3], t=12.0)
    assert len(w) == 4 and w.slice_keys == [0, 5, 12]
    assert w.expire(10.95) == 0  # slice [0, 1) is not yet wholly older than now - 10
    assert w.nearest(h[:1])[0][0] == 0
    assert w.expire(11.0) == 1
    assert len(w) == 2 and w.slice_keys == [5, 12]
    ids, _ = w.nearest(h)
    np.testing.assert_array_equal(ids, [-1, -1, 2, 3])
    w.expire(100.0)
    assert len(w) == 0 and len(w.query(h)[0]) == 0


def test_window_query_across_slices_and_per_entry_times():
    rng = np.random.default_rng(10)
    base = random_hashes(rng, 1)[0]
    copies = np.stack([flip_spread(rng, base, d) for d in (2, 9, 30)])
    w = WindowIndex(window_s=30.0, slice_s=5.0)
    w.add(copies, [100, 200, 300], t=np.array([1.0, 7.0, 29.0]))
    assert w.slice_keys == [0, 1, 5]
    q, ids, d = w.query(base[None], 31)
    assert ids.tolist() == [100, 200, 300] and d.tolist() == [2, 9, 30]
    ids, d = w.nearest(base[None], 8)
    assert ids.tolist() == [100] and d.tolist() == [2]
    w.remove([100])
    assert w.nearest(base[None], 31)[0][0] == 200
    w.expire(36.0)  # drops slice [0, 5) only
    assert w.query(base[None], 31)[1].tolist() == [200, 300]


def test_window_rejects_bad_config():
    with pytest.raises(ValueError):
        WindowIndex(window_s=0)
    with pytest.raises(ValueError):
        WindowIndex(window_s=10, slice_s=-1)
    w = WindowIndex(window_s=10)
    with pytest.raises(ValueError):
        w.add(np.zeros((2, 4), np.uint64), [1, 2], t=np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_window_flat_scan_and_index_give_the_same_answers(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small queries scan the flat buffer, large ones the index, which takes the buffer's new entries only
    # when a large query comes: the answer must not depend on the path, nor on how many adds, removals and
    # expiries passed since the index was last brought up to date (one window always scans; the other
    # takes either path at random, so it catches up after runs of flat queries).
    import floodwall.content.window as window_mod

    rng = np.random.default_rng(seed)
    base = random_hashes(rng, 6)
    flat, mixed = WindowIndex(window_s=20.0, slice_s=5.0, delta_limit=8), WindowIndex(window_s=20.0, slice_s=5.0)
    paths = set()
    for step in range(60):
        now = step * 1.5
        k = int(rng.integers(1, 6))
        hs = near_copies(rng, base, k, 40)
        ids = rng.integers(0, 30, k)
        t = now if step % 3 else now + rng.uniform(0, 1.5, k)
        for w in (flat, mixed):
            w.expire(now)
            w.add(hs, ids, t)
        if step % 7 == 6:
            gone = rng.integers(0, 30, 3)
            flat.remove(gone)
            mixed.remove(gone)
        q = np.concatenate([hs, ~hs[:1], base[:2]])
        r = int(rng.choice([0, 15, 31, 47, 255]))
        monkeypatch.setattr(window_mod, "_WINDOW_FLAT_BUDGET", 1 << 30)
        a = flat.query(q, r)
        path = "index" if rng.random() < 0.3 else "flat"
        paths.add(path)
        monkeypatch.setattr(window_mod, "_WINDOW_FLAT_BUDGET", 0 if path == "index" else 1 << 30)
        b = mixed.query(q, r)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert len(flat) == len(mixed) and flat.slice_keys == mixed.slice_keys
    assert paths == {"flat", "index"}


def test_hash_index_remove_tags_drops_exactly_those_entries() -> None:
    # Tags ride with their entries through the delta, merges and rebuilds; remove_tags drops every entry
    # carrying one of the tags, wherever it sits, and nothing else.
    rng = np.random.default_rng(11)
    h = random_hashes(rng, 600)
    ids = np.arange(600)
    tags = rng.integers(0, 6, 600)
    ix = HashIndex(delta_limit=50)
    for s in range(0, 600, 37):  # uneven adds: some merged by insert, some by rebuild, the rest in the delta
        ix.add(h[s : s + 37], ids[s : s + 37], tags[s : s + 37])
    ix.remove_tags([1, 4])
    ix.remove([0, 1, 2])
    live = ~np.isin(tags, [1, 4]) & (ids > 2)
    q, got, d = ix.query(h, 0)
    np.testing.assert_array_equal(q, np.flatnonzero(live))
    np.testing.assert_array_equal(got, ids[live])
    assert len(ix) == int(live.sum())
    with pytest.raises(ValueError, match="tags"):
        ix.add(h[:2], ids[:2], tags[:3])


def test_complement_is_at_distance_256_in_every_path() -> None:
    # The scans sum four popcounts in one byte lane, which wraps at 256: it must be put back.
    h = random_hashes(np.random.default_rng(4), 1)
    w = WindowIndex(window_s=10.0)
    w.add(h, [7], t=0.0)
    ix = HashIndex()
    ix.add(h, [7])
    for r in (255, 256):
        for got in (w.query(~h, r), ix.query(~h, r)):
            assert got[1].tolist() == ([7] if r == 256 else []) and got[2].tolist() == ([256] if r == 256 else [])


@pytest.mark.parametrize("seed", [5, 6])
def test_hash_index_flat_scan_and_tables_give_the_same_answers(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import floodwall.content.index as index_mod

    rng = np.random.default_rng(seed)
    base = random_hashes(rng, 5)
    ix = HashIndex(delta_limit=16)
    for step in range(30):
        k = int(rng.integers(1, 9))
        ix.add(near_copies(rng, base, k, 40), rng.integers(0, 50, k))
        if step % 5 == 4:
            ix.remove(rng.integers(0, 50, 4))
        q = np.concatenate([base, random_hashes(rng, 2)])
        for r in (0, 15, 31, 47):
            monkeypatch.setattr(index_mod, "_FLAT_BUDGET", 1 << 30)
            a = ix.query(q, r)
            monkeypatch.setattr(index_mod, "_FLAT_BUDGET", 0)
            b = ix.query(q, r)
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)


def _without(result: tuple[np.ndarray, np.ndarray, np.ndarray], exclude: np.ndarray):
    keep = result[1] != exclude[result[0]]
    return tuple(x[keep] for x in result)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_excluded_ids_are_the_results_without_them_in_every_path(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # `exclude` drops a query's own id before the distances are taken; the answer must be exactly the
    # full answer less those rows, sorted the same, on the flat scan, the tables, the delta and the wide scan.
    import floodwall.content.index as index_mod
    import floodwall.content.window as window_mod

    rng = np.random.default_rng(seed)
    base = random_hashes(rng, 4)
    ix, w = HashIndex(delta_limit=16), WindowIndex(window_s=20.0, slice_s=5.0, delta_limit=8)
    excluded = 0
    for step in range(25):
        k = int(rng.integers(1, 9))
        hs = near_copies(rng, base, k, 40)
        ids = rng.integers(0, 6, k)  # few ids: a query's own id is often among its matches
        ix.add(hs, ids)
        w.expire(step * 1.5)
        w.add(hs, ids, step * 1.5)
        q = np.concatenate([hs, base])
        own = np.concatenate([ids, rng.integers(0, 6, len(base))])
        for r in (0, 15, 31, 47, 60):
            for budget in (1 << 30, 0):
                monkeypatch.setattr(index_mod, "_FLAT_BUDGET", budget)
                monkeypatch.setattr(window_mod, "_WINDOW_FLAT_BUDGET", budget)
                for index in (ix, w):
                    full = index.query(q, r)
                    got = index.query(q, r, exclude=own)
                    for x, y in zip(got, _without(full, own)):
                        np.testing.assert_array_equal(x, y)
                    excluded += len(full[0]) - len(got[0])
    assert excluded > 100  # the case excludes something, in earnest
    with pytest.raises(ValueError, match="exclude"):
        ix.query(base, 31, exclude=np.zeros(3, np.int64))


@pytest.mark.parametrize("seed", [10, 11])
def test_a_query_split_across_threads_answers_as_one_thread_does(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # A large query is cut into query ranges run on threads; the joined answer must be the one-thread
    # answer row for row (order included), with and without exclude, over the tables, the delta and the wide scan.
    import threading

    import floodwall.content.index as index_mod

    rng = np.random.default_rng(seed)
    base = random_hashes(rng, 6)
    ix = HashIndex(delta_limit=64)
    for _ in range(40):
        k = int(rng.integers(1, 12))
        ix.add(near_copies(rng, base, k, 50), rng.integers(0, 8, k))
    ix.remove(rng.integers(0, 8, 2))
    assert len(ix._delta[1]) and len(ix._ids)  # both the tables and the delta hold entries
    q = np.concatenate([base, random_hashes(rng, 3), ix._hashes[:20]])
    own = rng.integers(0, 8, len(q))
    ran_on: list[str] = []
    query_range = HashIndex._query_range

    def spy(self, *args):
        ran_on.append(threading.current_thread().name)
        return query_range(self, *args)

    monkeypatch.setattr(HashIndex, "_query_range", spy)
    monkeypatch.setattr(index_mod, "_FLAT_BUDGET", 0)
    monkeypatch.setattr(index_mod, "_cores", lambda: 3)  # an uneven cut, on any machine
    for r in (0, 15, 31, 47, 60):
        for exclude in (None, own):
            monkeypatch.setattr(index_mod, "_PARALLEL_CANDIDATES", 1 << 60)
            one = ix.query(q, r, exclude=exclude)
            ran_on.clear()
            monkeypatch.setattr(index_mod, "_PARALLEL_CANDIDATES", 0)
            split = ix.query(q, r, exclude=exclude)
            assert len(ran_on) == 3 and any(name.startswith("hash-index") for name in ran_on)
            for x, y in zip(split, one):
                np.testing.assert_array_equal(x, y)
                assert x.dtype == y.dtype
    assert len(one[0]) > 0
