"""Semantic hashing: a deep autoencoder whose code layer becomes binary, for retrieval by Hamming distance."""

import numpy as np
import keras
from keras import layers

from kgen.layers.binary_code import BinaryCode
from kgen.models.representation_base import RepresentationModel, check_representation_args
from kgen.validation import check_bool, check_float, check_int

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "swish")


def _check_dims(dims, name, owner, allow_empty=True):
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        dims = (dims,)
    try:
        dims = tuple(dims)
    except TypeError:
        raise ValueError(f"{owner}: `{name}` must be a tuple of positive ints such as (500, 500), got {dims!r}.") from None
    if not allow_empty and not dims:
        raise ValueError(f"{owner}: `{name}` must hold at least one width, got {dims!r}.")
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"{owner}: `{name}` must be a tuple of positive ints such as (500, 500), got {dims!r}.")
        out.append(int(d))
    return tuple(out)


@keras.saving.register_keras_serializable(package="kgen")
class SemanticHashing(RepresentationModel):
    """A deep autoencoder whose code layer is trained to be binary, so that similar inputs get codes a few bits
    apart and retrieval becomes a Hamming-distance scan or lookup.

    Architecture: inputs (batch, *input_shape) -> flatten and scale by `input_scale` -> `Dense(h, activation)` for
    each h in `hidden_dims` -> `Dense(num_bits)` pre-activations ("code_logits") -> [optional
    `BatchNormalization(center=False)` ("code_norm")] -> `BinaryCode(noise_stddev)` ("codes") -> `Dense(h, activation)` for each h in `decoder_dims` (default: `hidden_dims` reversed) ->
    `Dense(prod(input_shape))` (sigmoid for `reconstruction_loss="bce"`, linear for "mse") -> reshape to
    `input_shape`.

    In training the code units are sigmoids of noisy pre-activations (Gaussian noise of std `noise_stddev`), which
    forces them towards 0 or 1 (the paper's trick); at inference they are hard bits (pre-activation > 0), and the
    decoder reconstructs from those bits. `encode(x)` gives the float32 {0, 1} codes, `hash(x)` the same bits packed
    into uint8 bytes for `kgen.hashing.HammingIndex`.

    Differences from the paper: no RBM pretraining (the network is trained end to end with Adam from a random start,
    which works at these sizes), ReLU hidden units by default instead of logistic ones, fresh noise every step
    instead of a fixed ("deterministic") noise sample (needed there only for conjugate gradients).

    Args:
        input_shape: tuple, the shape of one input, e.g. (28, 28, 1) or (2000,).
        hidden_dims: tuple of ints, the encoder's hidden widths (e.g. (500, 500)).
        num_bits: int, the code length.
        noise_stddev: float >= 0, the std of the noise before the code sigmoids in training (paper: 4).
        input_scale: float > 0, the inputs are multiplied by it before the network (1/255 for MNIST levels); the
            reconstruction is on this working scale.
        reconstruction_loss: "bce" (targets in [0, 1], sigmoid output) or "mse" (linear output).
        decoder_dims: tuple of ints or None, the decoder's hidden widths (None: `hidden_dims` reversed).
        activation: hidden activation, one of "relu", "sigmoid", "tanh", "elu", "gelu", "swish".
        normalize_codes: bool, batch-normalize the code pre-activations without a learned offset, so every bit is
            on for about half the inputs (balanced bits, no bit stuck at a constant) while the learned scale can
            still grow to saturate the sigmoids. Not in the paper; off by default.
        seed: int or None, seeds the code noise.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = kgen.zoo.get("semantic_hashing.mnist")
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("mnist", split="train", batch_size=100), epochs=20)
    >>> index = kgen.hashing.HammingIndex(model.num_bits).add(model.hash(train_images))
    >>> ids, dists = index.search(model.hash(test_images), k=100)

    Reference: Salakhutdinov & Hinton, 2009, "Semantic hashing", International Journal of Approximate Reasoning
    50(7): 969-978.
    """

    #: reference_outputs are bits: under bfloat16 a code logit near zero may land on the other side of it, and one
    #: flipped bit is the whole scale. The mixed-precision check still holds the policy, the float32 outputs and
    #: the save/load to account.
    mixed_precision_tolerance = 1.0

    def __init__(
        self,
        input_shape=(28, 28, 1),
        hidden_dims=(500, 500),
        num_bits=32,
        noise_stddev=4.0,
        input_scale=1.0,
        reconstruction_loss="mse",
        decoder_dims=None,
        activation="relu",
        normalize_codes=False,
        seed=None,
        **kwargs,
    ):
        owner = "SemanticHashing"
        input_shape = check_representation_args(owner, kwargs, input_shape)
        hidden_dims = _check_dims(hidden_dims, "hidden_dims", owner)
        num_bits = check_int(num_bits, "num_bits", owner=owner)
        noise_stddev = check_float(noise_stddev, "noise_stddev", owner, inclusive=True)
        input_scale = check_float(input_scale, "input_scale", owner)
        decoder_dims = tuple(reversed(hidden_dims)) if decoder_dims is None else _check_dims(
            decoder_dims, "decoder_dims", owner)
        if activation not in ACTIVATIONS:
            raise ValueError(f"{owner}: `activation` must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                             f"got {activation!r}.")
        normalize_codes = check_bool(normalize_codes, "normalize_codes")
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0, owner=owner)
        if reconstruction_loss not in ("mse", "bce"):  # checked again by the base; here before any layer is made
            raise ValueError(f"{owner}: `reconstruction_loss` must be one of 'mse', 'bce', got {reconstruction_loss!r}.")
        num_dims = int(np.prod(input_shape))

        # === Functional model ===
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = layers.Flatten(name="flatten")(inputs)
        x = layers.Rescaling(input_scale, name="input_scale")(x)
        for i, width in enumerate(hidden_dims):
            x = layers.Dense(width, activation=activation, name=f"encoder_dense{i}")(x)
        x = layers.Dense(num_bits, name="code_logits")(x)
        if normalize_codes:
            x = layers.BatchNormalization(center=False, name="code_norm")(x)
        codes = BinaryCode(noise_stddev, seed=seed, name="codes")(x)
        x = codes
        for i, width in enumerate(decoder_dims):
            x = layers.Dense(width, activation=activation, name=f"decoder_dense{i}")(x)
        out_activation = "sigmoid" if reconstruction_loss == "bce" else None
        x = layers.Dense(num_dims, activation=out_activation, name="reconstruction", dtype="float32")(x)
        outputs = layers.Reshape(input_shape, name="reshape", dtype="float32")(x)
        super().__init__(inputs, outputs, **kwargs)

        # === Config (returned by get_config) ===
        self._record_config(input_shape=input_shape, hidden_dims=hidden_dims, num_bits=num_bits,
            noise_stddev=noise_stddev, input_scale=input_scale, reconstruction_loss=reconstruction_loss,
            decoder_dims=decoder_dims, activation=activation, normalize_codes=normalize_codes, seed=seed)
        self._setup_representation(input_shape, input_scale, reconstruction_loss)

    def hash(self, x, batch_size=256):
        """The codes of `x` as packed bits: uint8 (batch, ceil(num_bits / 8)), as `np.packbits(encode(x), axis=1)`;
        the form `kgen.hashing.HammingIndex` stores."""
        return np.packbits(self.encode(x, batch_size).astype(np.uint8), axis=1)

    def filters(self):
        """The first encoder layer's weights, one filter per hidden unit: (hidden_dims[0], *input_shape); for a model
        without hidden layers, the code layer's (num_bits, *input_shape)."""
        name = "encoder_dense0" if self.hidden_dims else "code_logits"
        kernel = keras.ops.convert_to_numpy(self.get_layer(name).kernel)  # (num_dims, units)
        return np.ascontiguousarray(kernel.T).reshape((-1,) + self.input_shape_).astype("float32")
