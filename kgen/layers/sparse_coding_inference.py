"""Sparse code inference by ISTA / FISTA: the layer that owns a dictionary of unit-norm atoms and finds the codes."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.validation import check_bool, check_float, check_int

INFERENCE_METHODS = ("fista", "ista")


def _unit_rows(w, eps=1e-12):
    """Each row of `w` divided by its Euclidean norm."""
    return w / ops.sqrt(ops.maximum(ops.sum(ops.square(w), axis=-1, keepdims=True), eps))


def lasso_objective(x, codes, dictionary, penalty):
    """The sparse-coding objective of each example, ``||x - codes @ D||^2 + penalty * |codes|_1`` (batch,).

    The convention of kgen's sparse coding: the summed squared error (no 1/2) plus `penalty` times the L1 norm.
    It equals scikit-learn's ``Lasso(alpha=penalty / (2 * input_dim), fit_intercept=False)`` objective (which is
    ``(1 / (2 n)) ||y - X w||^2 + alpha ||w||_1`` with ``n = input_dim``, ``X = D.T``) times ``2 * input_dim``, so
    both have the same minimiser.
    """
    x, codes, dictionary = (ops.convert_to_tensor(t, dtype="float32") for t in (x, codes, dictionary))
    residual = x - ops.matmul(codes, dictionary)
    return ops.sum(ops.square(residual), axis=-1) + penalty * ops.sum(ops.abs(codes), axis=-1)


@keras.saving.register_keras_serializable(package="kgen")
class SparseCodingInference(ArgumentConfig, keras.layers.Layer):
    """Sparse codes of the inputs under a learned dictionary of unit-norm atoms, found by ISTA or FISTA.

    The layer owns the dictionary D, `num_atoms` atoms (rows) of the input width, each of unit Euclidean norm (the
    rows are normalised in `call` and a `keras.constraints.UnitNorm` keeps the stored weight on the unit sphere
    after every optimizer step). For each input x it runs `num_iterations` proximal-gradient steps from zero codes
    on the Lasso objective

        E(z) = ||x - z D||^2 + penalty * |z|_1

    with step 1/L, L = 2 * (largest eigenvalue of D D^T) computed exactly with `ops.eigh` (of the smaller of the
    two Gram matrices), and soft-thresholding at penalty / L. FISTA adds Nesterov momentum (O(1/k^2) instead of
    O(1/k)). The minimiser is that of scikit-learn's `Lasso(alpha=penalty / (2 * input_dim),
    fit_intercept=False)` fitted on X = D^T, y = x.

    The codes leave the layer through `stop_gradient`: inference is not differentiated through. The reconstruction
    `codes @ D` (returned with `return_reconstruction=True`) carries the gradient to the dictionary, so a model whose
    loss is the reconstruction error plus the layer's losses learns by alternating minimisation: infer the codes,
    then take a gradient step on the dictionary.

    Predictive sparse decomposition: called on `[x, predicted_codes]`, the inference starts from the predicted
    codes and minimises E(z) + prediction_weight * ||z - predicted_codes||^2 (Kavukcuoglu et al., 2009).

    With `add_penalty_loss=True` the layer adds to its losses, per call, the batch mean of penalty * |z|_1 (and of
    prediction_weight * ||z - predicted_codes||^2 when predicted codes are given; that term trains the encoder that
    predicts them). A model whose loss is the summed squared reconstruction error per example plus these losses
    minimises exactly the batch mean of the objective.

    Args:
        num_atoms: int, the number of atoms K (the code width).
        penalty: float > 0, the L1 weight of the objective above.
        num_iterations: int, the proximal-gradient steps per call.
        method: "fista" (default) or "ista".
        prediction_weight: float >= 0, the weight of ||z - predicted_codes||^2 when predicted codes are given.
        return_reconstruction: bool; if True the layer returns `(codes, codes @ D)`.
        add_penalty_loss: bool; if True the layer adds the penalty (and prediction) terms to its losses.
        dictionary_initializer: initializer of the atoms before normalisation (default "random_normal").
        **kwargs: `name`, `dtype`, `trainable` of `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, input_dim) signals, or a list `[signals, predicted_codes]` with predicted codes
            (batch, num_atoms).

    Returns:
        codes (batch, num_atoms), or `(codes, reconstruction)` with reconstruction (batch, input_dim).

    Example:
    >>> layer = SparseCodingInference(num_atoms=256, penalty=1.0, num_iterations=100)
    >>> codes = layer(keras.random.normal((32, 64)))        # (32, 256), mostly zeros
    >>> recon = layer.reconstruct(codes)                     # (32, 64)

    Reference: Olshausen & Field, 1996, "Emergence of simple-cell receptive field properties by learning a sparse
    code for natural images"; Beck & Teboulle, 2009, "A Fast Iterative Shrinkage-Thresholding Algorithm for Linear
    Inverse Problems" (FISTA); Kavukcuoglu, Ranzato & LeCun, 2009, "Fast Inference in Sparse Coding Algorithms with
    Applications to Object Recognition" (PSD).
    """

    def __init__(
        self,
        num_atoms,
        penalty=1.0,
        num_iterations=100,
        method="fista",
        prediction_weight=1.0,
        return_reconstruction=False,
        add_penalty_loss=True,
        dictionary_initializer="random_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "SparseCodingInference"
        self.num_atoms = check_int(num_atoms, "num_atoms", owner=owner)
        self.penalty = check_float(penalty, "penalty", owner)
        self.num_iterations = check_int(num_iterations, "num_iterations", owner=owner)
        if method not in INFERENCE_METHODS:
            raise ValueError(
                f"{owner}: `method` must be one of {', '.join(map(repr, INFERENCE_METHODS))}, got {method!r}."
            )
        self.method = method
        self.prediction_weight = check_float(prediction_weight, "prediction_weight", owner, inclusive=True)
        self.return_reconstruction = check_bool(return_reconstruction, "return_reconstruction")
        self.add_penalty_loss = check_bool(add_penalty_loss, "add_penalty_loss")
        try:
            self._base_initializer = keras.initializers.get(dictionary_initializer)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{owner}: `dictionary_initializer` must be a Keras initializer or its name, got "
                f"{dictionary_initializer!r} ({e})."
            ) from None
        # A name is kept as given (the saved config reads as written); anything else as the initializer it made.
        self.dictionary_initializer = (
            dictionary_initializer if isinstance(dictionary_initializer, str) else self._base_initializer
        )

    # ------------------------------------------------------------------------------------------------ shapes
    def _split_shapes(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            if len(input_shape) != 2:
                raise ValueError(
                    "SparseCodingInference: inputs must be signals (batch, input_dim) or a list [signals, "
                    f"predicted_codes]; got {len(input_shape)} inputs."
                )
            return tuple(input_shape[0]), tuple(input_shape[1])
        return tuple(input_shape), None

    def build(self, input_shape):
        x_shape, prior_shape = self._split_shapes(input_shape)
        if len(x_shape) != 2 or x_shape[-1] is None:
            raise ValueError(
                f"SparseCodingInference: inputs must be (batch, input_dim) with a known input_dim, got {x_shape}."
            )
        if prior_shape is not None and (len(prior_shape) != 2 or prior_shape[-1] != self.num_atoms):
            raise ValueError(
                f"SparseCodingInference: predicted codes must be (batch, {self.num_atoms}), got {prior_shape}."
            )
        self.input_dim = int(x_shape[-1])
        base = self._base_initializer

        def unit_norm_initializer(shape, dtype=None):
            return _unit_rows(base(shape, dtype=dtype))

        self.dictionary = self.add_weight(
            name="dictionary",
            shape=(self.num_atoms, self.input_dim),
            initializer=unit_norm_initializer,
            constraint=keras.constraints.UnitNorm(axis=1),
            trainable=True,
        )

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        codes = tuple(x_shape[:-1]) + (self.num_atoms,)
        if self.return_reconstruction:
            return codes, tuple(x_shape)
        return codes

    # ------------------------------------------------------------------------------------------------ inference
    def atoms(self):
        """The unit-norm dictionary as a tensor (num_atoms, input_dim)."""
        return _unit_rows(self.dictionary)

    def lipschitz_constant(self, dictionary=None):
        """L = 2 * largest eigenvalue of D D^T, the Lipschitz constant of the gradient of ||x - z D||^2 (`infer`
        adds 2 * prediction_weight when predicted codes are given)."""
        d = ops.stop_gradient(self.atoms() if dictionary is None else dictionary)
        num_atoms, input_dim = d.shape
        gram = ops.matmul(ops.transpose(d), d) if input_dim <= num_atoms else ops.matmul(d, ops.transpose(d))
        eigenvalues, _ = ops.eigh(gram)
        return 2.0 * ops.max(eigenvalues)

    def infer(self, x, predicted_codes=None, num_iterations=None):
        """Run ISTA/FISTA on `x` (batch, input_dim) and return the codes (no gradient flows through).

        Args:
            x: signals (batch, input_dim).
            predicted_codes: optional (batch, num_atoms): the start point, and the centre of the
                prediction_weight * ||z - predicted_codes||^2 term.
            num_iterations: override of the layer's `num_iterations` (a positive int).
        """
        steps = self.num_iterations if num_iterations is None else check_int(num_iterations, "num_iterations")
        x = ops.stop_gradient(ops.convert_to_tensor(x, dtype=self.compute_dtype))
        d = ops.stop_gradient(self.atoms())
        alpha = self.prediction_weight if predicted_codes is not None else 0.0
        lipschitz = self.lipschitz_constant(d) + 2.0 * alpha
        step = 1.0 / lipschitz
        threshold = self.penalty * step
        correlation = ops.matmul(x, ops.transpose(d))  # (batch, K): the gradient's constant part is -2 x D^T
        num_atoms, input_dim = d.shape
        use_gram = num_atoms <= 2 * input_dim  # z G (K^2 per example) vs (z D) D^T (2 K d per example)
        gram = ops.matmul(d, ops.transpose(d)) if use_gram else None
        if predicted_codes is not None:
            prior = ops.stop_gradient(ops.convert_to_tensor(predicted_codes, dtype=self.compute_dtype))
            start = prior
        else:
            prior = None
            start = ops.zeros_like(correlation)

        def gradient(y):
            zg = ops.matmul(y, gram) if use_gram else ops.matmul(ops.matmul(y, d), ops.transpose(d))
            g = 2.0 * (zg - correlation)
            if prior is not None and alpha > 0:
                g = g + 2.0 * alpha * (y - prior)
            return g

        def shrink(u):
            return ops.sign(u) * ops.maximum(ops.abs(u) - threshold, 0.0)

        if self.method == "ista":

            def body(i, z):
                return shrink(z - step * gradient(z))

            codes = ops.fori_loop(0, steps, body, start)
        else:

            def body(i, state):
                z, y, t = state
                z_next = shrink(y - step * gradient(y))
                t_next = 0.5 * (1.0 + ops.sqrt(1.0 + 4.0 * t * t))
                y_next = z_next + ((t - 1.0) / t_next) * (z_next - z)
                return z_next, y_next, t_next

            one = ops.ones((), dtype=self.compute_dtype)
            codes, _, _ = ops.fori_loop(0, steps, body, (start, start, one))
        return ops.stop_gradient(codes)

    def reconstruct(self, codes):
        """codes (batch, num_atoms) @ D: the signals the codes stand for (differentiable in the dictionary)."""
        return ops.matmul(codes, self.atoms())

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            x, predicted = inputs
        else:
            x, predicted = inputs, None
        codes = self.infer(x, predicted)
        if self.add_penalty_loss:
            loss = self.penalty * ops.mean(ops.sum(ops.abs(codes), axis=-1))
            if predicted is not None and self.prediction_weight > 0:
                loss = loss + self.prediction_weight * ops.mean(ops.sum(ops.square(codes - predicted), axis=-1))
            self.add_loss(loss)
        if self.return_reconstruction:
            return codes, self.reconstruct(codes)
        return codes
