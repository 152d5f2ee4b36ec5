"""kgen.hashing: Hamming index against brute-force references, packed bits, the LSH baseline, precision at k."""

import numpy as np
import pytest

from kgen.hashing import (
    HAS_BITWISE_COUNT,
    HammingIndex,
    RandomProjectionLSH,
    pack_codes,
    popcount,
    precision_at_k,
    unpack_codes,
)


def random_bits(n, num_bits, seed):
    return np.random.default_rng(seed).integers(0, 2, size=(n, num_bits)).astype(np.uint8)


def brute_distances(queries, db):
    """Hamming distances by comparing {0, 1} arrays element by element (no packing, no popcount)."""
    return (queries[:, None, :] != db[None, :, :]).sum(axis=-1)


def brute_knn(queries, db, ids, k):
    dist = brute_distances(queries, db)
    out_ids, out_dist = [], []
    for row in dist:
        order = sorted(range(len(db)), key=lambda j: (row[j], ids[j]))[:k]
        out_ids.append([ids[j] for j in order])
        out_dist.append([row[j] for j in order])
    return np.array(out_ids), np.array(out_dist)


@pytest.mark.parametrize("num_bits", [1, 5, 8, 13, 32, 64, 70])
@pytest.mark.parametrize("use_table", [False, True])
def test_popcount_matches_unpacked_sum(num_bits, use_table):
    if not use_table and not HAS_BITWISE_COUNT:
        pytest.skip("numpy < 2 has no np.bitwise_count")
    bits = random_bits(50, num_bits, seed=num_bits)
    packed, n = pack_codes(bits)
    assert n == num_bits and packed.shape == (50, (num_bits + 7) // 8)
    np.testing.assert_array_equal(popcount(packed, use_table=use_table), bits.sum(axis=1))
    for dtype in (np.uint16, np.uint32, np.uint64):
        words = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, size=(7, 3), dtype=dtype)
        expected = [[bin(int(w)).count("1") for w in row] for row in words]
        np.testing.assert_array_equal(popcount(words[..., None], use_table=use_table), expected)


@pytest.mark.parametrize("num_bits", [1, 7, 8, 12, 32, 40, 64, 100])
def test_pack_round_trip_and_both_forms(num_bits):
    bits = random_bits(20, num_bits, seed=1)
    packed, n = pack_codes(bits, num_bits)
    np.testing.assert_array_equal(packed, np.packbits(bits, axis=1))
    np.testing.assert_array_equal(unpack_codes(packed, num_bits), bits)
    again, _ = pack_codes(packed, num_bits)  # packed codes pass through
    np.testing.assert_array_equal(again, packed)
    for form in (bits.astype(bool), bits.astype(np.float32), bits.astype(np.int64)):
        np.testing.assert_array_equal(pack_codes(form, num_bits)[0], packed)


@pytest.mark.parametrize("num_bits,chunk_pairs", [(5, 7), (13, 1000), (32, 64), (64, 1 << 22), (70, 50)])
def test_knn_matches_brute_force(num_bits, chunk_pairs, capsys):
    # Few distinct codes (duplicates, many ties) so the tie-breaking by id is exercised.
    rng = np.random.default_rng(num_bits)
    db = random_bits(120, num_bits, seed=2)
    db[60:] = db[rng.integers(0, 60, size=60)]
    queries = np.concatenate([random_bits(15, num_bits, seed=3), db[:5]])
    ids = rng.permutation(1000)[:120]  # arbitrary, unsorted ids
    index = HammingIndex(num_bits, chunk_pairs=chunk_pairs).add(db[:70], ids=ids[:70]).add(np.packbits(db[70:], axis=1),
                                                                                             ids=ids[70:])
    assert len(index) == 120
    for k in (1, 10, 120):
        got_ids, got_dist = index.search(queries, k=k)
        ref_ids, ref_dist = brute_knn(queries, db, ids, k)
        assert got_ids.dtype == np.int64 and got_ids.shape == (len(queries), k)
        np.testing.assert_array_equal(got_dist, ref_dist)
        np.testing.assert_array_equal(got_ids, ref_ids)
    # Queries in packed form give the same answer; progress=True: a progress bar over the queries on stderr only.
    capsys.readouterr()
    np.testing.assert_array_equal(index.search(np.packbits(queries, axis=1), k=10, progress=True)[0],
                                  index.search(queries, k=10)[0])
    captured = capsys.readouterr()
    assert captured.out == "" and f"{len(queries)}/{len(queries)}" in captured.err and "/query" in captured.err
    # A query equal to a stored code finds it at distance 0.
    assert np.all(index.search(db[:5], k=1)[1] == 0)
    np.testing.assert_array_equal(index.distances(queries)[:, :70], brute_distances(queries, db[:70]))


