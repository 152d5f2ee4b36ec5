"""Sparse coding: a dictionary of unit-norm atoms learned by alternating FISTA code inference and gradient steps."""

import math

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.sparse_coding_inference import INFERENCE_METHODS, SparseCodingInference, lasso_objective
from kgen.models.representation_base import RepresentationModel, check_representation_args
from kgen.validation import check_float, check_int


def atoms_as_filters(atoms, input_shape):
    """Atoms (K, D) as pictures: (K, *input_shape) for image inputs, (K, s, s) for flat inputs of D = s * s
    (square patches), else (K, 1, D)."""
    atoms = np.asarray(atoms, dtype="float32")
    num = len(atoms)
    if len(input_shape) > 1:
        return atoms.reshape((num,) + tuple(input_shape))
    side = math.isqrt(int(input_shape[0]))
    if side * side == int(input_shape[0]):
        return atoms.reshape(num, side, side)
    return atoms.reshape(num, 1, -1)


def predict_numpy(model, x, batch_size):
    """`model.predict` on a validated float32 array, as float32 numpy (compiled once per model and backend)."""
    if len(x) == 0:
        shape = model.outputs[0].shape[1:]
        return np.zeros((0,) + tuple(shape), dtype="float32")
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float32")


class _CodingModelMixin:
    """What sparse coding and PSD share: compiled `encode` / `infer_codes` / `reconstruct`, the objective, the
    atoms. The inference layer is `self._inference_layer_name`."""

    _inference_layer_name = "codes"

    @staticmethod
    def _check_coding_args(owner, kwargs, input_shape, num_atoms, penalty, num_iterations, method, input_scale):
        """The validated constructor arguments both coding models share (the Keras keyword arguments `kwargs`
        checked too), in the same order."""
        input_shape = check_representation_args(owner, kwargs, input_shape)
        num_atoms = check_int(num_atoms, "num_atoms", owner=owner)
        penalty = check_float(penalty, "penalty", owner)
        num_iterations = check_int(num_iterations, "num_iterations", owner=owner)
        if method not in INFERENCE_METHODS:
            raise ValueError(f"{owner}: `method` must be one of {', '.join(map(repr, INFERENCE_METHODS))}, got "
                             f"{method!r}.")
        input_scale = check_float(input_scale, "input_scale", owner)
        return input_shape, num_atoms, penalty, num_iterations, method, input_scale

    @staticmethod
    def _flat_inputs(input_shape, input_scale):
        """(inputs, x): the functional input and its flattened values on the working scale (batch, D)."""
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = layers.Rescaling(input_scale, name="scale")(inputs)
        x = layers.Reshape((int(np.prod(input_shape)),), name="flatten")(x)
        return inputs, x

    def _lasso_submodel(self, method):
        """A functional model inputs -> Lasso codes from zero by `method` ("fista" or "ista") under this model's
        dictionary, with a layer of its own (so this model's graph keeps one node per layer) whose dictionary is
        copied in at each use."""
        key = f"lasso_{method}"
        if key not in self._submodels:
            source = self.get_layer(self._inference_layer_name)
            config = source.get_config()
            config.update(name="lasso_codes", method=method, return_reconstruction=False, add_penalty_loss=False)
            config.pop("dtype", None)
            inputs, x = self._flat_inputs(self.input_shape_, self.input_scale)
            codes = SparseCodingInference.from_config(config)(x)
            self._submodels[key] = keras.Model(inputs, codes)
        sub = self._submodels[key]
        sub.get_layer("lasso_codes").set_weights(self.get_layer(self._inference_layer_name).get_weights())
        return sub

    def infer_codes(self, x, batch_size=256, method=None):
        """Lasso codes of `x` (batch, *input_shape) by `num_iterations` steps from zero under the current
        dictionary: float32 numpy (batch, num_atoms). `method`: "fista" or "ista" (default: the model's)."""
        batch_size = check_int(batch_size, "batch_size")
        method = self.method if method is None else method
        if method not in INFERENCE_METHODS:
            raise ValueError(f"`method` must be one of {', '.join(map(repr, INFERENCE_METHODS))}, got {method!r}.")
        x = self.validate_inputs(x)
        return predict_numpy(self._lasso_submodel(method), x, batch_size)

    def encode(self, x, batch_size=256):
        """The output of the layer named "codes" for `x` (batch, *input_shape), compiled: float32 numpy (batch,
        num_atoms). Sparse coding: its FISTA codes; PSD: the encoder's prediction g * tanh(x W + b) alone."""
        batch_size = check_int(batch_size, "batch_size")
        x = self.validate_inputs(x)
        return predict_numpy(self._submodel(self.code_layer_name), x, batch_size)

    def reconstruct(self, x, batch_size=256):
        """The reconstruction of `x` on the working scale (`x * input_scale`), as float32 numpy (compiled)."""
        batch_size = check_int(batch_size, "batch_size")
        x = self.validate_inputs(x)
        return predict_numpy(self, x, batch_size)

    def atoms(self):
        """The unit-norm atoms as float32 numpy (num_atoms, input_dim), input_dim = prod(input_shape)."""
        return ops.convert_to_numpy(self.get_layer(self._inference_layer_name).atoms()).astype("float32")

    def filters(self):
        """The atoms as pictures: (num_atoms, s, s) for flat square patches of s * s values, (num_atoms,
        *input_shape) for image inputs."""
        return atoms_as_filters(self.atoms(), self.input_shape_)

    def objective(self, x, codes):
        """The sparse-coding objective ||x * input_scale - codes @ D||^2 + penalty * |codes|_1 of each example
        (numpy (batch,)) for codes (batch, num_atoms), e.g. from `encode` or `infer_codes`."""
        x = self.validate_inputs(x).reshape(-1, self.num_dims) * self.input_scale
        codes = np.asarray(codes, dtype="float32")
        return ops.convert_to_numpy(
            lasso_objective(ops.convert_to_tensor(x), ops.convert_to_tensor(codes), ops.convert_to_tensor(
                self.atoms()), self.penalty)
        ).astype("float64")


