"""A mixture of autoregressive sequence models: at every step, a learned weighted average of the members'
next-token distributions (the interpolation of language models), itself an autoregressive sequence model."""

import keras
from keras import ops

from kgen.layers.logit_mixture import MAX_COMPONENTS, LogitMixture, check_mixture_weights
from kgen.models.kgen_model import check_model_kwargs
from kgen.models.sequence_base import AutoregressiveSequenceModel
from kgen.validation import check_bool


def _member_spec_error(owner, k, spec, why):
    return ValueError(f"{owner}: `members`[{k}] {why}; got {type(spec).__name__} {str(spec)[:200]!r}.")


def build_member(spec, k, pretrained, owner):
    """Member k of a mixture from its spec: a zoo name (built by `kgen.zoo.get`, with its shipped weights when
    `pretrained`), a serialized Keras config (a `get_config` of the mixture holds these) or a model. Names and configs
    are built under the name `member_k`; a model keeps its own name."""
    from kgen import zoo

    name = f"member_{k}"
    if isinstance(spec, str):
        member = zoo.get(spec, pretrained=pretrained)
        member.name = name  # before the mixture's graph and any saving read it
        return member
    if pretrained:
        raise _member_spec_error(owner, k, spec, "must be a zoo name when `pretrained_members` is True (the "
                                 "weights are the shipped preset's of that name)")
    if isinstance(spec, dict):
        if not isinstance(spec.get("config"), dict) or not isinstance(spec.get("class_name"), str):
            raise _member_spec_error(owner, k, spec, "must be a zoo name, a serialized Keras model config (a dict "
                                     "with 'class_name' and 'config') or a model")
        spec = {**spec, "config": {**spec["config"], "name": name}}
        return keras.saving.deserialize_keras_object(spec)
    if isinstance(spec, keras.Model):
        return spec
    raise _member_spec_error(owner, k, spec, "must be a zoo name, a serialized Keras model config or a model")


def _shipped(name):
    """{"preset", "folder", "sha256"} of the shipped preset `name` (whose weights `kgen.zoo.get(name,
    pretrained=True)` has just loaded, checked against this sha256)."""
    from kgen import pretrained, zoo

    folder = zoo.pretrained_folder(name)
    return {"preset": name, "folder": str(folder), "sha256": pretrained.read_metadata(folder)["sha256"]}


def check_members(members, owner):
    """The built members: 2..16 unconditional `AutoregressiveSequenceModel`s (no mixtures) with one `num_levels` and
    one `sample_rate`, under distinct names."""
    for k, member in enumerate(members):
        if not isinstance(member, AutoregressiveSequenceModel) or isinstance(member, TokenMixture):
            raise ValueError(f"{owner}: `members`[{k}] must be an autoregressive sequence model (a kgen sequence "
                             f"model that is not itself a mixture), got {type(member).__name__}.")
        if member.conditional or member.locally_conditioned:
            raise ValueError(f"{owner}: `members`[{k}] ({type(member).__name__}) takes labels or features; a "
                             "mixture takes unconditional members only.")
    levels = sorted({m.num_levels for m in members})
    rates = sorted({str(m.sample_rate) for m in members})
    if len(levels) > 1 or len(rates) > 1:
        raise ValueError(f"{owner}: every member must model the same tokens: one `num_levels` and one "
                         f"`sample_rate`, got num_levels {levels} and sample_rate {rates}.")
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: the member models must have distinct names (their weights are saved under "
                         f"them), got {names}; build them with `name=`.")


