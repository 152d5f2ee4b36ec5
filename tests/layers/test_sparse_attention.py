"""SparseAttention against a dense reference evaluated with each pattern's mask (built here from the paper's
definitions, in the test only), the patterns' connectivity measured by perturbation, merged heads counting no key
twice, padding, the cached one-position step, memory, serialization and argument checks."""

import keras
import numpy as np
import pytest
from keras import ops

from kgen.layers import SparseAttention
from kgen.testing import TestCase
from kgen.testing.fixtures import random_weights

SPARSE = [("strided", "merged"), ("strided", "interleaved"), ("strided", "multihead"),
          ("fixed", "merged"), ("fixed", "interleaved"), ("fixed", "multihead")]


def pattern_mask(layer, n, head):
    """The (n, n) boolean mask of the keys query i reads in head `head`, from the definitions (Child et al. 2019,
    section 4.2): strided A1 = {i - l .. i}, A2 = {j : (i - j) mod l = 0}; fixed A1 = {j in i's block},
    A2 = {j in an earlier block at one of this head's c summary offsets: the k-th head reading A2 has offsets
    l - (k mod (l / c) + 1) c ..}; always j <= i."""
    l, c = layer.block_size, layer.summary_size
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    causal = j <= i
    if layer.pattern == "dense":
        return causal
    if layer.pattern == "strided":
        a1, a2 = i - j <= l, (i - j) % l == 0
    else:
        rank = head - (layer.num_heads // 2 if layer.integration == "multihead" else 0)  # k-th head reading A2
        first = l - ((rank % (l // c)) + 1) * c
        a1 = j // l == i // l
        a2 = (j // l < i // l) & (j % l >= first) & (j % l < first + c)
    kind = layer.head_patterns()[head]
    reads = {"local": a1, "far": a2, "union": a1 | a2}[kind]
    return reads & causal


def reference(layer, x):
    """Dense attention in numpy with each head's pattern mask: softmax over the allowed keys (zeros if none)."""
    w = {v.path.split("/")[-1]: ops.convert_to_numpy(v).astype("float64") for v in layer.weights}
    n, h, dk = x.shape[1], layer.num_heads, layer.key_dim
    x = x.astype("float64")

    def heads(name):
        return (x @ w[f"{name}_kernel"] + w[f"{name}_bias"]).reshape(len(x), n, h, dk)

    q, k, v = heads("query") / np.sqrt(dk), heads("key"), heads("value")
    out = np.zeros_like(q)
    for g in range(h):
        mask = pattern_mask(layer, n, g)
        scores = np.einsum("bqd,bkd->bqk", q[:, :, g], k[:, :, g])
        scores = np.where(mask, scores, -np.inf)
        top = np.max(scores, axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        e = np.where(mask, np.exp(scores - top), 0.0)
        probs = e / np.maximum(e.sum(-1, keepdims=True), 1e-300)
        out[:, :, g] = np.einsum("bqk,bkd->bqd", probs, v[:, :, g])
    return out.reshape(len(x), n, h * dk) @ w["output_kernel"] + w["output_bias"]


def build(n=20, d=8, **kwargs):
    layer = SparseAttention(**{"num_heads": 2, "key_dim": 4, "block_size": 4, "summary_size": 2, **kwargs})
    x = np.random.default_rng(0).normal(size=(2, n, d)).astype("float32")
    layer(x)
    random_weights(layer, seed=1)
    return layer, x


def reach(layers, n, d=8, seed=0):
    """(n, n) bools measured by perturbation: [j, i] is True when raising input j changes output i of a residual
    stack x -> x + layer(x) (as in a transformer: the residual carries a position's own input to the next layer)."""
    x = np.random.default_rng(seed).normal(size=(1, n, d)).astype("float32")

    def run(inputs):
        inputs = ops.convert_to_tensor(inputs)
        for layer in layers:
            inputs = inputs + layer(inputs)
        return ops.convert_to_numpy(inputs)[0]

    base = run(x)
    out = np.zeros((n, n), bool)
    for j in range(n):
        changed = x.copy()
        changed[0, j] += 1.0
        out[j] = np.abs(run(changed) - base).max(-1) > 1e-6
    return out


def largest_intermediate(jaxpr):
    """The most values any intermediate of a JAX program holds, nested programs (jit, scan, ...) included."""
    largest = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            largest = max(largest, int(np.prod(var.aval.shape)))
        for param in eqn.params.values():
            for inner in param if isinstance(param, (list, tuple)) else [param]:
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    largest = max(largest, largest_intermediate(inner))
    return largest


class TestSparseAttention(TestCase):
    def test_shapes_serialization_training(self):
        x = np.random.default_rng(0).normal(size=(2, 10, 8)).astype("float32")
        self.run_layer_test(
            SparseAttention,
            dict(num_heads=2, key_dim=4, block_size=4, pattern="fixed", summary_size=2, output_dim=6),
            x, (2, 10, 6),
        )

    @pytest.mark.parametrize("pattern,integration", SPARSE + [("dense", "merged")])
    @pytest.mark.parametrize("n", [16, 19])  # a multiple of l, and one padded inside the layer
    def test_matches_masked_dense_reference(self, pattern, integration, n):
        for step in (0, 1) if integration == "interleaved" else (0,):
            heads = 4 if pattern == "fixed" else 2  # fixed: two heads share no summary sub-block, two wrap around
            layer, x = build(n, pattern=pattern, integration=integration, interleave_step=step, num_heads=heads)
            np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), reference(layer, x), rtol=1e-4, atol=1e-4,
                                       err_msg=f"{pattern} {integration} step {step}")

    @pytest.mark.parametrize("pattern", ["strided", "fixed"])
    def test_merged_heads_count_each_key_once(self, pattern):
        # With zero queries every score is equal, so a head's attention is the mean of the values it reads; with
        # one-hot inputs as values each key it reads must get exactly 1 / (number of keys), never 2 / (...).
        n, l = 16, 4
        layer = SparseAttention(1, n, l, pattern=pattern, summary_size=2, output_dim=n)
        x = np.eye(n, dtype="float32")[None]
        layer(x)
        layer.set_weights([self._weight(v, n) for v in layer.weights])
        weights = ops.convert_to_numpy(layer(x))[0]  # [query, key]: the weight each key got
        mask = pattern_mask(layer, n, 0)
        np.testing.assert_allclose(weights, mask / mask.sum(1, keepdims=True), atol=1e-6)

    @staticmethod
    def _weight(variable, n):
        name = variable.path.split("/")[-1]
        if name in ("value_kernel", "output_kernel"):
            return np.eye(n, dtype="float32")
        return np.zeros(variable.shape, "float32")  # zero queries (all scores equal), keys and biases

    @pytest.mark.parametrize("pattern", ["strided", "fixed"])
    def test_two_layers_connect_every_pair(self, pattern):
        n = 24
        for integration in ("merged", "interleaved"):
            layers = [SparseAttention(2, 4, 4, pattern=pattern, integration=integration, summary_size=1,
                                      interleave_step=step, output_dim=8) for step in (0, 1)]
            for i, layer in enumerate(layers):
                layer(np.zeros((1, n, 8), "float32"))
                random_weights(layer, seed=i, stddev=0.2)  # unsaturated softmaxes: every read is visible
            measured = reach(layers, n)
            np.testing.assert_array_equal(measured, np.triu(np.ones((n, n), bool)), err_msg=integration)

    def test_one_strided_layer_does_not(self):
        n, l = 24, 4
        layer, _ = build(n, pattern="strided")
        measured = reach([layer], n)
        expected = pattern_mask(layer, n, 0).T  # [j, i]: what one layer reads is exactly what reaches
        np.testing.assert_array_equal(measured, expected)
        assert not measured[0, l + 1], "position l + 1 is neither within l of 0 nor a multiple of l away"
        assert not measured.all() and not np.triu(measured).all()

    @pytest.mark.parametrize("pattern,integration", SPARSE + [("dense", "merged")])
    def test_padding_gives_the_outputs_of_a_longer_sequence(self, pattern, integration):
        layer, x = build(21, pattern=pattern, integration=integration, num_heads=4 if pattern == "fixed" else 2)
        longer = ops.convert_to_numpy(layer(x))
        for n in (5, 13, 16):
            np.testing.assert_allclose(ops.convert_to_numpy(layer(x[:, :n])), longer[:, :n], rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("pattern,integration", SPARSE + [("dense", "merged")])
    def test_cached_steps_equal_the_full_call(self, pattern, integration):
        n = 19
        layer, x = build(n, pattern=pattern, integration=integration, num_heads=4 if pattern == "fixed" else 2)
        full = ops.convert_to_numpy(layer(x))
        cache = layer.init_cache(2, 24)
        steps = []
        for t in range(n):
            y, cache = layer.call_with_cache(ops.convert_to_tensor(x[:, t]), cache, t)
            steps.append(ops.convert_to_numpy(y))
        np.testing.assert_allclose(np.stack(steps, axis=1), full, rtol=1e-4, atol=1e-5)

    def test_memory_is_below_n_squared(self):
        # Measured on the traced computation (JAX): no intermediate of the sparse patterns holds n x n values per
        # head, while the dense reference does.
        if keras.backend.backend() != "jax":
            pytest.skip("reads the traced program of JAX")
        import jax

        n, d = 1024, 8
        x = np.zeros((1, n, d), "float32")
        sizes = {}
        for pattern in ("strided", "fixed", "dense"):
            layer = SparseAttention(1, 4, 32, pattern=pattern, summary_size=4)
            layer(x[:, :64])
            weights = [v.value for v in layer.trainable_variables]

            def forward(weights, x, layer=layer):
                return layer.stateless_call(weights, [], x)[0]

            largest = largest_intermediate(jax.make_jaxpr(forward)(weights, x).jaxpr)
            sizes[pattern] = largest
        assert sizes["dense"] >= n * n
        for pattern in ("strided", "fixed"):
            assert sizes[pattern] <= 2 * n * 32 * 2, (pattern, sizes)  # 2 x n x l: the strided A1 scores, doubled
            assert sizes[pattern] < n * n // 4, (pattern, sizes)

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(num_heads=0, key_dim=4, block_size=4), "num_heads"),
            (dict(num_heads=2, key_dim=0, block_size=4), "key_dim"),
            (dict(num_heads=2, key_dim=4, block_size=0), "block_size"),
            (dict(num_heads=2, key_dim=4, block_size=4, pattern="local"), "pattern"),
            (dict(num_heads=2, key_dim=4, block_size=4, integration="sum"), "integration"),
            (dict(num_heads=3, key_dim=4, block_size=4, integration="multihead"), "num_heads"),
            (dict(num_heads=2, key_dim=4, block_size=8, pattern="fixed", summary_size=3), "summary_size"),
            (dict(num_heads=2, key_dim=4, block_size=4, pattern="fixed", summary_size=5), "summary_size"),
            (dict(num_heads=2, key_dim=4, block_size=4, interleave_step=-1), "interleave_step"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            SparseAttention(**kwargs)

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="batch, time, channels"):
            SparseAttention(2, 4, 4)(np.zeros((2, 8), "float32"))
