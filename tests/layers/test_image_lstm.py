"""What RowLSTM and DiagonalBiLSTM share through their ImageLSTM base: argument and input checks, colour groups at a
pixel, and the config."""

import keras
import numpy as np
import pytest

from kgen.layers import DiagonalBiLSTM, RowLSTM
from kgen.testing import TestCase
from kgen.testing.fixtures import channel_group_reach, random_weights

LAYERS = [RowLSTM, DiagonalBiLSTM]


class TestImageLSTM(TestCase):
    @pytest.mark.parametrize("layer_class", LAYERS)
    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(units=0), "units"),
            (dict(units=4, mask_type="C"), "mask_type"),
            (dict(units=4, channel_groups=0), "channel_groups"),
            (dict(units=4, channel_groups=3), "units"),
            (dict(units=4, unroll="yes"), "unroll"),
            (dict(units=4, unroll=1), "unroll"),
            (dict(units=4, unit_forget_bias=1), "unit_forget_bias"),
            (dict(units=4, kernel_initializer="no_such_initializer"), "no_such_initializer"),
        ],
    )
    def test_bad_arguments(self, layer_class, kwargs, match):
        with pytest.raises(ValueError, match=match):
            layer_class(**kwargs)

    @pytest.mark.parametrize("layer_class", LAYERS)
    def test_bad_inputs(self, layer_class):
        with pytest.raises(ValueError, match=f"{layer_class.__name__}.*channel_groups"):
            layer_class(3, channel_groups=3)(np.zeros((1, 4, 4, 2), "float32"))
        with pytest.raises(ValueError, match="height and width"):
            layer_class(3)(keras.Input((None, 4, 2)))
        with pytest.raises(ValueError, match="height and width"):
            layer_class(3)(keras.Input((4, None, 2)))
        with pytest.raises(ValueError, match="batch, height, width, channels"):
            layer_class(3)(np.zeros((1, 4, 2), "float32"))

    @pytest.mark.parametrize("layer_class,shape,pixel", [(RowLSTM, (1, 1, 1, 3), (0, 0)),
                                                         (DiagonalBiLSTM, (1, 2, 2, 3), (1, 1))])
    def test_rgb_groups_within_a_pixel(self, layer_class, shape, pixel):
        # At one pixel, output group g sees input groups < g (A) or <= g (B); nothing else at that pixel.
        for mask_type, allowed in (("A", np.tril(np.ones((3, 3)), -1)), ("B", np.tril(np.ones((3, 3))))):
            layer = layer_class(6, mask_type=mask_type, channel_groups=3)
            x = np.random.default_rng(4).normal(size=shape).astype("float32")
            layer(x)
            random_weights(layer, seed=5)
            reach = channel_group_reach(layer, x, pixel, pixel, groups=3)  # [input channel, output group]
            np.testing.assert_array_equal(reach.T, allowed.astype(bool), err_msg=mask_type)
            if layer_class is DiagonalBiLSTM:
                # the earlier pixel (0, 1) reaches every group through the unmasked states (with type A only from
                # the channels its own 1x1 input-to-state reads: not its last group)
                earlier = channel_group_reach(layer, x, (0, 1), pixel, groups=3)
                assert earlier[: 2 if mask_type == "A" else 3].all(), (mask_type, earlier)

    @pytest.mark.parametrize("layer_class", LAYERS)
    def test_config_is_the_constructor_arguments(self, layer_class):
        layer = layer_class(6, mask_type="B", channel_groups=3, unroll=False, unit_forget_bias=False,
                            kernel_initializer=keras.initializers.RandomNormal(stddev=0.1), name="lstm")
        config = layer.get_config()
        assert config["units"] == 6 and config["channel_groups"] == 3 and config["unroll"] is False
        assert config["unit_forget_bias"] is False and config["name"] == "lstm"
        assert config["kernel_initializer"]["config"]["stddev"] == 0.1
        assert config["recurrent_initializer"]["class_name"] == "Orthogonal"
        clone = layer_class.from_config(config)
        assert clone.get_config() == config