@keras.saving.register_keras_serializable(package="kgen")
class SparseCoding(_CodingModelMixin, RepresentationModel):
    """Sparse coding: each input is a sparse combination of `num_atoms` learned unit-norm atoms.

    Architecture: inputs (batch, *input_shape) -> `Rescaling(input_scale)` -> flattened to D values ->
    `SparseCodingInference` (the layer named "codes", which owns the dictionary D (num_atoms, D)): FISTA from zero
    codes for `num_iterations` steps on the Lasso objective

        E(x, z) = ||x - z D||^2 + penalty * |z|_1

    -> codes z (no gradient) and the reconstruction z D -> reshaped to the input shape.

    Learning is alternating minimisation through a standard `fit`: the forward pass infers the codes with the
    dictionary fixed, and the loss (the base's summed squared error per example plus the layer's penalty * |z|_1,
    so exactly the batch mean of E) gives a gradient only to the dictionary; after each optimizer step a
    `UnitNorm` constraint puts the atoms back on the unit sphere. `encode(x)` returns the FISTA codes; with enough
    iterations they are scikit-learn's `Lasso(alpha=penalty / (2 * D), fit_intercept=False)` solution for X = D^T,
    y = x (the objective above divided by 2 D).

    Args:
        input_shape: tuple, the shape of one input, e.g. (64,) for 8x8 patches or (28, 28, 1).
        num_atoms: int, the dictionary size K (the code width); K > D is an overcomplete dictionary.
        penalty: float > 0, the L1 weight of the objective.
        num_iterations: int, FISTA steps per inference.
        method: "fista" (default) or "ista".
        input_scale: float, inputs are multiplied by it before coding (1/255 for pixel levels).
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = SparseCoding(input_shape=(64,), num_atoms=256, penalty=1.0)
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("photo_patches", split="train"), epochs=5)
    >>> codes = model.encode(patches)                        # (n, 256), mostly zeros
    >>> kgen.plotting.tile_filters(model.filters(), "atoms.png")

    Reference: Olshausen & Field, 1996, "Emergence of simple-cell receptive field properties by learning a sparse
    code for natural images"; Beck & Teboulle, 2009 (FISTA).
    """

    def __init__(
        self,
        input_shape=(64,),
        num_atoms=256,
        penalty=1.0,
        num_iterations=100,
        method="fista",
        input_scale=1.0,
        **kwargs,
    ):
        input_shape, num_atoms, penalty, num_iterations, method, input_scale = self._check_coding_args(
            "SparseCoding", kwargs, input_shape, num_atoms, penalty, num_iterations, method, input_scale
        )

        # === Functional model ===
        inputs, x = self._flat_inputs(input_shape, input_scale)
        _, reconstruction = SparseCodingInference(
            num_atoms, penalty, num_iterations, method, return_reconstruction=True, name="codes", dtype="float32"
        )(x)
        outputs = layers.Reshape(input_shape, name="reconstruction", dtype="float32")(reconstruction)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config (returned by get_config) ===
        self._record_config(input_shape=input_shape, num_atoms=num_atoms, penalty=penalty,
            num_iterations=num_iterations, method=method, input_scale=input_scale)
        self._setup_representation(input_shape, input_scale, "mse")

    def _submodel(self, layer_name):
        # The "codes" layer returns (codes, reconstruction): the code is its first output.
        if layer_name not in self._submodels:
            output = self.get_layer(layer_name).output
            if isinstance(output, (list, tuple)):
                output = output[0]
            self._submodels[layer_name] = keras.Model(self.inputs, output)
        return self._submodels[layer_name]

    def infer_codes(self, x, batch_size=256, method=None):
        """The same as `encode` for the model's own method (sparse coding's codes are its inference codes);
        `method="ista"` or `"fista"` runs that method instead, from zero under the same dictionary."""
        if method is None or method == self.method:
            return self.encode(x, batch_size)
        return super().infer_codes(x, batch_size, method)
