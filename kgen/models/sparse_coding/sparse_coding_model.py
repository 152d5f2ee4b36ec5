"""Sparse coding: a dictionary of unit-norm atoms learned by alternating FISTA code inference and gradient steps."""

import keras
from keras import layers

from kgen.layers.sparse_coding_inference import SparseCodingInference
from kgen.models.representation_base import DictionaryCodingMixin, RepresentationModel


@keras.saving.register_keras_serializable(package="kgen")
class SparseCoding(DictionaryCodingMixin, RepresentationModel):
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
