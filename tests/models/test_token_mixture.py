import keras
import numpy as np
import pytest
from keras import ops

import kgen
from kgen.models import ByteNet, LSTMLanguageModel, SparseTransformer, TokenMixture
from kgen.testing import SequenceModelChecks, TestCase, random_tokens as tokens, tiny_builder


def member_configs(levels=16, dropout=0.0):
    """Serialized configs of two tiny members of different architectures (a ByteNet and an LSTM LM)."""
    return [keras.saving.serialize_keras_object(m) for m in (
        ByteNet(num_levels=levels, hidden_dim=8, num_layers=2, dilation_cycle=2, dropout=dropout),
        LSTMLanguageModel(num_levels=levels, units=8, num_layers=1))]


def build(members=None, **kwargs):
    return TokenMixture(member_configs() if members is None else members, **kwargs)


tiny = tiny_builder(build)


def log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


class TestTokenMixture(SequenceModelChecks, TestCase):
    tiny = staticmethod(tiny)
    fit_kwargs = dict(learning_rate=3e-2, num_sequences=256, epochs=10)
    model_class = TokenMixture
    bad_argument_cases = [
        (dict(members=["bytenet.tiny"]), "`members` must be a list of 2..16"),
        (dict(members="bytenet.tiny"), "`members` must be a list of 2..16"),
        (dict(members=["bytenet.tiny"] * 17), "`members` must be a list of 2..16"),
        (dict(members=["bytenet.tiny", 3]), r"`members`\[1\] must be a zoo name"),
        (dict(members=["bytenet.tiny", {"config": {}}]), r"`members`\[1\] must be a zoo name"),
        (dict(members=["bytenet.tiny", "no_such_model"]), "no_such_model"),
        (dict(members=["bytenet.tiny", "pixelcnn.tiny"]), r"`members`\[1\] must be an autoregressive sequence"),
        (dict(members=["bytenet.tiny", "sparse_transformer.tiny"]), "one `num_levels`"),
        (dict(members=["bytenet.tiny", "wavenet.tiny"]), "one `num_levels`|labels or features"),
        (dict(members=["bytenet.tiny", "lstm_lm.tiny"], mixture_weights=[1.0, -1.0]), "`mixture_weights`"),
        (dict(members=["bytenet.tiny", "lstm_lm.tiny"], pretrained_members="yes"), "`pretrained_members`"),
        (dict(members=["bytenet.tiny", "lstm_lm.tiny"], train_members=1), "`train_members`"),
        (dict(members=["bytenet.tiny", "lstm_lm.tiny"], pretrained_members=True), "bytenet.tiny"),
        (dict(members=member_configs(), pretrained_members=True), r"`members`\[0\] must be a zoo name when"),
        (dict(members=["bytenet.tiny", "lstm_lm.tiny"], units=3), "units"),
    ]

    def test_presets(self):
        small = kgen.zoo.get("token_mixture.tiny")
        assert [m.name for m in small.members] == ["member_0", "member_1"]
        model = kgen.zoo.get("token_mixture.shakespeare")  # the shipped members' weights, frozen
        names = ("sparse_transformer.shakespeare_large", "sparse_transformer.shakespeare", "bytenet.shakespeare",
                 "lstm_lm.shakespeare")
        # every shipped Tiny Shakespeare model: the recipe chooses no members by their test scores
        assert sorted(names) == sorted(n for n in kgen.zoo.list_models(pretrained=True)
                                       if kgen.zoo.default_data(n)["name"] == "tinyshakespeare"
                                       and not n.startswith("token_mixture"))
        members = [kgen.zoo.get(name, pretrained=True) for name in names]
        assert model.count_params() == sum(m.count_params() for m in members) + 4 == 7_736_548
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 4  # the description says so
        assert model.max_length == 256 and model.num_levels == 256 and model.sample_rate is None
        for member, shipped in zip(model.members, members):
            for a, b in zip(member.get_weights(), shipped.get_weights()):
                np.testing.assert_array_equal(a, b)
        config = model.get_config()  # the members by name, as they came: the shipped presets rebuild them
        assert config["pretrained_members"] is True and config["members"] == list(names)
        assert small.get_config()["members"][0]["class_name"] == "ByteNet"  # others are saved as their configs

    def test_the_mixture_of_its_members(self):
        model = tiny(mixture_weights=[3.0, 1.0])
        x = tokens(3, 11)
        np.testing.assert_allclose(model.mixture_weights_now(), [0.75, 0.25])
        mixed = ops.convert_to_numpy(model(x)).astype(np.float64)
        parts = [np.exp(log_softmax(ops.convert_to_numpy(m(x)))) for m in model.members]
        np.testing.assert_allclose(mixed, np.log(0.75 * parts[0] + 0.25 * parts[1]), rtol=1e-5, atol=1e-5)
        # log_prob is the mixture's, and two copies of one model mix into that model
        one = model.members[0]
        twice = TokenMixture([keras.saving.serialize_keras_object(one)] * 2)
        for member in twice.members:
            member.set_weights(one.get_weights())
        np.testing.assert_allclose(twice.log_prob(x), one.log_prob(x), rtol=1e-5)

    def test_causality_exact(self):
        # The LSTM member reaches every earlier token; nothing reaches the current or a later one.
        self.run_sequence_causality_test(tiny(), length=10)

    @pytest.mark.parametrize("sampler", ["random", "top_k"])
    def test_fast_sampling_equals_naive(self, sampler):
        self.run_sequence_sampling_test(tiny(), num_samples=2, length=14, sampler=sampler)

    def test_fast_step_logits_equal_the_network(self):
        self.run_sequence_step_test(tiny(mixture_weights=[1.0, 2.0]), tokens(2, 9))

    def test_a_transformer_member_bounds_the_length(self):
        members = [keras.saving.serialize_keras_object(m) for m in (
            SparseTransformer(num_levels=16, max_length=16, hidden_dim=8, num_layers=2, num_heads=2, block_size=4),
            ByteNet(num_levels=16, hidden_dim=8, num_layers=2, dilation_cycle=2))]
        model = TokenMixture(members)
        assert model.max_length == 16
        self.run_sequence_sampling_test(model, num_samples=2, length=16)
        with pytest.raises(ValueError, match="max_length=16"):
            model.sample(1, 17)

    def test_frozen_members_keep_their_weights_and_run_without_dropout(self):
        model = tiny(members=member_configs(dropout=0.5), train_members=False)
        x = tokens(4, 12)
        # dropout acts in a member only when the members train
        np.testing.assert_array_equal(ops.convert_to_numpy(model(x, training=True)),
                                      ops.convert_to_numpy(model(x, training=False)))
        training = tiny(members=member_configs(dropout=0.5))
        assert not np.array_equal(ops.convert_to_numpy(training(x, training=True)),
                                  ops.convert_to_numpy(training(x, training=False)))
        before = [w.copy() for m in model.members for w in m.get_weights()]
        weights = model.mixture_weights_now()
        model.compile(optimizer=keras.optimizers.Adam(0.1))
        model.fit(x, x, epochs=3, verbose=0)
        after = [w for m in model.members for w in m.get_weights()]
        assert all(np.array_equal(a, b) for a, b in zip(before, after))
        assert not np.allclose(model.mixture_weights_now(), weights)
        assert [w.shape for w in model.trainable_weights] == [(2,)]

    def test_saved_and_reloaded(self, tmp_path):
        model = tiny(train_members=False)
        model.compile(optimizer=keras.optimizers.Adam(0.1))
        model.fit(tokens(4, 12), tokens(4, 12), epochs=2, verbose=0)
        path = tmp_path / "mixture.keras"
        model.save(path)
        revived = keras.saving.load_model(path)
        x = tokens(2, 12, seed=1)
        np.testing.assert_allclose(revived.log_prob(x), model.log_prob(x), rtol=1e-6)
        np.testing.assert_allclose(revived.mixture_weights_now(), model.mixture_weights_now(), rtol=1e-6)
        assert revived.train_members is False and not revived.members[0].trainable
        # frozen members stay frozen through the saved config (Keras left a deserialized member's sublayers
        # trainable), so the revived optimizer holds the one trained vector, as the saved one
        assert [tuple(w.shape) for w in revived.trainable_weights] == [(2,)]
        assert len(revived.optimizer.variables) == len(model.optimizer.variables)

    def test_refuses_members_of_the_same_name_and_mixtures(self):
        a = ByteNet(num_levels=16, hidden_dim=8, num_layers=2, dilation_cycle=2, name="same")
        b = LSTMLanguageModel(num_levels=16, units=8, num_layers=1, name="same")
        with pytest.raises(ValueError, match="distinct names"):
            TokenMixture([a, b])
        with pytest.raises(ValueError, match="not itself a mixture"):
            TokenMixture([keras.saving.serialize_keras_object(tiny()), member_configs()[0]])


