"""The shared base of kgen's representation-learning models: reconstruction loss, `encode`, `reconstruct`, filters.

Sparse coding, the autoencoders, predictive sparse decomposition and semantic hashing all learn a code for an input
and reconstruct the input from it. They are functional subclasses of `RepresentationModel`: the graph maps inputs
(batch, *input_shape) to their reconstruction (same shape, on the model's working scale `inputs * input_scale`), and
the layer named `"codes"` outputs the representation. This base adds what they share:

- the training loss, so `compile(optimizer=...)` needs no loss: the reconstruction error per example (summed
  squared error, or Bernoulli cross-entropy for `reconstruction_loss="bce"`), averaged over the batch, plus the
  penalties the layers add with `add_loss` (sparsity, prediction error);
- the metric `reconstruction_error` (summed squared error per example on the working scale) in `fit`/`evaluate`,
  whatever the training loss, so models can be compared with each other and with PCA;
- `encode(x)` (numpy codes), `reconstruct(x)`, and `filters()` for the pictures of learned atoms and filters;
- input checks with errors that name the argument.
"""

import math

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.sparse_coding_inference import INFERENCE_METHODS, SparseCodingInference, lasso_objective

from kgen.models.kgen_model import (
    KgenModel,
    check_model_kwargs,
    concrete_array,
    dict_entry,
    first_data_inputs,
    format_result_line,
    image_inputs,
    metric_summary,
    weighted_mean_loss,
)
from kgen.validation import check_float, check_int

RECONSTRUCTION_LOSSES = ("mse", "bce")


def check_input_shape(input_shape, owner):
    """Validate an `input_shape` argument: a tuple of positive ints, e.g. (28, 28, 1) or (64,) (a string is
    refused rather than read digit by digit)."""
    shape = None
    if not isinstance(input_shape, (str, bytes)):
        try:
            shape = tuple(int(d) for d in input_shape)
        except (TypeError, ValueError):
            pass
    if not shape or min(shape) < 1:
        raise ValueError(f"{owner}: `input_shape` must be a tuple of positive ints such as (28, 28, 1), got "
                         f"{input_shape!r}.")
    return shape


def check_representation_args(owner, kwargs, input_shape):
    """The arguments every representation family checks first: the Keras keyword arguments and `input_shape`
    (see `check_input_shape`, whose result it returns)."""
    check_model_kwargs(kwargs, owner)
    return check_input_shape(input_shape, owner)


