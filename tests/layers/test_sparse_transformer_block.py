"""SparseTransformerBlock and ShiftedTokenEmbedding on their own: shapes, config round trips, training, the
one-position step against the full call, causality, and bad arguments."""

import numpy as np
import pytest
from keras import ops

from kgen.layers.shifted_token_embedding import ShiftedTokenEmbedding
from kgen.layers.sparse_transformer_block import SparseTransformerBlock
from kgen.testing import TestCase
from kgen.testing.fixtures import reached_steps


class TestSparseTransformerBlock(TestCase):
    def test_shapes_serialization_training(self):
        x = np.random.default_rng(0).normal(size=(2, 10, 8)).astype("float32")
        self.run_layer_test(SparseTransformerBlock, dict(num_heads=2, block_size=4, pattern="fixed",
                                                         summary_size=2, dropout=0.1, seed=0), x, (2, 10, 8))

    @pytest.mark.parametrize("pattern", ["strided", "fixed", "dense"])
    def test_cached_steps_equal_the_full_call_and_causal(self, pattern):
        block = SparseTransformerBlock(2, 4, pattern=pattern, summary_size=2)
        x = np.random.default_rng(1).normal(size=(2, 11, 8)).astype("float32")
        full = ops.convert_to_numpy(block(x))
        cache = block.init_cache(2, 12)
        steps = []
        for t in range(11):
            y, cache = block.call_with_cache(ops.convert_to_tensor(x[:, t]), cache, t)
            steps.append(ops.convert_to_numpy(y))
        np.testing.assert_allclose(np.stack(steps, axis=1), full, rtol=1e-4, atol=1e-5)
        for s in range(11):
            assert min(reached_steps(block, x, s)) == s  # nothing before the changed input moves

    def test_bad_arguments_and_inputs(self):
        with pytest.raises(ValueError, match="dropout"):
            SparseTransformerBlock(2, 4, dropout=1.0)
        with pytest.raises(ValueError, match="pattern"):
            SparseTransformerBlock(2, 4, pattern="sliding")
        with pytest.raises(ValueError, match="recompute"):
            SparseTransformerBlock(2, 4, recompute="yes")
        with pytest.raises(ValueError, match="batch, time, width"):
            SparseTransformerBlock(2, 4)(np.zeros((2, 8), "float32"))


class TestShiftedTokenEmbedding(TestCase):
    def test_shapes_serialization(self):
        tokens = np.random.default_rng(0).integers(0, 5, (2, 12)).astype("int32")
        layer = ShiftedTokenEmbedding(5, 6, [3, 4])
        out = ops.convert_to_numpy(layer(tokens))
        assert out.shape == (2, 12, 6) and layer.compute_output_shape((2, 12)) == (2, 12, 6)
        self.run_serialization_test(layer)
        images = tokens.reshape(2, 3, 4, 1)  # raster order: the same sequence
        np.testing.assert_allclose(ops.convert_to_numpy(ShiftedTokenEmbedding.from_config(layer.get_config())(
            images)).shape, (2, 12, 6))

    def test_shift_and_step(self):
        tokens = np.random.default_rng(1).integers(0, 5, (2, 12)).astype("int32")
        layer = ShiftedTokenEmbedding(5, 6, [3, 4])
        full = ops.convert_to_numpy(layer(tokens))
        changed = tokens.copy()
        changed[:, 4] = (changed[:, 4] + 1) % 5
        moved = np.abs(ops.convert_to_numpy(layer(changed)) - full).max(axis=(0, 2)) > 0
        assert list(np.flatnonzero(moved)) == [5]  # token t enters at position t + 1 only
        for t in range(12):
            step, _ = layer.call_with_cache(ops.convert_to_tensor(tokens[:, max(t - 1, 0)]), None, t)
            np.testing.assert_allclose(ops.convert_to_numpy(step), full[:, t], rtol=1e-6, atol=1e-6)

    @pytest.mark.parametrize("kwargs", [dict(num_tokens=0, output_dim=4, position_shape=[4]),
                                        dict(num_tokens=3, output_dim=4, position_shape=[]),
                                        dict(num_tokens=3, output_dim=4, position_shape=[4, 0])])
    def test_bad_arguments(self, kwargs):
        with pytest.raises(ValueError, match="num_tokens|position_shape"):
            ShiftedTokenEmbedding(**kwargs)
