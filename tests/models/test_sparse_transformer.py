"""The Sparse Transformer family: token and image models built from the registry's tiny presets."""

import numpy as np
import pytest
from keras import ops

import kgen
from kgen.models import SparseTransformer
from kgen.testing import SequenceModelChecks, TestCase
from kgen.testing.fixtures import binary_images


def tiny(**kwargs):
    return kgen.zoo.get("sparse_transformer.tiny", **kwargs)


def tiny_images(**kwargs):
    return kgen.zoo.get("sparse_transformer.tiny_images", **kwargs)


VARIANTS = [dict(pattern=p, integration=i) for p in ("strided", "fixed") for i in ("merged", "interleaved", "multihead")]
VARIANTS.append(dict(pattern="dense", num_layers=1))


class TestSparseTransformer(SequenceModelChecks, TestCase):
    tiny = staticmethod(tiny)
    model_class = SparseTransformer
    fit_kwargs = dict(learning_rate=1e-2, num_sequences=256, epochs=12)
    bad_argument_cases = [
        (dict(hidden_dim=6, num_heads=4), "hidden_dim"),
        (dict(num_layers=1), "num_layers"),
        (dict(pattern="sliding"), "pattern"),
        (dict(integration="sum"), "integration"),
        (dict(max_length=1), "max_length"),
        (dict(block_size=4, summary_size=3), "summary_size"),
        (dict(dropout=1.0), "dropout"),
        (dict(recompute="yes"), "recompute"),
        (dict(num_classes=3), "num_classes"),
    ]

    def test_presets(self):
        model = kgen.zoo.get("sparse_transformer.shakespeare")
        assert model.max_length == 256 and model.num_levels == 256 and model.receptive_field == np.inf
        images = kgen.zoo.get("sparse_transformer.mnist")
        assert images.image_shape == (28, 28, 1) and images.distribution.name == "bernoulli"
        assert images.sequence_length == 784

    @pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
    def test_causality_and_cached_sampling(self, variant):
        model = tiny(**variant)
        self.run_sequence_causality_test(model)
        self.run_sequence_sampling_test(model, num_samples=2, length=14)

    def test_sequence_not_a_multiple_of_the_block(self):
        # 13 tokens with l = 4: padded inside each attention; the log-probabilities of a prefix do not depend on
        # what follows it.
        model = tiny()
        x = np.random.default_rng(0).integers(0, 16, (2, 13))
        logits = ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(ops.convert_to_numpy(model(x[:, :7])), logits[:, :7], rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("sampler", ["greedy", "top_p"])
    def test_cached_equals_naive_with_other_samplers(self, sampler):
        self.run_sequence_sampling_test(tiny(), num_samples=2, length=11, sampler=sampler)

    def test_recompute_gives_the_same_loss_and_gradient_step(self):
        import keras

        x = np.random.default_rng(1).integers(0, 16, (4, 12)).astype("int32")
        results = []
        for recompute in (False, True):
            keras.utils.set_random_seed(0)
            model = tiny(recompute=recompute)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
            first = model.train_on_batch(x, x, return_dict=True)["loss"]
            second = model.train_on_batch(x, x, return_dict=True)["loss"]
            results.append((first, second, model.get_weights()))
        (a1, a2, wa), (b1, b2, wb) = results
        np.testing.assert_allclose([a1, a2], [b1, b2], rtol=1e-5)
        for u, v in zip(wa, wb):
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-6)
        assert a2 < a1

    def test_logits_start_at_zero(self):
        x = np.random.default_rng(2).integers(0, 16, (2, 9))
        np.testing.assert_array_equal(ops.convert_to_numpy(tiny()(x)), 0.0)  # log(16) nats per token before training

    def test_generate_text(self):
        model = tiny(num_levels=256)
        text = model.generate_text("To be", 6, seed=3)
        assert isinstance(text, str) and text.startswith("To be") and model.generate_text("To be", 6, seed=3) == text

    def test_text_artifacts_stop_at_max_length(self, tmp_path):
        from kgen import artifacts

        model = tiny(num_levels=256)
        (text,) = artifacts.write_text(model, tmp_path / "samples.txt", prompt="To be", length=600, seed=0)
        assert text.startswith("To be") and len(text.encode("utf-8", errors="replace")) <= 32 * 3
        assert (tmp_path / "samples.txt").read_text(encoding="utf-8") == text

    def test_length_errors(self):
        model = tiny()
        with pytest.raises(ValueError, match="length"):
            model.sample(1, 33)
        with pytest.raises(ValueError, match="max_length"):
            model.log_prob(np.zeros((1, 33), "int32"))


class TestSparseTransformerImages(TestCase):
    def test_contract(self):
        self.run_contract_checks(tiny_images())

    @pytest.mark.parametrize("variant", [dict(pattern="fixed", integration="interleaved", summary_size=2),
                                         dict(pattern="strided", integration="multihead")])
    def test_rgb_categorical_cached_equals_naive(self, variant):
        model = tiny_images(image_shape=(3, 4, 3), likelihood="categorical", num_levels=4, block_size=4, **variant)
        self.run_causality_test(model, num_trials=2)
        self.run_sampling_test(model)

    def test_joint_head_refused(self):
        with pytest.raises(ValueError, match="likelihood"):
            tiny_images(likelihood="logistic_mixture", image_shape=(4, 4, 3))

    def test_log_prob_and_evaluate(self):
        self.run_log_prob_evaluate_test(tiny_images(), binary_images(8, (6, 6, 1)))