class TestTokenMixturePresets(TestCase):
    """A mixture built from shipped presets saves as a preset folder of its own weights alone: the members come
    from their own folders, pinned by sha256."""

    @staticmethod
    def mixture():
        return TokenMixture(["bytenet.shakespeare", "sparse_transformer.shakespeare"], mixture_weights=[0.7, 0.3],
                            pretrained_members=True, train_members=False)

    def test_an_untrained_copy_has_none_of_the_shipped_weights(self):
        """`untrained_config` (the floor row of kgen.quality): the same members, built without their presets."""
        from kgen import quality

        model = self.mixture()
        assert model.get_config()["pretrained_members"] is True
        copy = quality.untrained_copy(model, seed=0)
        assert copy.shipped_parts() == () and copy.get_config()["pretrained_members"] is False
        assert [m.get_config() for m in copy.members] == [m.get_config() for m in model.members]
        for member, shipped in zip(copy.members, model.members):
            assert not np.array_equal(member.get_weights()[0], shipped.get_weights()[0])

    def test_a_preset_folder_holds_the_mixture_weights_and_pins_the_members(self, tmp_path):
        import json

        from kgen import pretrained

        model = self.mixture()
        assert [p["preset"] for p in model.shipped_parts()] == ["bytenet.shakespeare", "sparse_transformer.shakespeare"]
        meta = pretrained.save_preset(model, tmp_path / "mix", "token_mixture.tiny")
        assert meta["parts"] == [{"preset": p["preset"], "sha256": p["sha256"]} for p in model.shipped_parts()]
        assert (tmp_path / "mix" / "model.weights.h5").stat().st_size < 100_000  # two numbers, not 4M weights
        loaded = kgen.zoo.get("token_mixture.tiny", weights=tmp_path / "mix")
        x = tokens(2, 40, levels=256)
        np.testing.assert_allclose(loaded.log_prob(x), model.log_prob(x), rtol=1e-6)
        np.testing.assert_allclose(loaded.mixture_weights_now(), [0.7, 0.3], rtol=1e-6)
        for member, shipped in zip(loaded.members, ("bytenet.shakespeare", "sparse_transformer.shakespeare")):
            for a, b in zip(member.get_weights(), kgen.zoo.get(shipped, pretrained=True).get_weights()):
                np.testing.assert_array_equal(a, b)
        # metadata that pins other member weights than those the model is built with: refused
        path = tmp_path / "mix" / "metadata.json"
        edited = json.loads(path.read_text())
        edited["parts"][0]["sha256"] = "0" * 64
        path.write_text(json.dumps(edited))
        with pytest.raises(ValueError, match="saved with the shipped presets"):
            kgen.zoo.get("token_mixture.tiny", weights=tmp_path / "mix")
        # and a folder whose metadata names no parts (its file then lacks the members' weights): refused too
        del edited["parts"]
        path.write_text(json.dumps(edited))
        with pytest.raises(ValueError, match="saved with the shipped presets"):
            kgen.zoo.get("token_mixture.tiny", weights=tmp_path / "mix")

    def test_a_keras_file_restores_every_weight_over_the_presets(self, tmp_path):
        model = self.mixture()
        # weights that are no longer the presets': a member's and the mixture's own
        model.members[0].set_weights([w * 0.9 for w in model.members[0].get_weights()])
        model.get_layer("mixture").set_weights([np.array([0.2, -0.4], "float32")])
        model.save(tmp_path / "mix.keras")
        revived = keras.saving.load_model(tmp_path / "mix.keras")
        x = tokens(4, 24, levels=256)
        np.testing.assert_allclose(revived.log_prob(x), model.log_prob(x), rtol=1e-6)
        for a, b in zip(revived.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert [tuple(w.shape) for w in revived.trainable_weights] == [(2,)]
