import numpy as np
import pytest
import keras
from keras import ops
from scipy.linalg import subspace_angles

import kgen
from kgen.models import Autoencoder, DeepAutoencoder, DenoisingAutoencoder, KSparseAutoencoder
from kgen.testing import TestCase


def images(n=6, shape=(6, 6, 1), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n,) + shape).astype("float32")


def spectrum_data(n=200, d=10, seed=0):
    """Centred data with a clear spectrum: standard deviations 5, 4, 3 then <= 1, in a random rotation."""
    rng = np.random.default_rng(seed)
    scales = np.array([5.0, 4.0, 3.0, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])[:d]
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (rng.normal(size=(n, d)) * scales) @ rotation.T
    return (x - x.mean(axis=0)).astype("float32")


def max_angle_degrees(a, b):
    return float(np.degrees(subspace_angles(a, b).max()))


class TestAutoencoders(TestCase):
    def test_shapes_encode_reconstruct_filters(self):
        model = kgen.zoo.get("autoencoder.tiny")
        x = images(5)
        assert model.encode(x).shape == (5, 4)
        assert model.reconstruct(x).shape == (5, 6, 6, 1)
        rec = model.reconstruct(x)
        assert rec.min() >= 0.0 and rec.max() <= 1.0  # sigmoid outputs on the [0, 1] working scale
        kernel = ops.convert_to_numpy(model.get_layer("encoder_dense_0").kernel)
        filters = model.filters()
        assert filters.shape == (8, 6, 6)
        np.testing.assert_array_equal(filters[3], kernel[:, 3].reshape(6, 6))
        # The code layer's output is what encode returns.
        codes = keras.Model(model.input, model.get_layer("codes").output)(x * 1.0, training=False)
        np.testing.assert_allclose(model.encode(x), ops.convert_to_numpy(codes), rtol=1e-6, atol=1e-6)

    def test_mnist_presets(self):
        for name, code_dim, units in (("autoencoder.mnist", 32, 512), ("denoising_autoencoder.mnist", 500, 500),
                                      ("ksparse_autoencoder.mnist", 1000, 1000), ("deep_autoencoder.mnist", 30, 1000)):
            model = kgen.zoo.get(name)
            assert model.input_shape_ == (28, 28, 1) and model.input_scale == pytest.approx(1 / 255), name
            assert tuple(model.get_layer("codes").output.shape) == (None, code_dim), name
            assert tuple(model.output.shape) == (None, 28, 28, 1), name
            assert model.filters().shape == (units, 28, 28), name

    def test_deep_autoencoder_layer_sizes(self):
        model = kgen.zoo.get("deep_autoencoder.mnist")
        assert isinstance(model, DeepAutoencoder)
        assert model.layer_sizes == [784, 1000, 500, 250, 30]
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        shapes = [tuple(layer.kernel.shape) for layer in dense]
        assert shapes == [(784, 1000), (1000, 500), (500, 250), (250, 30),
                          (30, 250), (250, 500), (500, 1000), (1000, 784)]
        activations = [layer.activation.__name__ for layer in dense]
        assert activations == ["relu"] * 3 + ["linear"] + ["relu"] * 3 + ["sigmoid"]
        assert model.reconstruction_loss == "bce"

    @pytest.mark.parametrize("corruption,level", [("masking", 0.5), ("gaussian", 0.3)])
    def test_corruption_only_in_training(self, corruption, level):
        model = DenoisingAutoencoder(input_shape=(20, 20, 1), code_dim=8, corruption=corruption,
                                     corruption_level=level, input_scale=1 / 255, seed=0)
        clean = Autoencoder(**{**model.get_config(), "corruption": None, "corruption_level": 0.0, "name": "clean"})
        clean.set_weights(model.get_weights())
        x = images(8, (20, 20, 1)) + 1.0  # no zero pixels
        # Inference: exactly the same as the model without corruption.
        np.testing.assert_array_equal(model.reconstruct(x), clean.reconstruct(x))
        np.testing.assert_array_equal(model.encode(x), clean.encode(x))
        # Training: the corruption layer acts on the scaled inputs.
        corrupted_view = keras.Model(model.input, model.get_layer("corruption").output)
        scaled = x.reshape(8, -1) / 255
        noisy = ops.convert_to_numpy(corrupted_view(x, training=True))
        np.testing.assert_allclose(ops.convert_to_numpy(corrupted_view(x, training=False)), scaled, rtol=1e-6)
        if corruption == "masking":
            zeroed = noisy == 0
            assert abs(zeroed.mean() - level) < 0.05, zeroed.mean()
            np.testing.assert_allclose(noisy[~zeroed], scaled[~zeroed], rtol=1e-6)
        else:
            assert abs(np.std(noisy - scaled) - level) < 0.03
        assert not np.allclose(ops.convert_to_numpy(model(x, training=True)), model.reconstruct(x))

    def test_ksparse_codes_have_exactly_k_nonzeros(self):
        model = KSparseAutoencoder(input_shape=(6, 6, 1), code_dim=20, k=4, alpha=1.5, input_scale=1 / 255)
        x = images(10)
        codes = model.encode(x)  # inference: round(1.5 * 4) = 6
        np.testing.assert_array_equal(np.count_nonzero(codes, axis=1), [6] * 10)
        train_codes = ops.convert_to_numpy(
            keras.Model(model.input, model.get_layer("codes").output)(x, training=True))
        np.testing.assert_array_equal(np.count_nonzero(train_codes, axis=1), [4] * 10)
        pre = ops.convert_to_numpy(keras.Model(model.input, model.get_layer("code_dense").output)(x))
        kept = np.sort(np.argsort(-pre, axis=1)[:, :4], axis=1)
        np.testing.assert_array_equal(np.sort(np.nonzero(train_codes)[1].reshape(10, 4), axis=1), kept)
        assert model.filters().shape == (20, 6, 6)  # the code layer reads the inputs directly

    def test_linear_autoencoder_spans_the_pca_subspace(self):
        from sklearn.decomposition import PCA

        x = spectrum_data()
        k = 3
        model = Autoencoder(input_shape=(10,), code_dim=k, activation="linear", code_activation="linear",
                            output_activation="linear", use_bias=False, reconstruction_loss="mse")
        pca = PCA(k).fit(x)
        components = pca.components_.T  # (10, k)
        untrained = ops.convert_to_numpy(model.get_layer("output_dense").kernel).T
        assert max_angle_degrees(untrained, components) > 20  # the check can fail: a random subspace is far off
        model.compile(optimizer=keras.optimizers.Adam(0.02))
        steps = 400  # full-batch steps: the data repeated, one epoch, no shuffling
        model.fit(np.tile(x, (steps, 1)), epochs=1, batch_size=len(x), shuffle=False, verbose=0)
        decoder = ops.convert_to_numpy(model.get_layer("output_dense").kernel).T  # (10, k): its columns
        assert max_angle_degrees(decoder, components) < 5.0
        # ... and not some other 3-dimensional subspace of large variance.
        wrong = PCA(5).fit(x).components_[[0, 1, 3]].T
        assert max_angle_degrees(decoder, wrong) > 45.0
        # PCA's reconstruction error (the sum of the discarded variances) is the least any rank-3 linear map can
        # reach; the trained model is close to it. (Its encoder converges more slowly than its decoder: the error of
        # an encoder row in a direction of variance v costs only v, so the encoder's row space is not checked.)
        pca_error = np.sum((pca.inverse_transform(pca.transform(x)) - x) ** 2, axis=1).mean()
        error = model.reconstruction_error(x).mean()
        assert pca_error * (1 - 1e-4) <= error <= pca_error * 1.05, (error, pca_error)

    def test_bad_arguments(self):
        cases = [
            (dict(code_dim=0), "code_dim"),
            (dict(hidden_units="abc"), "hidden_units"),
            (dict(hidden_units=[8, 0]), "hidden_units"),
            (dict(activation="nope"), "`activation`"),
            (dict(code_activation=3), "code_activation"),
            (dict(output_activation=None), "output_activation"),
            (dict(use_bias="yes"), "use_bias"),
            (dict(input_shape=(0, 3)), "input_shape"),
            (dict(input_scale=-1.0), "input_scale"),
            (dict(reconstruction_loss="l1"), "reconstruction_loss"),
            (dict(corruption="salt"), "`corruption`"),
            (dict(corruption="masking", corruption_level=1.0), "corruption_level"),
            (dict(corruption="gaussian", corruption_level=1.5), "corruption_level"),
            (dict(corruption="gaussian", corruption_level=-0.1), "corruption_level"),
            (dict(corruption_level=0.2), "corruption_level"),
            (dict(code_dim=4, k=5), "`k`"),
            (dict(k=0), "`k`"),
            (dict(k=2, alpha=0.5), "alpha"),
            (dict(seed="s"), "seed"),
            (dict(unknown=1), "unknown"),
        ]
        for kwargs, name in cases:
            with pytest.raises(ValueError, match=name):
                Autoencoder(**{"input_shape": (6, 6, 1), "code_dim": 4, **kwargs})
        with pytest.raises(ValueError, match="`corruption` must be 'masking' or 'gaussian'"):
            DenoisingAutoencoder(corruption=None)
        with pytest.raises(ValueError, match="`k`"):
            KSparseAutoencoder(k=None)
        model = kgen.zoo.get("autoencoder.tiny")
        with pytest.raises(ValueError, match="`x`"):
            model.encode(np.zeros((2, 5, 5, 1), "float32"))
