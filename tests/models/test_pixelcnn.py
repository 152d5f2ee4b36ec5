import numpy as np
import pytest

import kgen
from kgen.layers import causal_conv_mask
from kgen.models import PixelCNN
from kgen.layers.masked_conv2d import causal_offsets, stacked_receptive_field
from kgen.testing import TestCase, bad_arguments, binary_images


def tiny(**kwargs):
    return kgen.zoo.get("pixelcnn.tiny", **kwargs)


def rgb_model():
    return PixelCNN(
        image_shape=(5, 5, 3), hidden_dim=12, output_dim=6, num_residual_blocks=1, likelihood="categorical", num_levels=4
    )


class TestPixelCNN(TestCase):
    def test_output_shapes(self):
        assert tuple(tiny().output_shape) == (None, 8, 8, 1)
        assert tuple(rgb_model().output_shape) == (None, 5, 5, 3, 4)
        assert tuple(PixelCNN(image_shape=(4, 4, 1), likelihood="categorical", num_levels=256, hidden_dim=8,
                              num_residual_blocks=1).output_shape) == (None, 4, 4, 1, 256)

    def test_architecture_follows_the_paper(self):
        model = kgen.zoo.get("pixelcnn.mnist")
        first = model.get_layer("input_conv")
        assert first.kernel_size == (7, 7) and first.mask_type == "A" and first.filters == 64
        convs = [l for l in model.layers if l.name.endswith("_conv") and l.name.startswith("block")]
        assert len(convs) == 7 and all(l.kernel_size == (3, 3) and l.mask_type == "B" and l.filters == 32 for l in convs)
        assert model.get_layer("block0_reduce").kernel_size == (1, 1)
        assert model.get_layer("output_conv2").kernel_size == (1, 1)

    def test_causality_and_blind_spot(self):
        model = tiny()
        reach, _ = self.run_causality_test(model)
        w = 8
        t = 4 * w + 2  # pixel (4, 2)
        # The blind spot of stacked masked convolutions: (3, 5), up one row and right three, is never reached,
        # while (2, 5), further up, is; and every pixel to the left in the same row is.
        assert not reach[t, 3 * w + 5]
        assert reach[t, 2 * w + 5]
        assert reach[t, 4 * w + 0] and reach[t, 4 * w + 1]
        # The measured pattern is exactly the analytic one (run_causality_test asserted equality); it misses
        # earlier pixels that a blind-spot-free model would see.
        ideal = np.tril(np.ones_like(reach), k=-1)
        assert (ideal & ~reach).sum() > 0

    def test_causality_test_catches_a_leak_and_a_wrong_pattern(self):
        class LeakyPixelCNN(PixelCNN):  # the first layer sees the current pixel: a type-B mask where A belongs
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                conv = self.get_layer("input_conv")
                conv.kernel_mask = causal_conv_mask(conv.kernel_size, 1, conv.filters, "B")

        leaky = LeakyPixelCNN(**tiny().get_config())
        with pytest.raises(AssertionError, match="not causal"):
            self.run_causality_test(leaky)
        model = tiny()
        ideal = np.tril(np.ones((64, 64), dtype=bool), k=-1)  # no blind spot: PixelCNN does not reach this
        with pytest.raises(AssertionError, match="differ from the expected pattern"):
            self.run_causality_test(model, expected=ideal, max_trials=8)

    def test_causality_rgb_channel_order(self):
        self.run_causality_test(rgb_model())

    def test_receptive_field_analytic(self):
        # One 3x3 type-A layer: exactly the row above (3 pixels) and the pixel to the left.
        field = stacked_receptive_field([causal_offsets(3, "A")], 4, 4)
        t = 1 * 4 + 1
        assert sorted(np.flatnonzero(field[t])) == [0, 1, 2, 4]

    def test_serialization_and_saving(self, tmp_path):
        model = tiny()
        self.run_serialization_test(model)
        self.run_model_saving_test(model, binary_images(3), tmp_path)
        self.run_model_saving_test(rgb_model(), np.random.default_rng(0).integers(0, 4, (2, 5, 5, 3)).astype("float32"),
                                   tmp_path)

    # Loading under the other backends: tests/test_zoo.py's suite (the tiny preset).

    def test_sampling(self):
        # run_sampling_test also asserts that the cached default equals the naive loop for the same seed.
        assert tiny().sampling_methods == ("cached", "naive")
        self.run_sampling_test(tiny(), num_samples=3)
        self.run_sampling_test(rgb_model(), num_samples=2)

    def test_cached_sampling_equals_naive_with_a_prompt_and_a_mixture_head(self):
        model = tiny()
        real = binary_images(3)
        for rows in (0, 3, 8):
            cached = model.sample(3, seed=5, prompt=real[:, :rows])
            np.testing.assert_array_equal(cached, model.sample(3, seed=5, prompt=real[:, :rows], method="naive"))
            np.testing.assert_array_equal(cached[:, :rows], real[:, :rows])
        mixture = PixelCNN(image_shape=(4, 4, 3), hidden_dim=6, num_residual_blocks=1, first_kernel_size=3,
                           likelihood="logistic_mixture", num_mixtures=2, num_levels=8)
        assert mixture.get_layer("input_conv").channel_groups == 1  # the head models the channels jointly
        self.run_causality_test(mixture)
        self.run_sampling_test(mixture, num_samples=2)


    def test_log_prob_equals_evaluate_nats(self):
        self.run_log_prob_evaluate_test(tiny(), binary_images(16))

    def test_training_learns(self):
        # A fixed striped pattern is learnable from the pixels above: NLL must fall well below the 44 nats of chance.
        self.run_stripes_learning_test(tiny(), epochs=30)

    def test_fit_with_tf_data(self):
        import tensorflow as tf

        model = tiny()
        model.compile(optimizer="adam")
        ds = tf.data.Dataset.from_tensor_slices(binary_images(32)).batch(8)
        history = model.fit(ds, epochs=1, verbose=0)
        assert set(history.history) >= {"loss", "nats", "bits_per_dim"}

    # --------------------------------------------------------------------------------------- bad input
    @pytest.mark.parametrize(
        "x,match",
        [
            (np.zeros((2, 8, 8), "float32"), r"shape \(None, 8, 8, 1\)"),
            (np.zeros((2, 7, 8, 1), "float32"), r"shape \(None, 8, 8, 1\)"),
            (np.full((2, 8, 8, 1), 255.0, "float32"), r"levels in 0\.\.1"),
            (np.full((2, 8, 8, 1), np.nan, "float32"), "NaN"),
            (np.full((2, 8, 8, 1), 0.5, "float32"), "integer levels"),
            (np.full((2, 8, 8, 1), "1"), "numeric"),
        ],
    )
    def test_bad_images(self, x, match):
        self.run_bad_images_test(tiny(), x, match)  # nothing trained before the error

    def test_bad_dataset_rejected_before_training(self):
        import tensorflow as tf

        model = tiny()
        model.compile(optimizer="adam")
        ds = tf.data.Dataset.from_tensor_slices(np.full((4, 8, 8, 1), 255.0, "float32")).batch(2)
        with pytest.raises(ValueError, match="x"):
            model.fit(ds, epochs=1, verbose=0)

    @bad_arguments(
        (dict(image_shape=(8, 8)), "image_shape"),
        (dict(image_shape=(8, 8, 2)), "image_shape"),
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(num_residual_blocks="two"), "num_residual_blocks"),
        (dict(num_residual_blocks=-1), "num_residual_blocks"),
        (dict(first_kernel_size=4), "first_kernel_size"),
        (dict(kernel_size=2), "kernel_size"),
        (dict(likelihood="gaussian"), "likelihood"),
        (dict(image_shape=(4, 4, 3), hidden_dim=8), "colour groups"),
    )
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(PixelCNN, kwargs, match)

    @bad_arguments((dict(num_samples=0), "num_samples"), (dict(num_samples=2, seed="x"), "seed"),
                   (dict(num_samples=2, batch_size=0), "batch_size"), (dict(num_samples=2, method="fast"), "method"))
    def test_bad_sample_arguments(self, kwargs, match):
        self.run_bad_argument_test(tiny().sample, kwargs, match)


def test_fit_on_a_kgen_pipeline_does_not_warn_about_shuffle():
    """kgen's pipelines come shuffled: `fit` on a tf.data.Dataset does not pass Keras' default shuffle=True (which
    only warns that it is ignored); on arrays Keras still shuffles."""
    import warnings

    import tensorflow as tf

    model = tiny()
    model.compile(optimizer="adam")
    dataset = tf.data.Dataset.from_tensor_slices(binary_images(8)).batch(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
