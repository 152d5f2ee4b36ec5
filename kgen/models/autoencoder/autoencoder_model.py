"""Autoencoders: plain (and linear), denoising, k-sparse and deep, as one configurable functional model.

`Autoencoder` builds every variant; `DenoisingAutoencoder`, `KSparseAutoencoder` and `DeepAutoencoder` are the same
model with the defaults of their papers (and a check that the argument that defines them is given), so each has
its own name in the zoo and in saved `.keras` files.
"""

import numpy as np
import keras
from keras import layers

from kgen.layers.k_sparse import KSparse
from kgen.layers.masking_noise import MaskingNoise
from kgen.models.kgen_model import check_model_kwargs
from kgen.models.representation_base import RepresentationModel, check_input_shape
from kgen.validation import check_float, check_fraction, check_int

CORRUPTIONS = ("masking", "gaussian")


def _check_activation(value, name, owner):
    """An activation given by its Keras name ("relu", "sigmoid", "linear", ...); a ValueError naming `name`."""
    if isinstance(value, str):
        try:
            keras.activations.get(value)
            return value
        except (ValueError, TypeError):
            pass
    raise ValueError(f"{owner}: `{name}` must be the name of a Keras activation such as 'relu', 'sigmoid' or "
                     f"'linear', got {value!r}.")


def _check_units(hidden_units, owner):
    if isinstance(hidden_units, (str, bytes)) or not hasattr(hidden_units, "__iter__"):
        raise ValueError(f"{owner}: `hidden_units` must be a list of positive ints such as [1000, 500, 250], got "
                         f"{hidden_units!r}.")
    units = list(hidden_units)
    for u in units:
        if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 1:
            raise ValueError(f"{owner}: `hidden_units` must be a list of positive ints such as [1000, 500, 250], "
                             f"got {hidden_units!r}.")
    return tuple(int(u) for u in units)


