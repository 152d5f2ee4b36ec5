import numpy as np
import pytest
import keras
from keras import ops

import kgen
from kgen.hashing import HammingIndex, precision_at_k
from kgen.models import SemanticHashing
from kgen.testing import TestCase

TINY = dict(input_shape=(6, 6, 1), hidden_dims=(12,), num_bits=10, noise_stddev=4.0, input_scale=1.0 / 255.0,
            reconstruction_loss="bce", seed=0)


def tiny(**kwargs):
    return SemanticHashing(**{**TINY, **kwargs})


def images(n=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 6, 6, 1)).astype("float32")


def clustered(num_classes=4, per_class=40, dims=36, flip=0.08, seed=0):
    """Binary 6x6 images (levels 0/255) drawn around `num_classes` random prototypes, with `flip` of the pixels
    flipped: a retrieval problem where the neighbours of an image should be its own class."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 2, size=(num_classes, dims))
    labels = np.repeat(np.arange(num_classes), per_class)
    x = prototypes[labels] ^ (rng.random((len(labels), dims)) < flip)
    order = rng.permutation(len(labels))
    return (255.0 * x[order]).reshape(-1, 6, 6, 1).astype("float32"), labels[order]


class TestSemanticHashing(TestCase):
    def test_presets(self):
        model = kgen.zoo.get("semantic_hashing.mnist")
        assert model.count_params() == 1_318_816  # stated in the preset's description
        assert (model.hidden_dims, model.num_bits, model.noise_stddev) == ((500, 500), 32, 4.0)
        assert model.input_shape_ == (28, 28, 1) and model.reconstruction_loss == "bce"
        assert model.decoder_dims == (500, 500) and model.get_layer("codes").noise_stddev == 4.0
        tiny_preset = kgen.zoo.get("semantic_hashing.tiny")
        assert tiny_preset.num_bits == 8 and tiny_preset.input_shape_ == (8, 8, 1)
        assert kgen.zoo.get("semantic_hashing").reconstruction_loss == "mse"

    def test_codes_are_bits_at_inference_and_noisy_sigmoids_in_training(self):
        model = tiny()
        x = images(16)
        codes = model.encode(x)
        assert codes.shape == (16, 10) and codes.dtype == np.float32
        assert set(np.unique(codes)) <= {0.0, 1.0}
        # The bits are the signs of the code layer's pre-activations.
        logits = keras.Model(model.input, model.get_layer("code_logits").output)(x, training=False)
        np.testing.assert_array_equal(codes, (ops.convert_to_numpy(logits) > 0).astype("float32"))
        # Inference is deterministic; training draws fresh noise before the code sigmoids.
        np.testing.assert_array_equal(model.reconstruct(x), model.reconstruct(x))
        code_model = keras.Model(model.input, model.get_layer("codes").output)
        soft_a = ops.convert_to_numpy(code_model(x, training=True))
        soft_b = ops.convert_to_numpy(code_model(x, training=True))
        assert np.all((soft_a > 0) & (soft_a < 1)) and not np.array_equal(soft_a, soft_b)
        a = ops.convert_to_numpy(model(x, training=True))
        assert not np.array_equal(a, ops.convert_to_numpy(model(x, training=True)))
        # The decoder at inference reads the hard bits.
        decoder_in = ops.convert_to_tensor(codes)
        for i in range(len(model.decoder_dims)):
            decoder_in = model.get_layer(f"decoder_dense{i}")(decoder_in)
        rec = ops.convert_to_numpy(model.get_layer("reconstruction")(decoder_in)).reshape(x.shape)
        np.testing.assert_allclose(model.reconstruct(x), rec, rtol=1e-5, atol=1e-6)

    def test_hash_packs_the_codes(self):
        model = tiny(num_bits=13)
        x = images(9)
        packed = model.hash(x)
        assert packed.dtype == np.uint8 and packed.shape == (9, 2)
        np.testing.assert_array_equal(np.unpackbits(packed, axis=1, count=13), model.encode(x).astype(np.uint8))
        index = HammingIndex(13).add(packed)
        ids, dists = index.search(model.encode(x), k=1)
        assert np.all(dists[:, 0] == 0)

    def test_representation_contract(self, tmp_path):
        model = tiny()
        self.run_serialization_test(model)
        model.compile(optimizer="adam")
        self.run_representation_test(model, images(8), tmp_path)
        self.run_representation_training_test(tiny(), images(8))
        assert model.filters().shape == (12, 6, 6, 1)
        np.testing.assert_array_equal(model.filters()[3].reshape(-1), model.get_layer("encoder_dense0").get_weights()[0][:, 3])
        assert tiny(hidden_dims=()).filters().shape == (10, 6, 6, 1)

    def test_saving(self, tmp_path):
        # Loading under the other backends: tests/test_zoo.py::TestRepresentationModelsAcrossBackends.
        model = tiny()
        x = images(6)
        loaded = self.run_model_saving_test(model, x, tmp_path)
        np.testing.assert_array_equal(loaded.hash(x), model.hash(x))

    def test_training_saturates_the_codes_and_groups_classes(self):
        # The paper's mechanism: with noise of std 4 before the sigmoids, training pushes the code pre-activations
        # far from 0. On clustered data the learned codes put each image's neighbours in its own class.
        x, labels = clustered()
        keras.utils.set_random_seed(1)
        model = tiny(hidden_dims=(32,), num_bits=8)
        logits_model = keras.Model(model.input, model.get_layer("code_logits").output)
        before = np.abs(ops.convert_to_numpy(logits_model(x))).mean()
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x, epochs=60, batch_size=40, verbose=0, shuffle=False)
        after = np.abs(ops.convert_to_numpy(logits_model(x))).mean()
        assert after > 3.0 * before and after > 4.0, (before, after)
        loss = history.history["loss"]
        assert loss[-1] < 0.7 * loss[0], loss
        codes = model.encode(x)
        assert precision_at_k(codes, labels, codes, labels, k=20) > 0.9

    def test_normalized_codes_are_balanced(self):
        # With batch-normalized pre-activations (no learned offset) every bit splits a batch about in half at
        # inference once the moving statistics have been learned.
        x = images(64, seed=3)
        model = tiny(normalize_codes=True)
        assert model.get_layer("code_norm").center is False
        model.compile(optimizer=keras.optimizers.Adam(1e-4))  # slow weights: the moving statistics catch up
        model.fit(x, epochs=100, batch_size=16, verbose=0)  # 400 steps: momentum 0.99 ** 400 < 0.02
        norm = model.get_layer("code_norm")
        np.testing.assert_allclose(ops.convert_to_numpy(norm.moving_mean), ops.convert_to_numpy(
            keras.Model(model.input, model.get_layer("code_logits").output)(x)).mean(0), rtol=0.1, atol=0.05)
        balance = model.encode(x).mean(axis=0)
        assert np.all((balance > 0.2) & (balance < 0.8)), balance
        self.run_serialization_test(model)

    def test_bad_arguments(self):
        for kwargs, name in [
            (dict(input_shape=(0, 3)), "input_shape"),
            (dict(input_shape="abc"), "input_shape"),
            (dict(hidden_dims=(8, 0)), "hidden_dims"),
            (dict(hidden_dims=(8, 2.5)), "hidden_dims"),
            (dict(num_bits=0), "num_bits"),
            (dict(noise_stddev=-1.0), "noise_stddev"),
            (dict(input_scale=0.0), "input_scale"),
            (dict(reconstruction_loss="l1"), "reconstruction_loss"),
            (dict(decoder_dims=(-1,)), "decoder_dims"),
            (dict(activation="softmax"), "activation"),
            (dict(seed=-2), "seed"),
            (dict(normalize_codes="yes"), "normalize_codes"),
            (dict(num_bit=8), "num_bit"),
        ]:
            with pytest.raises(ValueError, match=name):
                tiny(**kwargs)
        model = tiny()
        with pytest.raises(ValueError, match="`x`"):
            model.hash(np.zeros((2, 5, 5, 1)))
        with pytest.raises(ValueError, match="`x`"):
            model.encode(np.full((2, 6, 6, 1), np.nan))
