"""Binary codes for retrieval: a Hamming-distance index, the random-projection LSH baseline, precision at k.

Semantic hashing (`kgen.zoo.get("semantic_hashing.mnist")`) maps each input to a short binary code so that similar
inputs get codes a few bits apart; retrieval is then a scan (or a table lookup) in Hamming space. This module holds
the numpy side of that: storing codes as packed bits, searching them, the classic data-independent baseline, and the
measure used to compare them.

>>> index = HammingIndex(num_bits=32)
>>> index.add(model.hash(train_images))                  # packed uint8 codes (or {0, 1} arrays)
>>> ids, dists = index.search(model.hash(test_images), k=100)
>>> lsh = RandomProjectionLSH(784, 32, seed=0).fit(train_images)
>>> precision_at_k(lsh.encode(test_images), test_labels, lsh.encode(train_images), train_labels, k=100)

Codes are given either as {0, 1} arrays (N, num_bits) of any numeric or bool dtype, or as packed bits: uint8 arrays
(N, ceil(num_bits / 8)) as `np.packbits(bits, axis=1)` makes them (first bit in the high bit of the first byte,
padding bits 0).
"""

import numpy as np

from kgen.progress import Progress
from kgen.validation import check_int

#: Whether numpy has a native popcount (numpy >= 2.0); otherwise a 256-entry lookup table counts bits per byte.
HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

#: Upper bound on the number of (query, code) pairs compared at once in a search, to bound memory.
DEFAULT_CHUNK_PAIRS = 1 << 22


def popcount(words, use_table=None):
    """Number of set bits of each element of an unsigned integer array, summed over the last axis.

    Args:
        words: unsigned integer array (..., num_words) (uint8, uint16, uint32 or uint64).
        use_table: True to count with a 256-entry lookup table over the bytes (the fallback for numpy < 2),
            False to use `np.bitwise_count`, None for `np.bitwise_count` where numpy has it.

    Returns:
        int32 array (...,).
    """
    words = np.asarray(words)
    if not np.issubdtype(words.dtype, np.unsignedinteger):
        raise ValueError(f"popcount: `words` must be an unsigned integer array, got dtype {words.dtype}.")
    if use_table is None:
        use_table = not HAS_BITWISE_COUNT
    if not use_table:
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int32)
    as_bytes = np.ascontiguousarray(words).view(np.uint8)  # (..., num_words * itemsize)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.int32)


def pack_codes(codes, num_bits=None, name="codes"):
    """Packed uint8 codes (N, ceil(num_bits / 8)) from {0, 1} codes (N, num_bits) or already packed codes.

    With `num_bits=None` the codes must be a {0, 1} array (its width is the number of bits). With `num_bits` given,
    an array of width `num_bits` holding only 0 and 1 is read as bits, and a uint8 array of width
    ceil(num_bits / 8) as packed bits (whose padding bits must be 0). Anything else raises a ValueError naming `name`.
    """
    arr = np.asarray(codes)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"`{name}` must be a numeric array of binary codes, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array: {{0, 1}} codes (N, num_bits) or packed uint8 codes (N, ceil(num_bits / 8)), "
            f"got shape {arr.shape}."
        )
    width = arr.shape[1]
    is_bits = arr.dtype == bool or bool(np.all((arr == 0) | (arr == 1)))
    if num_bits is None:
        if not is_bits or width < 1:
            raise ValueError(
                f"`{name}` must hold only 0 and 1 (unpacked codes) when `num_bits` is not given; pass `num_bits` "
                f"for packed uint8 codes."
            )
        num_bits = width
    num_bytes = (num_bits + 7) // 8
    if width == num_bits and is_bits:
        return np.packbits(arr.astype(np.uint8), axis=1), num_bits
    if arr.dtype == np.uint8 and width == num_bytes:
        if num_bits % 8:
            pad_mask = np.uint8((1 << (8 - num_bits % 8)) - 1)
            if np.any(arr[:, -1] & pad_mask):
                raise ValueError(
                    f"`{name}`: packed codes of {num_bits} bits must have their last {8 - num_bits % 8} padding "
                    f"bits set to 0 (as np.packbits leaves them)."
                )
        return np.ascontiguousarray(arr), num_bits
    raise ValueError(
        f"`{name}` must be {{0, 1}} codes of shape (N, {num_bits}) or packed uint8 codes of shape (N, {num_bytes}), "
        f"got {arr.dtype} {arr.shape}" + ("" if is_bits or width != num_bits else " with values other than 0 and 1")
        + "."
    )