@keras.saving.register_keras_serializable(package="kgen")
class Autoencoder(RepresentationModel):
    """A fully connected autoencoder: inputs -> encoder MLP -> code -> mirrored decoder MLP -> reconstruction.

    Architecture: inputs (batch, *input_shape) -> `Rescaling(input_scale)` -> `Flatten` -> [corruption, training
    only] -> `Dense(u, activation)` for u in `hidden_units` -> code `Dense(code_dim, code_activation)` [-> `KSparse(k)`]
    (the layer named "codes") -> `Dense(u, activation)` for u in reversed `hidden_units` ->
    `Dense(prod(input_shape), output_activation)` -> `Reshape(input_shape)`. Encoder and decoder weights are
    untied. The model's output is the reconstruction of `inputs * input_scale`; `compile(optimizer=...)` needs no
    loss (see `RepresentationModel`).

    With linear activations everywhere, the code spans the principal subspace of the data (Baldi & Hornik, 1989):
    a linear autoencoder trained to its minimum reconstructs as well as PCA with `code_dim` components.

    Args:
        input_shape: tuple, the shape of one example, e.g. (28, 28, 1).
        code_dim: int, units of the code layer.
        hidden_units: list of ints, encoder widths before the code (the decoder mirrors them); () for one hidden
            layer (the code).
        activation: Keras activation name of the hidden layers.
        code_activation: activation of the code layer ("linear" in the deep and k-sparse autoencoders).
        output_activation: activation of the reconstruction ("sigmoid" for inputs in [0, 1], "linear" otherwise).
        use_bias: bool, biases in every Dense layer (False for the linear autoencoder of centred data).
        input_scale: float > 0, inputs are multiplied by it (1/255 for 0..255 pixel levels).
        reconstruction_loss: "mse" (summed squared error per example) or "bce" (Bernoulli cross-entropy; needs
            outputs and scaled inputs in [0, 1]).
        corruption: None, "masking" (`MaskingNoise`: a random fraction of the inputs set to zero) or "gaussian"
            (`keras.layers.GaussianNoise`: additive noise), applied to the scaled inputs in training only.
        corruption_level: the masking rate in [0, 1), or the Gaussian standard deviation in [0, 1].
        k: None, or int: keep only the k largest code units per example (`KSparse`, the k-sparse autoencoder).
        alpha: float >= 1, the k-sparse code keeps round(alpha * k) units at inference.
        seed: int or None, seed of the corruption layer's random generator.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = Autoencoder(input_shape=(28, 28, 1), hidden_units=[512], code_dim=32, input_scale=1 / 255)
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("mnist", split="train"), epochs=5)
    >>> codes = model.encode(images)            # (batch, 32)
    >>> errors = model.reconstruction_error(images)

    Reference: Hinton & Salakhutdinov, 2006, "Reducing the Dimensionality of Data with Neural Networks"; Baldi &
    Hornik, 1989, "Neural networks and principal component analysis".
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        code_dim=32,
        hidden_units=(),
        activation="relu",
        code_activation="linear",
        output_activation="sigmoid",
        use_bias=True,
        input_scale=1.0,
        reconstruction_loss="mse",
        corruption=None,
        corruption_level=0.0,
        k=None,
        alpha=1.0,
        seed=None,
        **kwargs,
    ):
        owner = type(self).__name__
        check_model_kwargs(kwargs, owner)
        input_shape = check_input_shape(input_shape, owner)
        code_dim = check_int(code_dim, "code_dim", owner=owner)
        hidden_units = _check_units(hidden_units, owner)
        activation = _check_activation(activation, "activation", owner)
        code_activation = _check_activation(code_activation, "code_activation", owner)
        output_activation = _check_activation(output_activation, "output_activation", owner)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise ValueError(f"{owner}: `use_bias` must be True or False, got {use_bias!r}.")
        use_bias = bool(use_bias)
        if corruption is not None and corruption not in CORRUPTIONS:
            raise ValueError(f"{owner}: `corruption` must be None, 'masking' or 'gaussian', got {corruption!r}.")
        if corruption == "gaussian":
            corruption_level = check_float(corruption_level, "corruption_level", owner, inclusive=True)
            if corruption_level > 1.0:
                raise ValueError(f"{owner}: `corruption_level` (the Gaussian standard deviation on the scaled "
                                 f"inputs) must be in [0, 1], got {corruption_level!r}.")
        else:
            corruption_level = check_fraction(corruption_level, "corruption_level", owner)
            if corruption is None and corruption_level != 0.0:
                raise ValueError(f"{owner}: `corruption_level` is {corruption_level} but `corruption` is None; "
                                 "pass corruption='masking' or 'gaussian'.")
        if k is not None:
            k = check_int(k, "k", owner=owner, maximum=code_dim)
        alpha = check_float(alpha, "alpha", owner)
        if alpha < 1.0:
            raise ValueError(f"{owner}: `alpha` must be a finite number >= 1, got {alpha!r}.")
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0, owner=owner)
        num_dims = int(np.prod(input_shape))

        # === Functional model ===
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = layers.Rescaling(input_scale, name="rescale")(inputs)
        x = layers.Flatten(name="flatten")(x)
        if corruption == "masking":
            x = MaskingNoise(corruption_level, seed=seed, name="corruption")(x)
        elif corruption == "gaussian":
            x = layers.GaussianNoise(corruption_level, seed=seed, name="corruption")(x)
        for i, units in enumerate(hidden_units):
            x = layers.Dense(units, activation=activation, use_bias=use_bias, name=f"encoder_dense_{i}")(x)
        if k is None:
            codes = layers.Dense(code_dim, activation=code_activation, use_bias=use_bias, name="codes")(x)
        else:
            x = layers.Dense(code_dim, activation=code_activation, use_bias=use_bias, name="code_dense")(x)
            codes = KSparse(k, alpha=alpha, name="codes")(x)
        x = codes
        for i, units in enumerate(reversed(hidden_units)):
            x = layers.Dense(units, activation=activation, use_bias=use_bias, name=f"decoder_dense_{i}")(x)
        x = layers.Dense(num_dims, activation=output_activation, use_bias=use_bias, name="output_dense",
                         dtype="float32")(x)
        outputs = layers.Reshape(input_shape, name="reconstruction", dtype="float32")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config (returned by get_config) ===
        self._record_config(input_shape=input_shape, code_dim=code_dim, hidden_units=hidden_units,
            activation=activation, code_activation=code_activation, output_activation=output_activation,
            use_bias=use_bias, input_scale=input_scale, reconstruction_loss=reconstruction_loss,
            corruption=corruption, corruption_level=corruption_level, k=k, alpha=alpha, seed=seed)
        self._setup_representation(input_shape, input_scale, reconstruction_loss)

    @property
    def first_layer_name(self):
        """The Dense layer that reads the inputs (its kernel columns are the filters)."""
        if self.hidden_units:
            return "encoder_dense_0"
        return "codes" if self.k is None else "code_dense"

    @property
    def layer_sizes(self):
        """Widths from the input to the code, e.g. [784, 1000, 500, 250, 30]."""
        return [self.num_dims, *self.hidden_units, self.code_dim]

    def filters(self):
        """The first layer's weights as one image per unit: float32 (units, *input_shape), with a trailing channel
        axis of size 1 dropped, so (units, 28, 28) for MNIST."""
        kernel = np.asarray(keras.ops.convert_to_numpy(self.get_layer(self.first_layer_name).kernel), dtype="float32")
        images = kernel.T.reshape((kernel.shape[1],) + self.input_shape_)
        if len(self.input_shape_) == 3 and self.input_shape_[-1] == 1:
            images = images[..., 0]
        return images


@keras.saving.register_keras_serializable(package="kgen")
class DenoisingAutoencoder(Autoencoder):
    """An autoencoder trained to reconstruct clean inputs from corrupted ones (corruption only in training).

    The same model as `Autoencoder` with a corruption layer after the input scaling: `corruption="masking"` sets a
    random fraction `corruption_level` of the inputs to zero (`MaskingNoise`, no rescaling), "gaussian" adds noise
    of standard deviation `corruption_level` (`keras.layers.GaussianNoise`). The loss compares the reconstruction
    with the clean input. At inference (`encode`, `reconstruct`, `evaluate`) the corruption is off. Defaults: one
    hidden layer of 500 sigmoid units, sigmoid outputs, cross-entropy loss, 25% masking.

    Args: those of `Autoencoder` (as keywords; `variant_defaults` holds the defaults that differ); `corruption`
    must be "masking" or "gaussian" (`corruption_level=0` gives the plain autoencoder with the same architecture,
    the 0% baseline of the paper's filter pictures).

    Example:
    >>> model = DenoisingAutoencoder(code_dim=500, corruption="masking", corruption_level=0.5, input_scale=1 / 255)
    >>> model.compile(optimizer="adam"); model.fit(kgen.data.load("mnist", split="train"), epochs=5)
    >>> filters = model.filters()               # (500, 28, 28)

    Reference: Vincent, Larochelle, Bengio & Manzagol, 2008, "Extracting and Composing Robust Features with
    Denoising Autoencoders" (ICML).
    """

    variant_defaults = dict(code_dim=500, activation="sigmoid", code_activation="sigmoid", reconstruction_loss="bce",
                            corruption="masking", corruption_level=0.25)

    def __init__(self, **kwargs):
        kwargs = {**self.variant_defaults, **kwargs}
        if kwargs["corruption"] not in CORRUPTIONS:
            raise ValueError(f"{type(self).__name__}: `corruption` must be 'masking' or 'gaussian', got "
                             f"{kwargs['corruption']!r}.")
        super().__init__(**kwargs)


@keras.saving.register_keras_serializable(package="kgen")
class KSparseAutoencoder(Autoencoder):
    """An autoencoder whose code keeps only its `k` largest units per example (the rest set to zero).

    The same model as `Autoencoder` with a `KSparse(k, alpha)` layer (named "codes") after a linear code layer:
    in training exactly `k` units per example are nonzero and only they receive gradients; at inference
    round(alpha * k) are kept. Defaults: 1000 linear code units, k = 25, no hidden layers, sigmoid outputs,
    squared-error loss. Dead units (never in the top k) can appear; the paper's schedule that starts with a large
    k and lowers it is not built in.

    Args: those of `Autoencoder` (as keywords; `variant_defaults` holds the defaults that differ); `k` is required
    (1 <= k <= code_dim).

    Example:
    >>> model = KSparseAutoencoder(code_dim=1000, k=25, input_scale=1 / 255)
    >>> codes = model.encode(images)            # exactly 25 nonzeros per row

    Reference: Makhzani & Frey, 2013, "k-Sparse Autoencoders" (arXiv:1312.5663; ICLR 2014).
    """

    #: reference_outputs are the codes after the top-k selection: under bfloat16 two units that nearly tie for the
    #: k-th place may trade it, which moves a code entry by its whole size. The mixed-precision check still holds the
    #: policy, the float32 reconstruction and the save/load to account.
    mixed_precision_tolerance = 1.0

    variant_defaults = dict(code_dim=1000, k=25)

    def __init__(self, **kwargs):
        kwargs = {**self.variant_defaults, **kwargs}
        if kwargs["k"] is None:
            raise ValueError(f"{type(self).__name__}: `k` must be an integer >= 1 (units kept per example), "
                             "got None.")
        super().__init__(**kwargs)


@keras.saving.register_keras_serializable(package="kgen")
class DeepAutoencoder(Autoencoder):
    """The deep autoencoder of Hinton & Salakhutdinov: 784-1000-500-250-30 with a linear 30-unit code.

    The same model as `Autoencoder` with a deep encoder (`hidden_units=(1000, 500, 250)`, `code_dim=30`, linear
    code) and its mirror image as decoder, sigmoid outputs and a cross-entropy loss. Differences from the paper: it
    trains end to end with Adam from a random start instead of RBM pretraining plus fine-tuning, and the hidden
    units are ReLU by default (the paper's logistic units train slowly without pretraining; pass
    `activation="sigmoid"` for them).

    Args: those of `Autoencoder` (as keywords; `variant_defaults` holds the defaults that differ).

    Example:
    >>> model = DeepAutoencoder(input_scale=1 / 255)
    >>> model.layer_sizes                       # [784, 1000, 500, 250, 30]

    Reference: Hinton & Salakhutdinov, 2006, "Reducing the Dimensionality of Data with Neural Networks", Science 313.
    """

    variant_defaults = dict(code_dim=30, hidden_units=(1000, 500, 250), reconstruction_loss="bce")

    def __init__(self, **kwargs):
        super().__init__(**{**self.variant_defaults, **kwargs})
