import numpy as np
import pytest

import kgen
from kgen.models import GatedPixelCNN
from kgen.models.gated_pixelcnn.gated_pixelcnn_model import gated_receptive_field
from kgen.testing import TestCase, bad_arguments, binary_images


def tiny(**kwargs):
    return kgen.zoo.get("gated_pixelcnn.tiny", **kwargs)


def rgb_model(**kwargs):
    config = dict(image_shape=(4, 4, 3), filters=6, num_layers=2, first_kernel_size=3, likelihood="categorical",
                  num_levels=4)
    return GatedPixelCNN(**{**config, **kwargs})


class TestGatedPixelCNN(TestCase):
    def test_preset_is_the_public_mnist_size(self):
        model = kgen.zoo.get("gated_pixelcnn.mnist")
        blocks = [layer for layer in model.layers if layer.name.startswith("gated")]
        assert len(blocks) == 10 and all(b.filters == 128 for b in blocks)
        assert blocks[0].kernel_size == 7 and blocks[0].mask_type == "A" and not blocks[0].residual
        assert all(b.kernel_size == 3 and b.mask_type == "B" and b.residual for b in blocks[1:])
        assert tuple(model.output_shape) == (None, 28, 28, 1)

    def test_every_weight_is_used(self):
        # The last layer returns only its skip output, so no weight is dead: each one gets a gradient.
        from keras import ops

        model = tiny(num_classes=2)
        names = [w.path for w in model.trainable_weights]
        assert not any(n.startswith("gated2/residual") or n == "gated2/condition_vertical_kernel" for n in names)
        model.compile(optimizer="sgd")
        data = {"images": binary_images(4), "labels": np.array([0, 1, 0, 1])}
        before = [w.copy() for w in model.get_weights()]
        model.fit(data, epochs=1, batch_size=4, verbose=0)
        unchanged = [w.path for w, b in zip(model.weights, before) if np.array_equal(ops.convert_to_numpy(w), b)]
        assert not unchanged, f"weights that never train: {unchanged}"

    def test_output_shapes(self):
        assert tuple(tiny().output_shape) == (None, 8, 8, 1)
        assert tuple(rgb_model().output_shape) == (None, 4, 4, 3, 4)
        model = tiny(num_classes=10)
        assert isinstance(model.input, dict) and set(model.input) == {"images", "labels"}

    def test_no_blind_spot(self):
        # Deep enough to reach every earlier pixel of a 6x6 image: the measured pattern is exactly all of them.
        model = GatedPixelCNN(image_shape=(6, 6, 1), filters=4, num_layers=4, first_kernel_size=5)
        ideal = np.tril(np.ones((36, 36), dtype=bool), k=-1)
        assert np.array_equal(model.dependencies(6, 6), ideal)
        reach, _ = self.run_causality_test(model)
        assert np.array_equal(reach, ideal)
        # The preset reaches every earlier pixel of a 12x12 image, where PixelCNN's blind spot shows.
        assert np.array_equal(kgen.zoo.get("gated_pixelcnn.mnist").dependencies(12, 12),
                              np.tril(np.ones((144, 144), dtype=bool), k=-1))
        assert not np.array_equal(kgen.zoo.get("pixelcnn.mnist").dependencies(12, 12),
                                  np.tril(np.ones((144, 144), dtype=bool), k=-1))

    def test_causality_within_reach(self):
        # Shallow: the reach is limited, and measured == analytic (which has no holes inside its reach).
        model = tiny()
        reach, _ = self.run_causality_test(model)
        t = 5 * 8 + 6  # pixel (5, 6): the upper-right wedge a PixelCNN misses is reached
        assert reach[t, 4 * 8 + 7] and reach[t, 5 * 8 + 5]
        assert not reach[t, 5 * 8 + 0]  # beyond the horizontal reach of 2 + 1 + 1 columns

    def test_receptive_field_matches_a_brute_force_count(self):
        field = gated_receptive_field([3, 3], 5, 5)
        # Pixel (2, 2): horizontal stack sees (2, 1) then (2, 0); vertical rows 0-1 within columns 0-4.
        expected = {(2, 1), (2, 0), (1, 1), (1, 2), (1, 3), (0, 0), (0, 1), (0, 2), (0, 3), (0, 4),
                    (1, 0), (1, 4)}
        got = {(s // 5, s % 5) for s in np.nonzero(field[12])[0]}
        assert got == expected

    def test_rgb_channel_order(self):
        self.run_causality_test(rgb_model())

    def test_conditional_causality_and_labels(self):
        model = tiny(num_classes=3, image_shape=(6, 6, 1))
        self.run_causality_test(model)
        x = binary_images(3, (6, 6, 1))
        a = model.log_prob(x, labels=[0, 1, 2])
        b = model.log_prob(x, labels=[1, 1, 1])
        assert a.shape == (3,) and not np.allclose(a, b)
        with pytest.raises(ValueError, match="labels"):
            model.log_prob(x)
        with pytest.raises(ValueError, match="labels"):
            model.log_prob(x, labels=[0, 1, 3])
        with pytest.raises(ValueError, match="labels"):
            model.sample(2, labels=[0, 1, 2])
        with pytest.raises(ValueError, match="unconditional"):
            tiny().log_prob(binary_images(2), labels=[0, 1])

    @pytest.mark.parametrize("kind", ["binary", "conditional", "rgb"])
    def test_cached_sampling_equals_naive(self, kind):
        if kind == "binary":
            model, labels = tiny(), None
        elif kind == "conditional":
            model, labels = tiny(num_classes=4, image_shape=(6, 5, 1)), [0, 3, 1]
        else:
            model, labels = rgb_model(), None
        naive = model.sample(3, seed=7, method="naive", labels=labels)
        cached = model.sample(3, seed=7, labels=labels)  # cached is the default
        np.testing.assert_array_equal(cached, naive)
        assert model.sampling_methods[0] == "cached"

    def test_sampling_and_completion(self):
        model = tiny()
        self.run_sampling_test(model)
        real = binary_images(3)
        for method in ("cached", "naive"):
            done = model.sample(3, seed=3, prompt=real[:, :5], method=method)
            np.testing.assert_array_equal(done[:, :5], real[:, :5])
        np.testing.assert_array_equal(model.sample(3, seed=3, prompt=real[:, :5], method="naive"),
                                      model.sample(3, seed=3, prompt=real[:, :5]))
        assert not np.array_equal(model.sample(3, seed=3, prompt=real[:, :5])[:, 5:], real[:, 5:])
        with pytest.raises(ValueError, match="prompt"):
            model.sample(3, prompt=real[:2, :4])
        with pytest.raises(ValueError, match="prompt"):
            model.sample(3, prompt=real[:, :4] * 3)
        with pytest.raises(ValueError, match="method"):
            model.sample(3, method="fast")

    def test_cached_sampler_sees_new_weights(self):
        model = tiny()
        a = model.sample(2, seed=0)
        model.set_weights([w + 0.5 for w in model.get_weights()])
        assert not np.array_equal(model.sample(2, seed=0), a)
        np.testing.assert_array_equal(model.sample(2, seed=0), model.sample(2, seed=0, method="naive"))

    def test_saving_and_export(self, tmp_path):
        self.run_round_trip_test(tiny(num_classes=3), binary_images(3), tmp_path)

    def test_learns(self):
        import keras

        model = tiny(num_classes=2)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        # Two classes of striped images (rows for 0, columns for 1) with 5% of pixels flipped.
        labels = np.arange(64) % 2
        rows = np.tile((np.arange(8) % 2)[:, None], (1, 8))
        x = np.where(labels[:, None, None] == 0, rows, rows.T)[..., None].astype("float32")
        x = np.abs(x - (np.random.default_rng(0).random(x.shape) < 0.05)).astype("float32")
        data = {"images": x, "labels": labels}
        before = model.evaluate(data, verbose=0, return_dict=True)["nats"]
        model.fit(data, epochs=5, batch_size=16, verbose=0)
        after = model.evaluate(data, verbose=0, return_dict=True)["nats"]
        assert after < before - 5.0, (before, after)
        with pytest.raises(ValueError, match="labels"):
            model.fit(x, epochs=1, verbose=0)

    @bad_arguments((dict(num_layers=0), "num_layers"), (dict(num_classes=1), "num_classes"),
                   (dict(first_kernel_size=4), "first_kernel_size"))
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(tiny, kwargs, match)

    def test_bad_colour_widths_and_images(self):
        with pytest.raises(ValueError, match="filters"):
            rgb_model(filters=4)
        with pytest.raises(ValueError, match="x"):
            tiny().log_prob(np.zeros((2, 7, 8, 1)))
