"""Causal multi-head self-attention with the factorised sparse patterns of the Sparse Transformer."""

import keras
import numpy as np
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.layers.constants import layer_constant
from kgen.layers.steps import dim
from kgen.validation import check_int

PATTERNS = ("strided", "fixed", "dense")
INTEGRATIONS = ("merged", "interleaved", "multihead")
_MASKED = -1e9  # the score of a key a query may not read (float32; exp underflows to exactly 0)


def masked_softmax_parts(parts):
    """One softmax over the keys of several score tensors.

    `parts` is a list of (scores, mask): float32 scores (..., k_i) and boolean masks broadcastable to them, the
    leading axes alike. Returns the probabilities of each part; a query that may read no key at all gets zeros (its
    attention output is then 0).
    """
    masked = [ops.where(mask, scores, _MASKED) for scores, mask in parts]
    top = ops.max(masked[0], axis=-1, keepdims=True)
    for scores in masked[1:]:
        top = ops.maximum(top, ops.max(scores, axis=-1, keepdims=True))
    exps = [ops.exp(scores - top) * ops.cast(mask, "float32") for scores, (_, mask) in zip(masked, parts)]
    total = ops.sum(exps[0], axis=-1, keepdims=True)
    for e in exps[1:]:
        total = total + ops.sum(e, axis=-1, keepdims=True)
    total = ops.maximum(total, 1e-30)
    return [e / total for e in exps]


