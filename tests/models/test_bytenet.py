import numpy as np
import pytest

import kgen
from kgen.samplers import cache_bytes
from kgen.models import ByteNet
from kgen.testing import SequenceModelChecks, TestCase, tiny_builder

tiny = tiny_builder(ByteNet, num_levels=16, hidden_dim=8, num_layers=4, dilation_cycle=2)


class TestByteNet(SequenceModelChecks, TestCase):
    tiny = staticmethod(tiny)
    model_class = ByteNet
    bad_argument_cases = [(dict(hidden_dim=1), "hidden_dim"), (dict(kernel_size=1), "kernel_size"),
                          (dict(num_classes=3), "num_classes")]

    def test_presets(self):
        model = kgen.zoo.get("bytenet.shakespeare")
        assert model.dilations == [1, 2, 4, 8, 16] * 3
        assert model.kernel_size == 3 and model.hidden_dim == 256 and model.num_levels == 256
        assert model.receptive_field == 2 * (1 + 3 * 31) + 1 == 189
        assert model.count_params() == 2_072_064  # stated in the preset's description
        assert cache_bytes(model.init_cache(1)) == 4 * (2 * 256 + 2 * 3 * 31 * 128)
        assert kgen.zoo.get("bytenet.tiny").receptive_field == 2 * (1 + 1 + 2 + 1 + 2) + 1

    @pytest.mark.parametrize("kwargs", [{}, dict(kernel_size=2, num_layers=3, dilation_cycle=3)])
    def test_causality_exact(self, kwargs):
        self.run_sequence_causality_test(tiny(**kwargs))

    @pytest.mark.parametrize("sampler", ["random", "greedy", "top_k", "top_p"])
    def test_fast_sampling_equals_naive(self, sampler):
        self.run_sequence_sampling_test(tiny(), num_samples=2, length=14, sampler=sampler)

    def test_keras_nlp_sampler_instance(self):
        import keras_hub

        model = tiny()
        sampler = keras_hub.samplers.TopPSampler(p=0.9, temperature=0.7)
        fast = model.sample(2, 10, seed=5, sampler=sampler)
        np.testing.assert_array_equal(model.sample(2, 10, seed=5, sampler=sampler, method="naive"), fast)

    def test_generate_text(self):
        # Every call makes 12 tokens with the default sampler (top-k), so the sampling loop compiles twice (batch 1
        # and 3); fast == naive is checked by the sampling tests.
        model = tiny(num_levels=256)
        text = model.generate_text("To bé", 6, seed=3)  # "é" is 2 bytes: 6 + 6
        assert isinstance(text, str) and text.startswith("To bé"), text
        assert model.generate_text("To bé", 6, seed=3) == text  # seeded
        several = model.generate_text("ab", 10, seed=0, num_samples=3)
        assert isinstance(several, list) and len(several) == 3 and all(s.startswith("ab") for s in several)
        listed = model.generate_text(["ab", "cd"], 10, seed=4)
        assert len(listed) == 2 and listed[0].startswith("ab") and listed[1].startswith("cd"), listed
        assert isinstance(model.generate_text("", 12, seed=1), str)  # no prompt: generated from scratch

    def test_generate_text_errors(self):
        model = tiny(num_levels=256)
        with pytest.raises(ValueError, match="prompt"):
            model.generate_text(b"bytes", 5)
        with pytest.raises(ValueError, match="prompt"):
            model.generate_text([], 5)
        with pytest.raises(ValueError, match="length"):
            model.generate_text("a", 0)
        with pytest.raises(ValueError, match="sampler"):
            model.generate_text("a", 5, sampler="top-k")
        with pytest.raises(ValueError, match="method"):
            model.generate_text("a", 5, method="fast")
        with pytest.raises(ValueError, match="seed"):
            model.generate_text("a", 5, seed=-1)
        with pytest.raises(ValueError, match="num_samples"):
            model.generate_text(["a", "b"], 5, num_samples=2)
        with pytest.raises(ValueError, match="num_levels"):
            tiny().generate_text("a", 5)  # 16 levels: not a byte model

    def test_errors(self):
        model = tiny()
        with pytest.raises(ValueError, match="prompt"):
            model.sample(2, 5, prompt=np.zeros((2, 6), "int32"))
        with pytest.raises(ValueError, match="labels"):
            model.sample(2, 5, labels=[0, 1])

    def test_byte_tokenizer_round_trip(self):
        from kgen.models.sequence_base import byte_tokenizer

        tokenizer = byte_tokenizer()
        ids = np.asarray(tokenizer("Ünïcode"), "int32")
        assert len(ids) == len("Ünïcode".encode()) and tokenizer.detokenize(ids.tolist()) == "Ünïcode"
        assert tokenizer.detokenize([104, 105, 0xC3]) == "hi\ufffd"  # invalid UTF-8 is replaced, not an error