@pytest.mark.parametrize("num_bits", [6, 32, 70])
def test_radius_matches_brute_force(num_bits):
    db = random_bits(90, num_bits, seed=4)
    queries = random_bits(12, num_bits, seed=5)
    index = HammingIndex(num_bits, chunk_pairs=100).add(db)
    dist = brute_distances(queries, db)
    for radius in (0, num_bits // 4, num_bits // 2, num_bits):
        got_ids, got_dist = index.search(queries, radius=radius)
        assert len(got_ids) == len(queries)
        for q in range(len(queries)):
            expected = sorted((int(dist[q, j]), j) for j in range(len(db)) if dist[q, j] <= radius)
            assert [(int(d), int(i)) for d, i in zip(got_dist[q], got_ids[q])] == expected
    # Radius num_bits returns everything; radius 0 returns exactly the equal codes.
    assert all(len(r) == len(db) for r in index.search(queries, radius=num_bits)[0])
    assert list(index.search(db[3:4], radius=0)[0][0]) == [j for j in range(len(db)) if np.array_equal(db[j], db[3])]


def test_default_ids_continue_across_adds():
    index = HammingIndex(8).add(random_bits(3, 8, 0)).add(random_bits(2, 8, 1))
    np.testing.assert_array_equal(index.ids, [0, 1, 2, 3, 4])
    assert index.codes.shape == (5, 1)


def test_index_errors():
    index = HammingIndex(12)
    with pytest.raises(ValueError, match="empty"):
        index.search(random_bits(2, 12, 0), k=1)
    index.add(random_bits(10, 12, 0))
    with pytest.raises(ValueError, match="exactly one of `k`"):
        index.search(random_bits(2, 12, 0))
    with pytest.raises(ValueError, match="exactly one of `k`"):
        index.search(random_bits(2, 12, 0), k=1, radius=1)
    with pytest.raises(ValueError, match="`k` must be <="):
        index.search(random_bits(2, 12, 0), k=11)
    with pytest.raises(ValueError, match="`k`"):
        index.search(random_bits(2, 12, 0), k=0)
    with pytest.raises(ValueError, match="`radius`"):
        index.search(random_bits(2, 12, 0), radius=-1)
    with pytest.raises(ValueError, match="`queries`.*shape \\(N, 12\\).*\\(N, 2\\)"):
        index.search(random_bits(2, 10, 0), k=1)
    with pytest.raises(ValueError, match="`queries`.*values other than 0 and 1"):
        index.search(np.full((2, 12), 2.0), k=1)
    with pytest.raises(ValueError, match="padding"):
        index.search(np.full((2, 2), 255, np.uint8), k=1)  # 12 bits: the last 4 bits of byte 2 must be 0
    with pytest.raises(ValueError, match="`codes`.*2-D"):
        index.add(np.zeros((12,)))
    with pytest.raises(ValueError, match="`ids`.*unique"):
        index.add(random_bits(2, 12, 0), ids=[0, 1])
    with pytest.raises(ValueError, match="`ids` must be 2 integers"):
        index.add(random_bits(2, 12, 0), ids=[20])
    with pytest.raises(ValueError, match="num_bits"):
        HammingIndex(0)
    with pytest.raises(ValueError, match="chunk_pairs"):
        HammingIndex(8, chunk_pairs=0)
    assert len(index) == 10  # failed adds left the index unchanged


def test_precision_at_k_on_a_constructed_case():
    # Class 0 codes near 0000 0000, class 1 near 1111 1111: a query of each class finds its own class first.
    db = np.array([[0] * 8, [0] * 7 + [1], [1] * 8, [1] * 7 + [0], [0] * 6 + [1, 1], [1] * 6 + [0, 0]], np.uint8)
    db_labels = np.array([0, 0, 1, 1, 0, 1])
    queries = np.array([[0] * 8, [1] * 8, [0] * 8], np.uint8)
    q_labels = np.array([0, 1, 1])  # the third query has the "wrong" label: precision 0 for it up to k = 3
    assert precision_at_k(queries, q_labels, db, db_labels, k=3) == pytest.approx((1 + 1 + 0) / 3)
    mean, per_query = precision_at_k(queries, q_labels, db, db_labels, k=4, per_query=True)
    np.testing.assert_allclose(per_query, [0.75, 0.75, 0.25])
    assert mean == pytest.approx(1.75 / 3)
    assert precision_at_k(queries, q_labels, db, db_labels, k=6) == pytest.approx(0.5)
    # Packed codes with num_bits give the same.
    assert precision_at_k(np.packbits(queries, axis=1), q_labels, np.packbits(db, axis=1), db_labels, k=4,
                          num_bits=8) == pytest.approx(mean)
    # Ties at equal distance go to the lower database position: [0]*7+[1] (label 0) and [1]*7+[0]... are not tied,
    # but a database of identical codes is: the first k positions are taken.
    same = np.zeros((4, 8), np.uint8)
    assert precision_at_k(same[:1], [1], same, [1, 0, 1, 1], k=2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="query_labels"):
        precision_at_k(queries, [0, 1], db, db_labels, k=2)
    with pytest.raises(ValueError, match="db_labels"):
        precision_at_k(queries, q_labels, db, db_labels[:3], k=2)
    with pytest.raises(ValueError, match="`k`"):
        precision_at_k(queries, q_labels, db, db_labels, k=7)


def test_lsh_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 30)).astype(np.float32) + 5.0
    lsh = RandomProjectionLSH(30, 16, seed=3).fit(x)
    np.testing.assert_allclose(lsh.mean, x.mean(axis=0), rtol=1e-5)
    codes = lsh.encode(x)
    assert codes.dtype == np.float32 and codes.shape == (200, 16) and set(np.unique(codes)) <= {0.0, 1.0}
    np.testing.assert_array_equal(lsh.hash(x), np.packbits(codes.astype(np.uint8), axis=1))
    np.testing.assert_array_equal(codes, ((x - x.mean(0)) @ lsh.projections > 0).astype(np.float32))
    # Same seed, same codes; another seed, other codes.
    np.testing.assert_array_equal(RandomProjectionLSH(30, 16, seed=3).fit(x).encode(x), codes)
    assert not np.array_equal(RandomProjectionLSH(30, 16, seed=4).fit(x).encode(x), codes)
    # Centring matters: without fit, the offset of 5 puts most inputs on the same side of each hyperplane.
    raw = RandomProjectionLSH(30, 16, seed=3).encode(x)
    assert np.abs(raw.mean(axis=0) - 0.5).mean() > np.abs(codes.mean(axis=0) - 0.5).mean()
    # Similar inputs share more bits than unrelated ones, and the disagreement tracks the angle / pi.
    lsh = RandomProjectionLSH(30, 512, seed=0)
    a = rng.normal(size=(100, 30))
    near = a + 0.1 * rng.normal(size=a.shape)
    far = rng.normal(size=a.shape)
    d_near = (lsh.encode(a) != lsh.encode(near)).mean(axis=1)
    d_far = (lsh.encode(a) != lsh.encode(far)).mean(axis=1)
    assert d_near.mean() < 0.1 < 0.4 < d_far.mean()
    cos = np.sum(a * far, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(far, axis=1)
    np.testing.assert_allclose(d_far.mean(), np.mean(np.arccos(cos) / np.pi), atol=0.03)
    # Images of any shape are flattened.
    images = rng.uniform(0, 255, size=(5, 6, 5, 1))
    assert RandomProjectionLSH(30, 8).fit(images).encode(images).shape == (5, 8)


def test_lsh_errors():
    with pytest.raises(ValueError, match="input_dim"):
        RandomProjectionLSH(0, 8)
    with pytest.raises(ValueError, match="num_bits"):
        RandomProjectionLSH(10, 0)
    with pytest.raises(ValueError, match="seed"):
        RandomProjectionLSH(10, 8, seed=-1)
    lsh = RandomProjectionLSH(10, 8)
    with pytest.raises(ValueError, match="10 features"):
        lsh.encode(np.zeros((3, 11)))
    with pytest.raises(ValueError, match="NaN"):
        lsh.fit(np.full((3, 10), np.nan))
    with pytest.raises(ValueError, match="`x`"):
        lsh.encode(np.zeros((10,)))


def test_search_with_the_lookup_table_fallback(monkeypatch):
    # numpy < 2 has no np.bitwise_count: the index must give the same answers with the byte lookup table.
    import kgen.hashing

    db = random_bits(80, 40, seed=6)
    queries = random_bits(9, 40, seed=7)
    expected = HammingIndex(40).add(db).search(queries, k=15)
    monkeypatch.setattr(kgen.hashing, "HAS_BITWISE_COUNT", False)
    got = HammingIndex(40).add(db).search(queries, k=15)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[1], np.sort(brute_distances(queries, db), axis=1)[:, :15])