@keras.saving.register_keras_serializable(package="kgen")
class SparseAttention(ArgumentConfig, keras.layers.Layer):
    """Causal multi-head self-attention over a sequence, each position reading the keys of a factorised pattern.

    With block size l, position i = b l + r (block b, offset r) reads, under `pattern`:

    - "strided": A1, the previous l positions and itself (i - l .. i); A2, every l-th position back (i, i - l,
      i - 2l, ...). A1 is the block-local attention on the (n / l, l) view of the sequence (the current and the
      previous block), A2 the column attention on the same view (the same offset r in every block up to b).
    - "fixed": A1, the positions of its own block up to itself; A2, the last c positions (`summary_size`) of every
      earlier block. With several heads that read A2, the k-th of them reads its own c-wide summary sub-block:
      offsets l - (j + 1) c .. l - j c - 1 of each block, j = k mod (l / c) (`summary_offsets`).
    - "dense": every position up to itself (the reference; memory n x n).

    Two layers of either sparse pattern connect every earlier position to every later one; one layer of "strided"
    does not. `integration` says how a layer's heads use A1 and A2 (section 5.1 of the paper):

    - "merged": every head reads the union, with one softmax over both key sets, each key counted once (strided: A2
      without i and i - l, which A1 holds; fixed: A1 and A2 are disjoint);
    - "interleaved": every head reads A1 when `interleave_step` is even, A2 when it is odd (a model passes its
      block index, so the patterns alternate with depth);
    - "multihead": the first half of the heads read A1, the second half A2, each head with its own softmax.

    Nothing of size n x n is built for the sparse patterns: scores are (n / l) x l x 2l for strided A1,
    (n / l) x l x (n / l) for its A2, (n / l) x l x l for fixed A1 and (n / l) x l x (n / l) c for its A2, so
    memory is O(n sqrt(n)) per head with l ~ sqrt(n). A sequence whose length is not a multiple of l is padded at the
    end inside the layer; by causality the padding changes no output that is returned. A query with no key to read
    (fixed A2 in the first block) gets a zero attention output.

    Generation: `init_cache(batch_size, max_length)` makes the key/value cache, laid out as blocks of l (plus one
    zero block in front, the "previous block" of block 0, and for "fixed" the summary keys of each head), and
    `call_with_cache(x, cache, index)` attends from the one position `index` to the cached keys its pattern reads:
    2l + 1 + n / l keys per head for "strided", l + (n / l) c for "fixed".

    Args:
        num_heads: int, attention heads (even for `integration="multihead"`).
        key_dim: int, query/key/value width of each head.
        block_size: int l, the stride of the patterns (about sqrt(n)).
        pattern: "strided", "fixed" or "dense".
        integration: "merged", "interleaved" or "multihead" (ignored for "dense").
        summary_size: int c, summary positions per block for "fixed" (default max(1, l // 16): the paper's c = 8 for
            l = 128; A2 then reads n / 16 keys); l must be a multiple of c.
        interleave_step: int >= 0, with "interleaved": A1 when even, A2 when odd.
        output_dim: int, width of the output projection (default: the input width).
        kernel_initializer: initializer of the query, key and value kernels.
        output_initializer: initializer of the output projection (default `kernel_initializer`; the Sparse
            Transformer scales it by 1 / sqrt(2N) for N layers).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, time, channels); time may be None.

    Returns:
        (batch, time, output_dim): step t a function of inputs 0 .. t only.

    Example:
    >>> attention = SparseAttention(num_heads=4, key_dim=16, block_size=32, pattern="fixed")
    >>> y = attention(keras.ops.ones((2, 1024, 64)))  # (2, 1024, 64)

    Reference: Child, Gray, Radford & Sutskever, 2019, "Generating Long Sequences with Sparse Transformers",
    sections 4 and 5.1.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        block_size,
        pattern="strided",
        integration="merged",
        summary_size=None,
        interleave_step=0,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        output_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "SparseAttention"
        self.num_heads = check_int(num_heads, "num_heads", owner=owner)
        self.key_dim = check_int(key_dim, "key_dim", owner=owner)
        self.block_size = check_int(block_size, "block_size", owner=owner)
        if pattern not in PATTERNS:
            raise ValueError(f"{owner}: `pattern` must be one of {', '.join(map(repr, PATTERNS))}, got {pattern!r}.")
        self.pattern = pattern
        if integration not in INTEGRATIONS:
            raise ValueError(
                f"{owner}: `integration` must be one of {', '.join(map(repr, INTEGRATIONS))}, got {integration!r}."
            )
        self.integration = integration
        if integration == "multihead" and pattern != "dense" and self.num_heads % 2:
            raise ValueError(
                f"{owner}: `integration='multihead'` gives half the heads A1 and half A2, so `num_heads` must be "
                f"even, got {self.num_heads}."
            )
        if summary_size is None:
            summary_size = max(1, self.block_size // 16)
        self.summary_size = check_int(summary_size, "summary_size", owner=owner, maximum=self.block_size)
        if self.block_size % self.summary_size:
            raise ValueError(
                f"{owner}: `block_size` ({self.block_size}) must be a multiple of `summary_size` "
                f"({self.summary_size})."
            )
        self.interleave_step = check_int(interleave_step, "interleave_step", minimum=0, owner=owner)
        self.output_dim = None if output_dim is None else check_int(output_dim, "output_dim", owner=owner)
        self._constants = {}
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_initializer = (
            None if output_initializer is None else keras.initializers.get(output_initializer)
        )

    # ------------------------------------------------------------------------------------------------ weights
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"SparseAttention: inputs must be (batch, time, channels) with known channels, got {input_shape}."
            )
        d, width = int(input_shape[-1]), self.num_heads * self.key_dim
        out = self.output_dim or d
        add = self.add_weight
        self.query_kernel = add(name="query_kernel", shape=(d, width), initializer=self.kernel_initializer)
        self.key_kernel = add(name="key_kernel", shape=(d, width), initializer=self.kernel_initializer)
        self.value_kernel = add(name="value_kernel", shape=(d, width), initializer=self.kernel_initializer)
        self.query_bias = add(name="query_bias", shape=(width,), initializer="zeros")
        self.key_bias = add(name="key_bias", shape=(width,), initializer="zeros")
        self.value_bias = add(name="value_bias", shape=(width,), initializer="zeros")
        self.output_kernel = add(
            name="output_kernel", shape=(width, out), initializer=self.output_initializer or self.kernel_initializer
        )
        self.output_bias = add(name="output_bias", shape=(out,), initializer="zeros")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    # ------------------------------------------------------------------------------------------------ patterns
    def head_patterns(self):
        """Which of A1 ("local"), A2 ("far") or both ("union") each head reads: a list of num_heads strings."""
        h = self.num_heads
        if self.pattern == "dense":
            return ["dense"] * h
        if self.integration == "merged":
            return ["union"] * h
        if self.integration == "interleaved":
            return ["local" if self.interleave_step % 2 == 0 else "far"] * h
        return ["local"] * (h // 2) + ["far"] * (h - h // 2)

    def summary_offsets(self):
        """The first block offset of each head's summary sub-block ("fixed"), a numpy int array (num_heads,): the
        k-th head that reads A2 reads offsets l - (k mod (l / c) + 1) c .. l - (k mod (l / c)) c - 1, so the first
        one reads the last c positions of each block, which every earlier position of the block reaches through A1
        (heads that read A1 only get the same numbering, unused)."""
        l, c = self.block_size, self.summary_size
        groups = l // c
        first_far = self.num_heads // 2 if self.pattern != "dense" and self.integration == "multihead" else 0
        return np.array([l - ((g - first_far) % groups + 1) * c for g in range(self.num_heads)], dtype="int32")

    def _head_groups(self):
        """[(first head, last head + 1, what they read)] in head order: at most two runs."""
        runs = []
        for g, reads in enumerate(self.head_patterns()):
            if runs and runs[-1][2] == reads:
                runs[-1] = (runs[-1][0], g + 1, reads)
            else:
                runs.append((g, g + 1, reads))
        return runs

    # ------------------------------------------------------------------------------------------------ forward
    def _project(self, x, kernel, bias):
        return ops.matmul(x, ops.cast(kernel, x.dtype)) + ops.cast(bias, x.dtype)

    def call(self, inputs):
        n = dim(inputs, 1)  # an int, or a scalar tensor for a traced time axis
        l, h, dk = self.block_size, self.num_heads, self.key_dim
        pad = (-n) % l
        x = ops.pad(inputs, [[0, 0], [0, pad], [0, 0]])
        total = n + pad

        def heads(t):  # (B, N, h * dk) -> (B, h, N, dk), float32
            return ops.transpose(ops.reshape(ops.cast(t, "float32"), (-1, total, h, dk)), (0, 2, 1, 3))

        q = heads(self._project(x, self.query_kernel, self.query_bias)) * (dk**-0.5)
        k = heads(self._project(x, self.key_kernel, self.key_bias))
        v = heads(self._project(x, self.value_kernel, self.value_bias))
        outputs = []
        for first, last, reads in self._head_groups():
            outputs.append(self._attend(q[:, first:last], k[:, first:last], v[:, first:last], reads, first, total))
        out = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=1)  # (B, h, N, dk)
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (-1, total, h * dk))[:, :n]
        out = ops.cast(out, self.compute_dtype)
        return self._project(out, self.output_kernel, self.output_bias)

    def _attend(self, q, k, v, reads, first_head, total):
        """Attention of the heads `first_head`.. (q, k, v: (B, heads, N, dk), N a multiple of l) -> (B, heads, N,
        dk)."""
        if reads == "dense":
            positions = ops.arange(total, dtype="int32")
            mask = positions[None, :] <= positions[:, None]
            (probs,) = masked_softmax_parts([(ops.einsum("bhqd,bhkd->bhqk", q, k), mask)])
            return ops.einsum("bhqk,bhkd->bhqd", probs, v)
        l = self.block_size
        nb = total // l

        def blocks(t):  # (B, g, N, dk) -> (B, g, nb, l, dk)
            return ops.reshape(t, (-1, t.shape[1], nb, l, self.key_dim))

        qb, kb, vb = blocks(q), blocks(k), blocks(v)
        parts, readers = [], []
        if reads in ("local", "union"):
            part, reader = self._local_part(qb, kb, vb, nb)
            parts.append(part)
            readers.append(reader)
        if reads in ("far", "union"):
            part, reader = self._far_part(qb, kb, vb, nb, first_head, exclude_local=reads == "union")
            parts.append(part)
            readers.append(reader)
        probs = masked_softmax_parts(parts)
        out = readers[0](probs[0])
        for reader, p in zip(readers[1:], probs[1:]):
            out = out + reader(p)
        return ops.reshape(out, (-1, q.shape[1], total, self.key_dim))

    def _local_part(self, qb, kb, vb, nb):
        """A1 on the block view: ((scores, mask), reader) with scores (B, g, nb, l, keys)."""
        l = self.block_size
        # The masks are layer constants: keras.ops while a model is built symbolically, numpy once when it runs.
        if self.pattern == "fixed":  # the current block up to the query
            def fixed(arange, less_equal):
                r = arange(l)
                return less_equal(r[None, :], r[:, None])

            mask = layer_constant(self._constants, ("fixed", l), lambda: fixed(np.arange, np.less_equal),
                                  lambda: fixed(lambda n: ops.arange(n, dtype="int32"), ops.less_equal), "bool")
            scores = ops.einsum("bgnqd,bgnkd->bgnqk", qb, kb)
            return (scores, mask), lambda p: ops.einsum("bgnqk,bgnkd->bgnqd", p, vb)
        # strided: the previous block from the query's offset on, and the current block up to the query
        def with_previous(t):
            previous = ops.pad(t, [[0, 0], [0, 0], [1, 0], [0, 0], [0, 0]])[:, :, :-1]
            return ops.concatenate([previous, t], axis=3)  # (B, g, nb, 2l, dk)

        def strided(arange, where, less, greater_equal, less_equal):  # (l, 2l) offsets, (2l,) keys of this block
            r, s = arange(l)[:, None], arange(2 * l)
            return where(less(s, l), greater_equal(s, r), less_equal(s - l, r)), greater_equal(s, l)

        numpy_parts = lambda: strided(np.arange, np.where, np.less, np.greater_equal, np.less_equal)  # noqa: E731
        ops_parts = lambda: strided(lambda n: ops.arange(n, dtype="int32"), ops.where, ops.less,  # noqa: E731
                                    ops.greater_equal, ops.less_equal)
        offsets = layer_constant(self._constants, ("strided", l), lambda: numpy_parts()[0], lambda: ops_parts()[0],
                                 "bool")
        current = layer_constant(self._constants, ("current", l), lambda: numpy_parts()[1], lambda: ops_parts()[1],
                                 "bool")
        keys, values = with_previous(kb), with_previous(vb)
        block = ops.arange(nb, dtype="int32")[:, None, None]
        mask = ops.logical_and(offsets, ops.logical_or(block > 0, current))
        scores = ops.einsum("bgnqd,bgnkd->bgnqk", qb, keys)
        return (scores, mask), lambda p: ops.einsum("bgnqk,bgnkd->bgnqd", p, values)

    def _far_part(self, qb, kb, vb, nb, first_head, exclude_local):
        """A2 on the block view: ((scores, mask), reader) with scores (B, g, nb, l, keys)."""
        block = ops.arange(nb, dtype="int32")
        if self.pattern == "strided":  # the same offset in every block up to the query's (before i - l if merged)
            last = block[:, None] - (2 if exclude_local else 0)
            mask = (block[None, :] <= last)[:, None, :]  # (nb query blocks, 1, nb key blocks)
            scores = ops.einsum("bgqrd,bgkrd->bgqrk", qb, kb)
            return (scores, mask), lambda p: ops.einsum("bgqrk,bgkrd->bgqrd", p, vb)
        # fixed: each head's summary sub-block of every earlier block
        c, g = self.summary_size, qb.shape[1]
        offsets = self.summary_offsets()[first_head : first_head + g]
        groups = self.block_size // c

        def numpy_choose():
            choose = np.zeros((g, groups), "float32")
            choose[np.arange(g), offsets // c] = 1.0
            return choose

        choose = layer_constant(self._constants, ("choose", first_head, g), numpy_choose,
                                lambda: ops.one_hot(ops.convert_to_tensor(offsets // c), groups), "float32")

        def summary(t):  # (B, g, nb, l, dk) -> (B, g, nb * c, dk)
            grouped = ops.reshape(t, (-1, g, nb, groups, c, self.key_dim))
            return ops.reshape(ops.einsum("bgnjcd,gj->bgncd", grouped, choose), (-1, g, nb * c, self.key_dim))

        keys, values = summary(kb), summary(vb)
        key_block = ops.repeat(block, c)  # (nb * c,)
        mask = (key_block[None, :] < block[:, None])[:, None, :]  # (nb, 1, nb * c)
        scores = ops.einsum("bgnqd,bgkd->bgnqk", qb, keys)
        return (scores, mask), lambda p: ops.einsum("bgnqk,bgkd->bgnqd", p, values)

    # ------------------------------------------------------------------------------------------------ generation
    def init_cache(self, batch_size, max_length):
        """Zero keys and values for `batch_size` sequences of up to `max_length` positions (float32): "dense"
        (keys, values) of (batch, heads, max_length, key_dim); the sparse patterns (keys, values) as blocks,
        (batch, heads, 1 + ceil(max_length / l), l, key_dim), block b stored at b + 1 behind a zero block, and for
        "fixed" also each head's summary keys and values (batch, heads, 1 + ceil(max_length / l), c, key_dim)."""
        h, dk, l = self.num_heads, self.key_dim, self.block_size
        if self.pattern == "dense":
            shape = (batch_size, h, max_length, dk)
            return (ops.zeros(shape, "float32"), ops.zeros(shape, "float32"))
        stored = 1 + -(-max_length // l)
        cache = [ops.zeros((batch_size, h, stored, l, dk), "float32") for _ in range(2)]
        if self.pattern == "fixed":
            cache += [ops.zeros((batch_size, h, stored, self.summary_size, dk), "float32") for _ in range(2)]
        return tuple(cache)

    def call_with_cache(self, inputs, cache, index):
        """The output at position `index` from its input (batch, channels), reading the cached keys and values of
        the positions before it that its pattern reads; returns (output (batch, output_dim), cache)."""
        h, dk, l = self.num_heads, self.key_dim, self.block_size

        def heads(t):  # (B, h * dk) -> (B, h, dk), float32
            return ops.reshape(ops.cast(t, "float32"), (-1, h, dk))

        q = heads(self._project(inputs, self.query_kernel, self.query_bias)) * (dk**-0.5)
        k = heads(self._project(inputs, self.key_kernel, self.key_bias))
        v = heads(self._project(inputs, self.value_kernel, self.value_bias))
        if self.pattern == "dense":
            keys = ops.slice_update(cache[0], (0, 0, index, 0), k[:, :, None, :])
            values = ops.slice_update(cache[1], (0, 0, index, 0), v[:, :, None, :])
            mask = ops.arange(keys.shape[2], dtype="int32") <= index
            (probs,) = masked_softmax_parts([(ops.einsum("bhd,bhkd->bhk", q, keys), mask)])
            out, cache = ops.einsum("bhk,bhkd->bhd", probs, values), (keys, values)
        else:
            block, offset = index // l, index % l
            start = (0, 0, block + 1, offset, 0)
            cache = [ops.slice_update(cache[0], start, k[:, :, None, None, :]),
                     ops.slice_update(cache[1], start, v[:, :, None, None, :])] + list(cache[2:])
            if self.pattern == "fixed":  # a head whose summary sub-block holds this offset keeps k and v there too
                slot = offset - ops.convert_to_tensor(self.summary_offsets())  # (h,)
                hit = ops.equal(slot[:, None], ops.arange(self.summary_size, dtype="int32")[None, :])
                for i, new in ((2, k), (3, v)):
                    current = ops.take(cache[i], block + 1, axis=2)  # (B, h, c, dk)
                    updated = ops.where(hit[None, :, :, None], new[:, :, None, :], current)
                    cache[i] = ops.slice_update(cache[i], (0, 0, block + 1, 0, 0), updated[:, :, None])
            outputs = []
            for first, last, reads in self._head_groups():
                part = [t[:, first:last] for t in cache]
                outputs.append(self._attend_step(q[:, first:last], part, reads, block, offset))
            out = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=1)
            cache = tuple(cache)
        out = ops.cast(ops.reshape(out, (-1, h * dk)), self.compute_dtype)
        return self._project(out, self.output_kernel, self.output_bias), cache

    def _attend_step(self, q, cache, reads, block, offset):
        """One position's attention for a run of heads: q (B, g, dk), `cache` their slices -> (B, g, dk)."""
        l, c, dk = self.block_size, self.summary_size, self.key_dim
        parts, values = [], []
        if reads in ("local", "union"):
            s = ops.arange(2 * l if self.pattern == "strided" else l, dtype="int32")
            if self.pattern == "strided":  # the previous and the current block, stored at block and block + 1
                pair = block + ops.arange(2, dtype="int32")
                keys = ops.reshape(ops.take(cache[0], pair, axis=2), (-1, q.shape[1], 2 * l, dk))
                vals = ops.reshape(ops.take(cache[1], pair, axis=2), (-1, q.shape[1], 2 * l, dk))
                previous = ops.logical_and(ops.logical_and(s < l, s >= offset), ops.greater(block, 0))
                mask = ops.logical_or(previous, ops.logical_and(s >= l, s - l <= offset))
            else:  # the current block up to this position
                keys, vals = ops.take(cache[0], block + 1, axis=2), ops.take(cache[1], block + 1, axis=2)
                mask = s <= offset
            parts.append((ops.einsum("bgd,bgkd->bgk", q, keys), mask))
            values.append(vals)
        if reads in ("far", "union"):
            stored = cache[0].shape[2]
            if self.pattern == "strided":  # this offset in every stored block up to this one (before i - l: merged)
                keys, vals = ops.take(cache[0], offset, axis=3), ops.take(cache[1], offset, axis=3)
                j = ops.arange(stored, dtype="int32")
                mask = ops.logical_and(j >= 1, j <= block + (-1 if reads == "union" else 1))
            else:  # each head's summary keys of the earlier blocks
                keys = ops.reshape(cache[2], (-1, q.shape[1], stored * c, dk))
                vals = ops.reshape(cache[3], (-1, q.shape[1], stored * c, dk))
                j = ops.arange(stored * c, dtype="int32") // c
                mask = ops.logical_and(j >= 1, j <= block)
            parts.append((ops.einsum("bgd,bgkd->bgk", q, keys), mask))
            values.append(vals)
        probs = masked_softmax_parts(parts)
        out = ops.einsum("bgk,bgkd->bgd", probs[0], values[0])
        for p, vals in zip(probs[1:], values[1:]):
            out = out + ops.einsum("bgk,bgkd->bgd", p, vals)
        return out
