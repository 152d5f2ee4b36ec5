import numpy as np
import pytest

import kgen
from kgen.samplers import cache_bytes
from kgen.models import WaveNet
from kgen.testing import SequenceModelChecks, TestCase, random_tokens as tokens, tiny_builder

tiny = tiny_builder(WaveNet, num_levels=16, residual_channels=8, gate_channels=6, skip_channels=10,
                    output_channels=12, num_layers=4, dilation_cycle=2)


class TestWaveNet(SequenceModelChecks, TestCase):
    tiny = staticmethod(tiny)
    fit_kwargs = dict(learning_rate=1e-2, num_sequences=32, epochs=60)
    model_class = WaveNet
    bad_argument_cases = [(dict(local_upsample=2), "local_upsample")]

    def test_preset_receptive_field(self):
        model = kgen.zoo.get("wavenet.fsdd")
        assert model.dilations == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2
        assert model.receptive_field == 2048  # >= 1,024 samples: the bench's requirement
        assert model.conditional and model.num_classes == 10

    @pytest.mark.parametrize("kwargs", [{}, dict(num_classes=3), dict(local_channels=2, local_upsample=3),
                                        dict(kernel_size=3, num_layers=3)])
    def test_causality_exact(self, kwargs):
        self.run_sequence_causality_test(tiny(**kwargs))

    @pytest.mark.parametrize("kwargs", [{}, dict(num_classes=3), dict(num_classes=3, local_channels=2, local_upsample=2),
                                        dict(kernel_size=3)])
    def test_fast_sampling_equals_naive(self, kwargs):
        self.run_sequence_sampling_test(tiny(**kwargs), num_samples=2, length=14)

    @pytest.mark.parametrize("sampler", ["greedy", "top_k", "top_p"])
    def test_keras_nlp_samplers(self, sampler):
        self.run_sequence_sampling_test(tiny(), num_samples=2, length=10, sampler=sampler)

    @pytest.mark.parametrize("kwargs", [dict(num_classes=3), dict(num_classes=3, local_channels=2, local_upsample=2)])
    def test_guided_sampling(self, kwargs):
        self.run_guided_sampling_test(tiny(**kwargs), guidance=3.0)

    def test_guidance_zero_is_the_null_label(self):
        # w = 0 draws from the unconditional model: the same tokens as sampling with the null label itself.
        from kgen.samplers import sequence

        model = tiny(num_classes=3)
        guided = model.sample(2, 12, seed=5, labels=[0, 2], guidance=0.0)
        null = np.full((2,), model.null_label, "int32")
        plain = sequence.generate(model, np.zeros((2, 12), "int32"), np.zeros((2, 12), bool), null, None,
                                  sequence.resolve_sampler("random"), "cached", 5)
        np.testing.assert_array_equal(guided, plain)

    def test_label_dropout_training(self):
        # The null label is a valid training label: a data set whose labels are partly -1 trains without complaint.
        model = tiny(num_classes=3)
        model.compile(optimizer="adam")
        x = {"tokens": tokens(4, 12), "labels": np.array([0, -1, 2, -1], "int32")}
        history = model.fit(x, x["tokens"], epochs=1, verbose=0, batch_size=4)
        assert np.isfinite(history.history["loss"][0])

    def test_fast_state_is_bounded_by_the_receptive_field(self):
        model = kgen.zoo.get("wavenet.fsdd")
        queues = model.init_cache(1)[0]  # (queues, global terms, local features)
        state = cache_bytes(queues)
        # (k - 1) * (1 + sum of dilations) slots of 32 floats: 2,047 x 32 x 4 bytes, whatever the length generated.
        assert state == 4 * 32 * 2047

    def test_conditional_saving_and_export(self, tmp_path):
        # Global and local conditioning in the SavedModel's signatures (the walker exports the unconditional tiny
        # preset; tests/test_zoo.py loads this variant under the other backends).
        self.run_round_trip_test(tiny(num_classes=3, local_channels=2, local_upsample=2), tokens(2, 12), tmp_path)

    def test_errors(self):
        model = tiny(num_classes=3)
        with pytest.raises(ValueError, match="tokens"):
            model.log_prob(np.full((2, 5), 16), labels=[0, 1])
        with pytest.raises(ValueError, match="labels"):
            model.log_prob(tokens(2, 5))
        with pytest.raises(ValueError, match="prompt"):
            model.sample(2, 5, prompt=np.zeros((2, 6), "int32"), labels=[0, 1])
        with pytest.raises(ValueError, match="method"):
            model.sample(2, 5, labels=[0, 1], method="fast")
        with pytest.raises(ValueError, match="sampler"):
            model.sample(2, 5, labels=[0, 1], sampler="beam-ish")
        with pytest.raises(ValueError, match="x"):
            model.fit(tokens(2, 5), epochs=1, verbose=0)  # conditional: needs a dict with labels
        with pytest.raises(ValueError, match="features"):
            tiny(local_channels=2, local_upsample=2).sample(1, 5, features=np.zeros((1, 2, 2)))
        for bad in (-1.0, float("nan"), True, "3"):
            with pytest.raises(ValueError, match="guidance"):
                model.sample(2, 5, labels=[0, 1], guidance=bad)
        with pytest.raises(ValueError, match="guidance"):
            tiny().sample(2, 5, guidance=2.0)  # unconditional: nothing to guide
        with pytest.raises(ValueError, match="labels"):
            model.sample(2, 5, labels=[0, -1], guidance=2.0)  # the null label is not a class to ask for


def test_portable_queue_path_matches(monkeypatch):
    # Under torch the queues take an eager in-place fast path; the portable keras.ops path must give the same codes.
    model = tiny(num_classes=3)
    fast = model.sample(2, 12, seed=3, labels=[0, 2])
    monkeypatch.setenv("KGEN_PORTABLE_QUEUES", "1")
    model._sampler_cache.clear()
    np.testing.assert_array_equal(model.sample(2, 12, seed=3, labels=[0, 2]), fast)