class RepresentationModel(KgenModel):
    """Base of the representation-learning models (a functional subclass: the subclass builds the graph).

    The subclass builds a graph from inputs of shape (batch, *input_shape) to their reconstruction on the working
    scale, names the code layer `"codes"`, calls `super().__init__(inputs, outputs, ...)` and then
    `self._setup_representation(...)`.
    """

    #: The name of the layer whose output is the code that `encode` returns.
    code_layer_name = "codes"

    def _setup_representation(self, input_shape, input_scale=1.0, reconstruction_loss="mse"):
        owner = type(self).__name__
        self.input_shape_ = tuple(input_shape)
        self.input_scale = check_float(input_scale, "input_scale", owner)
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"{owner}: `reconstruction_loss` must be one of {', '.join(map(repr, RECONSTRUCTION_LOSSES))}, "
                f"got {reconstruction_loss!r}."
            )
        self.reconstruction_loss = reconstruction_loss
        self.num_dims = int(np.prod(self.input_shape_))
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        # A plain dict Keras does not track: the submodels in it share this model's layers and weights.
        object.__setattr__(self, "_submodels", {})

    # ----------------------------------------------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = ops.cast(image_inputs(x), y_pred.dtype) * self.input_scale
        axes = tuple(range(1, len(self.input_shape_) + 1))
        sq = ops.sum(ops.square(y_pred - target), axis=axes)
        self.reconstruction_tracker.update_state(sq)
        if self.reconstruction_loss == "bce":
            p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
            per_example = -ops.sum(target * ops.log(p) + (1.0 - target) * ops.log(1.0 - p), axis=axes)
        else:
            per_example = sq
        return weighted_mean_loss(per_example, sample_weight, self.losses)

    # ----------------------------------------------------------------------------------------------- checks
    def validate_inputs(self, x, name="x"):
        """Return `x` as a float32 numpy array, or raise a ValueError naming `name`: shape (batch, *input_shape),
        finite numbers."""
        arr = np.asarray(x)
        if arr.ndim != len(self.input_shape_) + 1 or tuple(arr.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"`{name}` must have shape {(None,) + self.input_shape_} for this {type(self).__name__}, got "
                f"{arr.shape}."
            )
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"`{name}` must hold numbers, got dtype {arr.dtype}.")
        arr = arr.astype("float32", copy=False)  # no copy when already float32 (reconstruction_error checks twice)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must hold finite numbers; it holds NaN or infinity.")
        return arr

    def _validate_data(self, data, name):
        first = first_data_inputs(data, name, f"inputs of shape {(None,) + self.input_shape_}")
        arr = concrete_array(dict_entry(first, "images", name) if isinstance(first, dict) else first)
        if arr is not None:
            self.validate_inputs(arr, name)

    # ----------------------------------------------------------------------------------------------- inference
    def _submodel(self, layer_name):
        """A functional model from this model's inputs to the output of `layer_name` (built once, not tracked)."""
        if layer_name not in self._submodels:
            self._submodels[layer_name] = keras.Model(self.inputs, self.get_layer(layer_name).output)
        return self._submodels[layer_name]

    def _batched(self, fn, x, batch_size, name="x"):
        batch_size = check_int(batch_size, "batch_size")
        x = self.validate_inputs(x, name)
        out = [ops.convert_to_numpy(fn(ops.convert_to_tensor(x[i : i + batch_size])))
               for i in range(0, len(x), batch_size)]
        if not out:
            return np.zeros((0,), dtype="float32")
        return np.concatenate(out).astype("float32")

    def encode(self, x, batch_size=256):
        """The codes of `x` (batch, *input_shape) as a float32 numpy array (batch, code_dim)."""
        encoder = self._submodel(self.code_layer_name)
        return self._batched(lambda xb: encoder(xb, training=False), x, batch_size)

    def reconstruct(self, x, batch_size=256):
        """The reconstruction of `x` on the working scale (`x * input_scale`), as a float32 numpy array."""
        return self._batched(lambda xb: self(xb, training=False), x, batch_size)

    def reconstruction_error(self, x, batch_size=256):
        """Summed squared error of each example's reconstruction on the working scale, numpy (batch,)."""
        x = self.validate_inputs(x)
        rec = self.reconstruct(x, batch_size)
        return np.sum(np.square(rec - x * self.input_scale).reshape(len(x), -1), axis=1)

    def filters(self):
        """The learned atoms or first-layer filters as a float32 array (num_filters, *filter_shape) for pictures,
        or None where the model has none to show. Subclasses override it."""
        return None

    # ----------------------------------------------------------------------------------------------- contract
    contract_checks = ("run_serialization_test", "run_representation_test", "run_representation_training_test",
                       "run_mixed_precision_test", "run_export_after_use_test")

    def example_inputs(self, batch_size=4, seed=0):
        rng = np.random.default_rng(seed)
        return {"x": rng.uniform(0.0, 1.0, (batch_size,) + self.input_shape_).astype("float32") / self.input_scale}

    def reference_outputs(self, x):
        return self.encode(x)

    def evaluation_summary(self, result, data, dataset):
        return metric_summary(result, self.reconstruction_tracker, "reconstruction_error", "loss")

    def result_line(self, model_name, summary):
        measures = (f"reconstruction error {summary['reconstruction_error']:.4f} (summed squared error per example), "
                    f"loss {summary['loss']:.4f}")
        return format_result_line(model_name, summary, "examples", measures)

    def write_artifacts(self, run_dir, recipe, num_samples=16, seed=0):
        from pathlib import Path

        from kgen import artifacts

        path = Path(run_dir) / artifacts.FILTERS_FILE
        if num_samples and artifacts.write_filters(self, path):
            return [("filters", path)]
        return []

    def write_codes_file(self, path, recipe, split=None, progress=None):
        from pathlib import Path

        from kgen import artifacts

        if Path(path).suffix != ".npz":
            raise ValueError(f"`--out` must be an .npz file, got {str(path)!r}.")
        codes = artifacts.write_codes(self, recipe, path, split=split, progress=progress)
        return (f"wrote {codes.shape[0]} codes of {codes.shape[1]} dimensions ({recipe['data']['name']} "
                f"{split or recipe['data']['eval_split']}) to {path}")

    def export_signatures(self):
        """`serve`: `inputs` (batch, *input_shape) float32 -> `codes` (batch, code_dim) and `reconstruction` (batch,
        *input_shape) on the working scale."""
        import tensorflow as tf

        encoder = self._submodel(self.code_layer_name)

        def serve(inputs):
            codes = ops.cast(encoder(inputs, training=False), "float32")  # bfloat16 under mixed precision
            return {"codes": codes, "reconstruction": self(inputs, training=False)}

        spec = tf.TensorSpec(shape=(None,) + tuple(self.input_shape_), dtype=tf.float32, name="inputs")
        return [("serve", serve, [spec])]

    def serving_examples(self, x):
        """`serve`: the inputs `x` give this model's `encode` codes and `reconstruct` reconstruction."""
        from kgen.models.kgen_model import ServingExample

        x = np.asarray(x, "float32")
        expected = {"codes": self.encode(x), "reconstruction": self.reconstruct(x)}
        return {"serve": ServingExample.outputs({"inputs": x}, expected, rtol=1e-4)}


# ------------------------------------------------------------------------------------------- dictionary coding
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


class DictionaryCodingMixin:
    """What the dictionary-coding models (sparse coding, PSD) share: compiled `encode` / `infer_codes` / `reconstruct`, the objective, the
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
