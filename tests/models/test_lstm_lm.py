import math

import numpy as np
import pytest

import kgen
from kgen.samplers import cache_bytes
from kgen.models import LSTMLanguageModel
from kgen.testing import SequenceModelChecks, TestCase, random_tokens as tokens, tiny_builder

tiny = tiny_builder(LSTMLanguageModel, num_levels=16, units=8, num_layers=2, embedding_dim=6)


class TestLSTMLanguageModel(SequenceModelChecks, TestCase):
    tiny = staticmethod(tiny)
    fit_kwargs = dict(learning_rate=3e-2, num_sequences=256, epochs=10)
    model_class = LSTMLanguageModel
    bad_argument_cases = [(dict(units=0), "units"), (dict(embedding_dim=2.5), "embedding_dim"),
                          (dict(num_classes=3), "num_classes")]

    def test_presets(self):
        model = kgen.zoo.get("lstm_lm.shakespeare")
        assert model.units == 340 and model.num_layers == 2 and model.num_levels == 256
        assert model.count_params() == 2_026_656  # stated in the preset's description
        bytenet = kgen.zoo.get("bytenet.shakespeare").count_params()
        assert abs(model.count_params() - bytenet) <= 0.1 * bytenet  # the baseline has a similar size
        assert model.receptive_field == math.inf
        assert cache_bytes(model.init_cache(1)) == 4 * 2 * 2 * 340

    @pytest.mark.parametrize("kwargs", [{}, dict(num_layers=1)])
    def test_causality_exact(self, kwargs):
        # Unbounded receptive field: every earlier token reaches every later step, none the current or later ones.
        self.run_sequence_causality_test(tiny(**kwargs), length=10)

    @pytest.mark.parametrize("sampler", ["random", "greedy", "top_k", "top_p"])
    def test_fast_sampling_equals_naive(self, sampler):
        model = tiny()
        assert model.sampling_methods == ("cached", "naive")
        self.run_sequence_sampling_test(model, num_samples=2, length=14, sampler=sampler)

    def test_fast_step_logits_equal_the_network(self):
        self.run_sequence_step_test(tiny(), tokens(2, 9))

    def test_generate_text(self):
        model = tiny(num_levels=256)
        text = model.generate_text("To be", 10, seed=3)
        assert isinstance(text, str) and text.startswith("To be"), text
        assert model.generate_text("To be", 10, seed=3, method="naive") == text

    def test_errors(self):
        model = tiny()
        with pytest.raises(ValueError, match="method"):
            model.sample(2, 5, method="fast")
        with pytest.raises(ValueError, match="num_levels"):
            model.generate_text("a", 3)
