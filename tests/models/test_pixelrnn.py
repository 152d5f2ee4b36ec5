import numpy as np
import pytest
import keras

import kgen
from kgen.models import PixelRNN
from kgen.models.pixelrnn.pixelrnn_model import diagonal_bilstm_inputs, pixelrnn_receptive_field, row_lstm_inputs
from kgen.testing import TestCase, bad_arguments, binary_images

LAYER_TYPES = ["row", "diagonal"]


def tiny(layer_type, **kwargs):
    return kgen.zoo.get(f"pixelrnn_{layer_type}.tiny", **kwargs)


def rgb_model(layer_type):
    return PixelRNN(
        image_shape=(4, 5, 3), layer_type=layer_type, hidden_dim=12, output_dim=6, num_layers=2,
        first_kernel_size=3, likelihood="categorical", num_levels=4,
    )


class TestPixelRNN(TestCase):
    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_output_shapes(self, layer_type):
        assert tuple(tiny(layer_type).output_shape) == (None, 8, 8, 1)
        assert tuple(rgb_model(layer_type).output_shape) == (None, 4, 5, 3, 4)
        model = PixelRNN(image_shape=(4, 3, 1), layer_type=layer_type, hidden_dim=8, num_layers=1,
                         likelihood="categorical", num_levels=256)
        assert tuple(model.output_shape) == (None, 4, 3, 1, 256)

    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_architecture_follows_the_paper(self, layer_type):
        model = kgen.zoo.get(f"pixelrnn_{layer_type}.mnist")
        assert model.layer_type == layer_type and model.image_shape == (28, 28, 1)
        first = model.get_layer("input_conv")
        assert first.kernel_size == (7, 7) and first.mask_type == "A" and first.filters == 32
        lstms = [l for l in model.layers if l.name.endswith("_lstm")]
        cls = kgen.layers.RowLSTM if layer_type == "row" else kgen.layers.DiagonalBiLSTM
        assert len(lstms) == 7 and all(type(l) is cls and l.units == 16 and l.mask_type == "B" for l in lstms)
        if layer_type == "row":
            assert all(l.kernel_size == 3 for l in lstms)
        expand = model.get_layer("layer0_expand")  # the residual 1x1 back to 2h, added to the layer input
        assert expand.kernel_size == (1, 1) and expand.filters == 32 and expand.mask_type == "B"
        assert model.get_layer("output_conv1").filters == 32 and model.get_layer("output_conv2").filters == 1

    # ------------------------------------------------------------------------------------------ causality
    def test_row_lstm_triangle(self):
        model = tiny("row")
        reach, _ = self.run_causality_test(model)  # measured == analytic, no future leak
        w = 8
        t = 6 * w + 2  # pixel (6, 2); a 5x5 type-A first layer (r = 2), then 2 Row LSTM layers of k = 3
        assert reach[t, 6 * w + 0] and reach[t, 6 * w + 1]  # the row to the left
        # The triangle: one more column to the right per row up (k // 2), starting from the first layer's r = 2.
        for row, last in ((5, 4), (4, 5), (3, 6), (2, 7)):
            assert reach[t, row * w + last], (row, last)
            assert last == 7 or not reach[t, row * w + last + 1], (row, last)
        ideal = np.tril(np.ones_like(reach), k=-1)
        assert (ideal & ~reach).sum() > 0

    def test_diagonal_bilstm_full_context_but_one_pixel(self):
        model = tiny("diagonal")
        reach, _ = self.run_causality_test(model)
        h = w = 8
        r = 5 // 2  # tiny's first layer is 5x5
        ideal = np.tril(np.ones_like(reach), k=-1)
        blind = np.argwhere(ideal & ~reach)
        # The only earlier pixels never reached: the last pixel of the row above, (i - 1, W - 1), for pixels (i, j)
        # more than r columns from the right edge. The type-A first layer hides a pixel from its own position, so
        # (i - 1, W - 1) first appears at (i, W - 1 - r); nothing in row i further left can see it.
        expected = {(i * w + j, (i - 1) * w + w - 1) for i in range(1, h) for j in range(w - 1 - r)}
        assert {tuple(p) for p in blind} == expected

    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_causality_rgb_channel_order(self, layer_type):
        model = rgb_model(layer_type)
        reach, dep = self.run_causality_test(model)  # also asserts R -> G -> B inside every pixel
        if layer_type == "diagonal":  # with colour groups the G and B features hold the pixel's R: full context
            assert np.array_equal(reach, np.tril(np.ones_like(reach), k=-1))

    def test_causality_test_catches_a_leak_and_a_wrong_pattern(self):
        class LeakyPixelRNN(PixelRNN):  # the Row LSTM's input-to-state also reads the pixel to the right
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                layer = self.get_layer("layer0_lstm")
                layer.input_mask = np.ones_like(layer.input_mask)

        leaky = LeakyPixelRNN(**tiny("row").get_config())
        with pytest.raises(AssertionError, match="not causal"):
            self.run_causality_test(leaky)
        ideal = np.tril(np.ones((64, 64), dtype=bool), k=-1)  # the Row LSTM does not reach this
        with pytest.raises(AssertionError, match="differ from the expected pattern"):
            self.run_causality_test(tiny("row"), expected=ideal, max_trials=8)

    def test_receptive_field_helpers(self):
        reach = np.zeros((4, 5), dtype=bool)
        reach[3, 2] = True
        rows = row_lstm_inputs(reach, 3)
        expected = np.zeros_like(reach)
        expected[3, 1:3] = True  # its row: itself and one to the left (type B)
        expected[2, 0:4] = True  # states (2, 1..3) read (2, 0..3)
        expected[1, 0:5] = True  # states (1, 0..4): inputs 0..4
        expected[0, 0:5] = True
        np.testing.assert_array_equal(rows, expected)
        diag = diagonal_bilstm_inputs(reach)
        ii, jj = np.indices(reach.shape)
        np.testing.assert_array_equal(diag, ((ii <= 3) & (jj <= 2)) | ((ii <= 2) & (jj >= 2)))
        # One diagonal layer after a 3x3 type-A layer on a 3x3 image: everything earlier except (i-1, W-1) for
        # the pixels in column 0 (r = 1: (i, 1) already sees it through the first layer).
        field = pixelrnn_receptive_field("diagonal", 1, 3, 3, first_kernel_size=3)
        missing = np.argwhere(np.tril(np.ones((9, 9), dtype=bool), k=-1) & ~field)
        assert sorted(map(tuple, missing)) == [(3, 2), (6, 5)]

    # ------------------------------------------------------------------------------------------ saving
    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_serialization_and_saving(self, layer_type, tmp_path):
        model = tiny(layer_type)
        self.run_serialization_test(model)
        self.run_model_saving_test(model, binary_images(3), tmp_path)
        x = np.random.default_rng(0).integers(0, 4, (2, 4, 5, 3)).astype("float32")
        (tmp_path / "rgb").mkdir()
        self.run_model_saving_test(rgb_model(layer_type), x, tmp_path / "rgb")

    # Loading under the other backends and export (after sampling, fitting and evaluating) are the test walker's
    # (tests/test_zoo.py) on both tiny presets.

    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_sampling(self, layer_type):
        # The cached sampler against the naive loop (run_sampling_test compares every method), in grey and in colour
        # (R -> G -> B channel groups, one step per sub-pixel).
        assert tiny(layer_type).sampling_methods == ("cached", "naive")
        self.run_sampling_test(tiny(layer_type), num_samples=2)
        self.run_sampling_test(rgb_model(layer_type), num_samples=2)

    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_cached_steps_equal_the_full_network(self, layer_type):
        # The one-pixel steps give the parameters the whole network gives for every pixel of a fixed image.
        model = rgb_model(layer_type)
        x = np.random.default_rng(3).integers(0, 4, (2, 4, 5, 3)).astype("float32")
        full = keras.ops.convert_to_numpy(model(x))
        cache = model.init_cache(2)
        pixel = np.zeros((2, 3), "float32")
        for index in range(model.num_steps):
            row, col, channel = model.step_position(index)
            if col == 0 and channel == 0:
                cache = model.begin_row(pixel, cache, row)
            params, cache = model.call_with_cache(pixel, cache, index)
            np.testing.assert_allclose(keras.ops.convert_to_numpy(params)[:, channel], full[:, row, col, channel],
                                       rtol=1e-4, atol=1e-4, err_msg=f"step {index}")
            pixel = np.where(np.arange(3) <= channel, x[:, row, col], 0).astype("float32")

    # ------------------------------------------------------------------------------------------ training
    def test_log_prob_equals_evaluate_nats(self):
        self.run_log_prob_evaluate_test(tiny("diagonal"), binary_images(16))

    @pytest.mark.parametrize("layer_type", LAYER_TYPES)
    def test_training_learns(self, layer_type):
        # Stripes: every other row on. Learnable from the row above; NLL must fall well below the 44 nats of chance.
        self.run_stripes_learning_test(tiny(layer_type), epochs=15)

    @pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's XLA")
    def test_trains_under_xla_on_tensorflow(self):
        # The layers unroll their loops under TensorFlow, which XLA compiles (keras' scan gradient it cannot).
        for layer_type in LAYER_TYPES:
            model = tiny(layer_type, image_shape=(4, 4, 1), num_layers=1)
            model.compile(optimizer="adam", jit_compile=True)
            history = model.fit(binary_images(8, (4, 4, 1)), epochs=1, batch_size=8, verbose=0)
            assert np.isfinite(history.history["loss"][0])

    # ------------------------------------------------------------------------------------------ bad input
    @pytest.mark.parametrize(
        "x,match",
        [
            (np.zeros((2, 8, 8), "float32"), r"shape \(None, 8, 8, 1\)"),
            (np.full((2, 8, 8, 1), 2.0, "float32"), r"levels in 0\.\.1"),
            (np.full((2, 8, 8, 1), np.nan, "float32"), "NaN"),
        ],
    )
    def test_bad_images(self, x, match):
        self.run_bad_images_test(tiny("row"), x, match)

    @bad_arguments(
        (dict(image_shape=(8, 8)), "image_shape"),
        (dict(layer_type="column"), "layer_type"),
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(hidden_dim=7), "hidden_dim"),
        (dict(num_layers=-1), "num_layers"),
        (dict(num_layers=1.5), "num_layers"),
        (dict(first_kernel_size=4), "first_kernel_size"),
        (dict(layer_type="row", kernel_size=2), "kernel_size"),
        (dict(layer_type="diagonal", kernel_size=3), "kernel_size"),
        (dict(likelihood="gaussian"), "likelihood"),
        (dict(image_shape=(4, 4, 3), hidden_dim=8), "colour groups"),
        (dict(hiden_dim=8), "hiden_dim"),
    )
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(PixelRNN, kwargs, match)

    def test_zoo_names_fix_the_layer_type(self):
        assert kgen.zoo.get("pixelrnn_row", image_shape=(4, 4, 1), num_layers=1).layer_type == "row"
        assert kgen.zoo.get("pixelrnn_diagonal.tiny", layer_type="diagonal").layer_type == "diagonal"
        with pytest.raises(ValueError, match="layer_type"):
            kgen.zoo.get("pixelrnn_row.tiny", layer_type="diagonal")
        assert kgen.zoo.list_models("pixelrnn*") == [
            "pixelrnn_diagonal", "pixelrnn_diagonal.mnist", "pixelrnn_diagonal.tiny",
            "pixelrnn_row", "pixelrnn_row.mnist", "pixelrnn_row.tiny",
        ]