@keras.saving.register_keras_serializable(package="kgen")
class TokenMixture(AutoregressiveSequenceModel):
    """Several autoregressive sequence models as one: p(x_t | x_<t) = sum_k pi_k p_k(x_t | x_<t).

    Architecture: tokens (batch, time) -> every member's logits (batch, time, num_levels) -> `LogitMixture`
    (log of the pi-weighted average of the members' softmaxes, float32). The mixture weights pi = softmax(w) are a
    trainable vector of K numbers (`kgen.layers.LogitMixture`), so training fits them; with `train_members=False` the
    members are frozen and always run in inference mode (no dropout), and training fits pi alone. The product of
    the mixed conditionals is a normalised distribution over sequences: log_prob, evaluation in bits per token,
    sampling (cached: every member's own cache, stepped together) and entropy coding all work as for one model.

    Mixing models of different architectures (a transformer and a dilated convolution network) helps most: their
    errors differ. Members given as configs or models are saved as their full configs; members taken from shipped
    presets are saved as their zoo names (see `pretrained_members`).

    Args:
        members: a list of 2..16 members, each a zoo name (e.g. "bytenet.shakespeare"), a serialized Keras config of
            a sequence model, or a sequence model; unconditional, with one `num_levels` and `sample_rate`.
        mixture_weights: None (1 / K each) or K positive numbers, the initial mixture weights.
        pretrained_members: bool, build each member (all given by zoo names) with the trained weights kgen ships for
            that name (`kgen.zoo.get(name, pretrained=True)`). The config keeps the names: a `.keras` file rebuilds
            the members from their presets and then restores every weight it holds over them; a preset folder of the
            mixture holds the mixture weights alone and pins each member's preset by the sha256 of its weights.
        train_members: bool, whether training updates the members' weights (False: frozen, inference mode).
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = TokenMixture(["sparse_transformer.shakespeare_large", "bytenet.shakespeare"],
    ...                      pretrained_members=True, train_members=False)
    >>> model.compile(optimizer=keras.optimizers.Adam(0.01))
    >>> model.fit(kgen.data.load("tinyshakespeare", "train", sequence_length=256), epochs=1, steps_per_epoch=200)
    >>> model.mixture_weights_now()

    Reference: Jelinek & Mercer, 1980, "Interpolated estimation of Markov source parameters from sparse data"
    (interpolated language models); Bishop, 2006, "Pattern Recognition and Machine Learning", 9.2 (mixtures).
    """

    def __init__(self, members=None, mixture_weights=None, pretrained_members=False, train_members=True, **kwargs):
        owner = "TokenMixture"
        check_model_kwargs(kwargs, owner)
        if not isinstance(members, (list, tuple)) or not 2 <= len(members) <= MAX_COMPONENTS:
            raise ValueError(f"{owner}: `members` must be a list of 2..{MAX_COMPONENTS} sequence models (zoo names, "
                             f"serialized configs or models), got {str(members)[:200]!r}.")
        pretrained_members = check_bool(pretrained_members, "pretrained_members")
        train_members = check_bool(train_members, "train_members")
        mixture_weights = check_mixture_weights(mixture_weights, len(members), owner)
        built = [build_member(spec, k, pretrained_members, owner) for k, spec in enumerate(members)]
        check_members(built, owner)
        for member in built:
            # A member deserialized with trainable=False holds sublayers that Keras left trainable; setting True
            # first makes the second assignment reach every sublayer and variable.
            member.trainable = True
            member.trainable = train_members

        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        mixer = LogitMixture(len(built), mixture_weights=mixture_weights, name="mixture", dtype="float32")
        logits = mixer([member(tokens) for member in built])
        super().__init__(inputs=tokens, outputs=logits, **kwargs)
        object.__setattr__(self, "_members", tuple(built))  # plain references: tracked through the graph
        object.__setattr__(self, "_mixer", mixer)
        object.__setattr__(self, "_parts", tuple(_shipped(name) for name in members) if pretrained_members else ())

        # === Config (returned by get_config) ===
        # Members given by name with their shipped weights stay names (a saved mixture rebuilds them from the
        # presets, then a .keras file restores every weight over them; a preset folder holds the mixture weights
        # alone, `preset_skips`); any other member is saved as its full config.
        saved = list(members) if pretrained_members else [keras.saving.serialize_keras_object(m) for m in built]
        self._record_config(members=saved, mixture_weights=mixture_weights, pretrained_members=pretrained_members,
                            train_members=train_members)
        lengths = [m.max_length for m in built if m.max_length is not None]
        self.max_length = min(lengths) if lengths else None  # the base's attribute: the shortest member's
        self._setup_sequence(built[0].num_levels)

    @property
    def members(self):
        """The member models, in order (the config's `members` holds their zoo names when they came from shipped
        presets, else their serialized configs)."""
        return self._members

    @property
    def sample_rate(self):
        return self._members[0].sample_rate

    def shipped_parts(self):
        """The members' shipped presets, when this mixture was built from them (`pretrained_members=True`)."""
        return self._parts

    def preset_skips(self):
        """The members, when they came from shipped presets: a preset folder of the mixture holds its own weights
        only."""
        return self._members if self._parts else ()

    def load_shipped_parts(self):
        from kgen import zoo

        for member, part in zip(self._members, self._parts):
            member.set_weights(zoo.get(part["preset"], pretrained=True).get_weights())

    def untrained_config(self):
        """The same members built without their shipped weights (`pretrained_members=False`)."""
        return {**self.get_config(), "pretrained_members": False}

    def mixture_weights_now(self):
        """The current mixture weights pi (K numbers that sum to 1, numpy float64), after any training."""
        return self._mixer.weights_now()

    def call(self, inputs, training=None, mask=None):
        # Frozen members run in inference mode: their dropout must not act while the mixture weights train.
        return super().call(inputs, training=training if self.train_members else False, mask=mask)

    @property
    def receptive_field(self):
        """The widest member's: every token one member reaches, the mixture reaches."""
        return max(m.receptive_field for m in self._members)

    # ------------------------------------------------------------------------------------------ incremental protocol
    # The cache is the tuple of the members' caches; a step runs every member's own step and mixes their logits.
    def init_cache(self, batch_size, labels=None, features=None):
        return tuple(m.init_cache(batch_size) for m in self._members)

    def call_with_cache(self, previous, cache, index):
        """The mixed logits of token `index` from token index - 1, every member stepping its own cache."""
        steps = [m.call_with_cache(previous, c, index) for m, c in zip(self._members, cache)]
        logits = self._mixer([ops.cast(s[0], "float32") for s in steps])
        return logits, tuple(s[1] for s in steps)

