"""Predictive sparse decomposition: sparse coding plus a feed-forward encoder trained to predict the codes."""

import keras
from keras import layers

from kgen.layers.scaled_tanh_dense import ScaledTanhDense
from kgen.layers.sparse_coding_inference import SparseCodingInference
from kgen.models.representation_base import DictionaryCodingMixin, RepresentationModel
from kgen.validation import check_float


@keras.saving.register_keras_serializable(package="kgen")
class PredictiveSparseDecomposition(DictionaryCodingMixin, RepresentationModel):
    """Predictive sparse decomposition (PSD): a sparse-coding dictionary and a fast encoder that predicts the codes.

    Training minimises, averaged over the batch, the PSD energy

        E(x, z) = ||x - z D||^2 + penalty * |z|_1 + prediction_weight * ||z - F(x)||^2,
        F(x) = g * tanh(x W + b)   (the encoder, the layer named "codes"),

    by alternating minimisation in a standard `fit`: the forward pass finds the codes z* = argmin_z E(x, z) with
    D and F fixed (FISTA started from F(x), `num_iterations` steps, layer "inference", no gradient through it);
    the loss E(x, z*) then gives gradients to the dictionary D (through the reconstruction z* D, the atoms kept
    unit-norm) and to the encoder W, b, g (through the prediction term).

    After training the encoder alone gives the codes: `encode(x)` = F(x), one matrix product and a tanh, no
    iterations. `infer_codes(x)` gives the sparse-coding codes of the same dictionary (FISTA from zero on
    ||x - z D||^2 + penalty * |z|_1, no prediction term), and `objective(x, codes)` scores either. The model's
    output (and `reconstruct`) is the reconstruction z* D from the optimal codes of the training energy.

    Args:
        input_shape: tuple, the shape of one input, e.g. (64,) for 8x8 patches.
        num_atoms: int, the dictionary size K (the code width).
        penalty: float > 0, the L1 weight.
        prediction_weight: float >= 0, the weight of the prediction term (1 in the paper).
        num_iterations: int, FISTA steps per inference.
        method: "fista" (default) or "ista".
        input_scale: float, inputs are multiplied by it first.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = PredictiveSparseDecomposition(input_shape=(64,), num_atoms=256, penalty=1.0)
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("photo_patches", split="train"), epochs=5)
    >>> fast = model.encode(patches)                          # the encoder: (n, 256)
    >>> slow = model.infer_codes(patches)                     # FISTA under the same dictionary
    >>> model.objective(patches, fast).mean(), model.objective(patches, slow).mean()

    Reference: Kavukcuoglu, Ranzato & LeCun, 2009, "Fast Inference in Sparse Coding Algorithms with Applications
    to Object Recognition" (arXiv:1010.3467).
    """

    _inference_layer_name = "inference"

    def __init__(self, input_shape=(64,), num_atoms=256, penalty=1.0, prediction_weight=1.0, num_iterations=100,
                 method="fista", input_scale=1.0, **kwargs):
        owner = "PredictiveSparseDecomposition"
        input_shape, num_atoms, penalty, num_iterations, method, input_scale = self._check_coding_args(
            owner, kwargs, input_shape, num_atoms, penalty, num_iterations, method, input_scale
        )
        prediction_weight = check_float(prediction_weight, "prediction_weight", owner, inclusive=True)

        # === Functional model ===
        inputs, x = self._flat_inputs(input_shape, input_scale)
        predicted = ScaledTanhDense(num_atoms, name="codes")(x)
        _, reconstruction = SparseCodingInference(
            num_atoms, penalty, num_iterations, method, prediction_weight=prediction_weight,
            return_reconstruction=True, name="inference", dtype="float32",  # the Lasso solve stays float32
        )([x, predicted])
        outputs = layers.Reshape(input_shape, name="reconstruction", dtype="float32")(reconstruction)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config (returned by get_config) ===
        self._record_config(input_shape=input_shape, num_atoms=num_atoms, penalty=penalty,
            prediction_weight=prediction_weight, num_iterations=num_iterations, method=method,
            input_scale=input_scale)
        self._setup_representation(input_shape, input_scale, "mse")