def unpack_codes(packed, num_bits):
    """{0, 1} uint8 codes (N, num_bits) from packed codes (N, ceil(num_bits / 8))."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=1, count=num_bits)


def _word_view(packed):
    """Packed bytes (N, B) viewed as the fewest unsigned words per code: one uint8/16/32 word for codes of up to
    1/2/4 bytes, otherwise uint64 words (padded with zero bytes), so XOR and popcount touch few elements."""
    num_bytes = packed.shape[1]
    for size, dtype in ((1, np.uint8), (2, np.uint16), (4, np.uint32)):
        if num_bytes <= size:
            break
    else:
        size, dtype = 8, np.uint64
    total = -(-num_bytes // size) * size
    if total != num_bytes:
        packed = np.concatenate([packed, np.zeros((len(packed), total - num_bytes), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(dtype)  # (N, total // size)


class HammingIndex:
    """Stores binary codes and finds, for each query code, the k nearest codes or all codes within a radius in
    Hamming distance, by an exact vectorised scan.

    Codes are kept packed (8 bits a byte) and compared as 8-, 16-, 32- or 64-bit words: XOR, then a popcount
    (`np.bitwise_count`, or a byte lookup table on numpy < 2). Queries are processed in chunks so that at most
    `chunk_pairs` (query, code) distances exist at once: 10,000 queries against 60,000 codes take a few hundred MB at
    most. Results are deterministic: neighbours are ordered by distance, ties by id (and by insertion order for
    equal ids, which `add` refuses).

    Args:
        num_bits: int, the code length.
        chunk_pairs: int, how many query-code distances to compute at once (memory bound).

    Example:
    >>> index = HammingIndex(32)
    >>> index.add(train_codes)                        # ids 0..N-1
    >>> ids, dists = index.search(test_codes, k=10)   # (Q, 10) int64 ids and int32 distances
    >>> ids, dists = index.search(test_codes, radius=2)  # lists of arrays, one per query

    Reference: Salakhutdinov & Hinton, 2009, "Semantic hashing" (retrieval of documents whose codes lie within a
    small Hamming ball around the query's code).
    """

    def __init__(self, num_bits, chunk_pairs=DEFAULT_CHUNK_PAIRS):
        self.num_bits = check_int(num_bits, "num_bits", owner="HammingIndex")
        self.num_bytes = (self.num_bits + 7) // 8
        self.chunk_pairs = check_int(chunk_pairs, "chunk_pairs", owner="HammingIndex")
        self._packed = np.zeros((0, self.num_bytes), np.uint8)
        self._ids = np.zeros((0,), np.int64)
        self._sorted = None  # (words sorted by id, ids sorted), rebuilt lazily after `add`

    def __len__(self):
        return len(self._ids)

    @property
    def ids(self):
        """The ids of the stored codes, in insertion order (int64)."""
        return self._ids.copy()

    @property
    def codes(self):
        """The stored codes as packed uint8 (N, ceil(num_bits / 8)), in insertion order."""
        return self._packed.copy()

    def add(self, codes, ids=None):
        """Add codes ({0, 1} (N, num_bits) or packed uint8 (N, ceil(num_bits / 8))) with integer `ids` (default:
        consecutive from the number of codes already stored). Ids must be unique across the index."""
        packed, _ = pack_codes(codes, self.num_bits, "codes")
        if ids is None:
            start = int(self._ids.max()) + 1 if len(self._ids) else 0
            ids = np.arange(start, start + len(packed), dtype=np.int64)
        else:
            ids_arr = np.asarray(ids)
            if ids_arr.shape != (len(packed),) or not np.issubdtype(ids_arr.dtype, np.integer):
                raise ValueError(
                    f"`ids` must be {len(packed)} integers (shape ({len(packed)},)), one per code, got "
                    f"{ids_arr.dtype} {ids_arr.shape}."
                )
            ids = ids_arr.astype(np.int64)
        all_ids = np.concatenate([self._ids, ids])
        if len(np.unique(all_ids)) != len(all_ids):
            raise ValueError("`ids` must be unique: some are repeated or already in the index.")
        self._packed = np.concatenate([self._packed, packed])
        self._ids = all_ids
        self._sorted = None
        return self

    def _database(self):
        if self._sorted is None:
            order = np.argsort(self._ids, kind="stable")
            self._sorted = (_word_view(self._packed[order]), self._ids[order])
        return self._sorted

    def distances(self, queries):
        """Hamming distances (Q, N) int32 between the queries and every stored code, columns in insertion order.
        Memory grows with Q * N: for large searches use `search`."""
        q = _word_view(pack_codes(queries, self.num_bits, "queries")[0])
        db = _word_view(self._packed)
        return popcount(q[:, None, :] ^ db[None, :, :])

    def search(self, queries, k=None, radius=None, progress=None):
        """The neighbours of each query code in Hamming distance.

        Args:
            queries: {0, 1} codes (Q, num_bits) or packed uint8 codes (Q, ceil(num_bits / 8)).
            k: int >= 1, the number of nearest codes to return per query (at most the index size).
            radius: int >= 0, return every code at distance <= radius. Give exactly one of `k` and `radius`.
            progress: show a keras Progbar over the queries on stderr (advanced once per chunk of queries): True,
                False or None (the default: where someone watches, a terminal or a notebook; see kgen.progress).

        Returns:
            With `k`: (ids, distances), int64 (Q, k) and int32 (Q, k), ordered by distance, ties by id.
            With `radius`: (ids, distances), two lists of Q 1-D arrays in the same order.
        """
        if (k is None) == (radius is None):
            raise ValueError("HammingIndex.search: give exactly one of `k` (nearest codes) and `radius` "
                             f"(all codes within a Hamming radius), got k={k!r}, radius={radius!r}.")
        if len(self) == 0:
            raise ValueError("HammingIndex.search: the index is empty; `add` codes first.")
        if k is not None:
            k = check_int(k, "k", owner="HammingIndex.search")
            if k > len(self):
                raise ValueError(f"HammingIndex.search: `k` must be <= the {len(self)} codes in the index, got {k}.")
        else:
            radius = check_int(radius, "radius", minimum=0, owner="HammingIndex.search")
        q = _word_view(pack_codes(queries, self.num_bits, "queries")[0])
        db, db_ids = self._database()
        n = len(db)
        chunk = max(1, self.chunk_pairs // max(n, 1))
        if k is not None:
            out_ids = np.empty((len(q), k), np.int64)
            out_dist = np.empty((len(q), k), np.int32)
        else:
            out_ids, out_dist = [], []
        positions = np.arange(n, dtype=np.int64)
        bar = Progress(len(q), unit_name="query", show=progress)
        for start in range(0, len(q), chunk):
            dist = popcount(q[start : start + chunk, None, :] ^ db[None, :, :])  # (c, n) int32
            if k is not None:
                # Distance first, then the position in id order: one integer key sorts both at once.
                key = dist.astype(np.int64) * n + positions
                if k < n:
                    part = np.argpartition(key, k - 1, axis=1)[:, :k]
                    key_k = np.take_along_axis(key, part, axis=1)
                else:
                    key_k = key
                key_k = np.sort(key_k, axis=1)
                pos = key_k % n
                out_ids[start : start + chunk] = db_ids[pos]
                out_dist[start : start + chunk] = key_k // n
            else:
                for row in dist:
                    hit = np.nonzero(row <= radius)[0]
                    order = hit[np.argsort(row[hit], kind="stable")]
                    out_ids.append(db_ids[order])
                    out_dist.append(row[order].astype(np.int32))
            bar.add(len(q[start : start + chunk]))
        return out_ids, out_dist


def precision_at_k(query_codes, query_labels, db_codes, db_labels, k=100, num_bits=None, per_query=False):
    """Mean fraction of the k nearest database codes (Hamming distance, ties by database position) that share the
    query's label.

    Args:
        query_codes: {0, 1} (Q, num_bits) or packed uint8 codes (then pass `num_bits`).
        query_labels: (Q,) integer labels.
        db_codes: the database codes, in the same form as the queries.
        db_labels: (N,) integer labels.
        k: int, the number of neighbours (<= N).
        num_bits: the code length, needed for packed codes.
        per_query: also return the per-query precisions.

    Returns:
        float, or (float, float64 array (Q,)) with `per_query=True`.
    """
    if num_bits is None:
        num_bits = pack_codes(db_codes, None, "db_codes")[1]
    index = HammingIndex(num_bits).add(db_codes)
    q_labels = _check_labels(query_labels, _rows(query_codes), "query_labels")
    d_labels = _check_labels(db_labels, len(index), "db_labels")
    ids, _ = index.search(query_codes, k=k)
    precision = (d_labels[ids] == q_labels[:, None]).mean(axis=1)
    mean = float(precision.mean()) if len(precision) else float("nan")
    return (mean, precision) if per_query else mean


def _rows(codes):
    return len(np.asarray(codes))


def _check_labels(labels, num, name):
    arr = np.asarray(labels)
    if arr.shape != (num,) or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        raise ValueError(f"`{name}` must be {num} integer labels (shape ({num},)), got {arr.dtype} {arr.shape}.")
    return arr


class RandomProjectionLSH:
    """Random-projection locality-sensitive hashing: bit j of x is 1 where <x - mean, w_j> > 0, with w_j drawn from
    a standard Gaussian. The classic data-independent baseline for learned binary codes: the probability that two
    inputs disagree on a bit is their angle (after centring) over pi, so Hamming distance estimates angle.

    Args:
        input_dim: int, the number of input features (inputs of shape (N, ...) are flattened to it).
        num_bits: int, the code length.
        seed: int, seeds the projections (the same seed gives the same codes).

    Example:
    >>> lsh = RandomProjectionLSH(784, 32, seed=0).fit(train_images)   # fit only centres the data
    >>> bits = lsh.encode(test_images)   # float32 {0, 1} (N, 32)
    >>> packed = lsh.hash(test_images)   # uint8 (N, 4)

    Reference: Charikar, 2002, "Similarity estimation techniques from rounding algorithms" (sign random
    projections); Indyk & Motwani, 1998 (locality-sensitive hashing).
    """

    def __init__(self, input_dim, num_bits, seed=0):
        owner = "RandomProjectionLSH"
        self.input_dim = check_int(input_dim, "input_dim", owner=owner)
        self.num_bits = check_int(num_bits, "num_bits", owner=owner)
        self.seed = check_int(seed, "seed", minimum=0, owner=owner)
        rng = np.random.default_rng(self.seed)
        self.projections = rng.standard_normal((self.input_dim, self.num_bits)).astype(np.float32)
        self.mean = np.zeros((self.input_dim,), np.float32)

    def _flat(self, x, name="x"):
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or arr.ndim < 2:
            raise ValueError(f"`{name}` must be a numeric array (N, ...) with {self.input_dim} features per row, "
                             f"got {arr.dtype} {arr.shape}.")
        arr = arr.reshape(len(arr), -1)
        if arr.shape[1] != self.input_dim:
            raise ValueError(f"`{name}` must have {self.input_dim} features per row (input_dim), got "
                             f"{arr.shape[1]} (shape {np.shape(x)}).")
        arr = arr.astype(np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must hold finite numbers; it holds NaN or infinity.")
        return arr

    def fit(self, x):
        """Centre on the mean of `x` (N, ...); returns self."""
        arr = self._flat(x)
        if len(arr) == 0:
            raise ValueError("`x` must hold at least one example to fit the mean.")
        self.mean = arr.mean(axis=0)
        return self

    def encode(self, x, batch_size=8192):
        """{0, 1} float32 codes (N, num_bits)."""
        arr = self._flat(x)
        out = [((arr[i : i + batch_size] - self.mean) @ self.projections > 0) for i in range(0, len(arr), batch_size)]
        return (np.concatenate(out) if out else np.zeros((0, self.num_bits), bool)).astype(np.float32)

    def hash(self, x, batch_size=8192):
        """Packed uint8 codes (N, ceil(num_bits / 8))."""
        return np.packbits(self.encode(x, batch_size).astype(np.uint8), axis=1)
