"""Shared test helpers: every layer and model test in kgen goes through these.

Plain pytest classes inherit `TestCase` and call the `run_*` helpers; they raise `AssertionError` with a message that
says what broke.
"""

import functools
import inspect
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import keras
from keras import ops

from kgen.backends import BackendProcessError, BackendWorker, run_under_backend


def _positions(shape):
    """(row, col, channel) of every flat position of an (H, W, C) image, for error messages."""
    h, w, c = shape
    return [(i // (w * c), (i // c) % w, i % c) for i in range(h * w * c)]


def structural_copy(model, seed=0):
    """A copy of `model` with random weights that keep signals at a similar scale through every layer.

    Trained or freshly initialised weights can shrink a long path (through many residual branches) below float32
    resolution, which would hide a real dependency from a perturbation test. Kernels here are drawn with
    std sqrt(2 / fan_in), biases with std 0.1, so every structural path carries a visible signal.
    """
    copy = type(model).from_config(model.get_config())
    rng = np.random.default_rng(seed)
    weights = []
    for v, w in zip(model.weights, model.get_weights()):
        if w.ndim >= 2:
            fan_in = int(np.prod(w.shape[:-1]))
            weights.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape).astype(w.dtype))
        elif v.path.endswith("gamma"):  # normalization scales: around 1, or nested residual branches vanish
            weights.append(rng.normal(1.0, 0.1, size=w.shape).astype(w.dtype))
        else:
            weights.append(rng.normal(0.0, 0.1, size=w.shape).astype(w.dtype))
    copy.set_weights(weights)
    return copy


def measure_dependencies(model, num_trials=3, seed=0, tol=1e-5, structural=True):
    """Measure which input positions change which outputs, by perturbing one input position at a time.

    For each of `num_trials` random images, every flat input position (row-major over height, width, channels) is
    changed to another level and the model's parameters compared with those of the unchanged image, all in one batch.
    With `structural=True` each trial runs on a `structural_copy` of the model with fresh random weights, so the
    result is the model's wiring rather than the accident of one set of weights.

    Returns:
        bool array (D, D), D = H * W * C: [o, i] is True when changing input position i changed the parameters
        predicted for output position o in some trial.
    """
    h, w, c = model.image_shape
    levels = model.distribution.num_levels
    d = h * w * c
    rng = np.random.default_rng(seed)
    dep = np.zeros((d, d), dtype=bool)
    for trial in range(num_trials):
        net = structural_copy(model, seed=seed * 1000 + trial) if structural else model
        base = rng.integers(0, levels, size=(h, w, c)).astype("float32")
        batch = np.repeat(base[None], d + 1, axis=0).reshape(d + 1, d)
        for i in range(d):
            batch[i + 1, i] = (base.reshape(-1)[i] + rng.integers(1, levels)) % levels
        batch = batch.reshape((d + 1, h, w, c))
        inputs = ops.convert_to_tensor(batch)
        if model.conditional:  # one fixed random class per trial
            labels = np.full((d + 1,), rng.integers(0, model.num_classes), dtype="int32")
            inputs = model.model_inputs(inputs, ops.convert_to_tensor(labels))
        params = ops.convert_to_numpy(net(inputs, training=False)).astype("float64")
        params = params.reshape(d + 1, h * w, -1) if model.distribution.joint_channels else params.reshape(d + 1, d, -1)
        diff = np.abs(params[1:] - params[:1]).max(axis=-1)  # (input i, output o)
        scale = 1.0 + np.abs(params[:1]).max(axis=-1)
        changed = (diff > tol * scale).T
        if model.distribution.joint_channels:  # one parameter vector per pixel stands for all its channels
            changed = np.repeat(changed, c, axis=0)
        dep |= changed
    return dep


def conditioning(model, data):
    """The keyword arguments (`labels`, `features`) that `model.log_prob` / `model.model_inputs` need for `data`:
    the model's own example conditioning for a batch like `data` (empty for an unconditional model)."""
    return model.example_conditioning(data)


def measure_sequence_dependencies(model, length, num_trials=3, seed=0, tol=1e-5):
    """For a sequence model: bool (length, length) matrix, [t, s] True when changing token s changed the logits of
    step t in some trial (each trial a `structural_copy` with fresh random weights and random tokens)."""
    rng = np.random.default_rng(seed)
    dep = np.zeros((length, length), dtype=bool)
    for trial in range(num_trials):
        net = structural_copy(model, seed=seed * 1000 + trial)
        base = rng.integers(0, model.num_levels, size=(length,))
        batch = np.repeat(base[None], length + 1, axis=0)
        for i in range(length):
            batch[i + 1, i] = (base[i] + rng.integers(1, model.num_levels)) % model.num_levels
        kwargs = {}
        if model.conditional:
            kwargs["labels"] = ops.convert_to_tensor(np.full((length + 1,), rng.integers(0, model.num_classes), "int32"))
        if model.locally_conditioned:
            feats = rng.normal(size=(1, length // model.local_upsample, model.local_channels)).astype("float32")
            kwargs["features"] = ops.convert_to_tensor(np.repeat(feats, length + 1, axis=0))
        inputs = model.model_inputs(ops.convert_to_tensor(batch.astype("int32")), **kwargs)
        logits = ops.convert_to_numpy(net(inputs, training=False)).astype("float64")
        diff = np.abs(logits[1:] - logits[:1]).max(axis=-1)  # (input s, output t)
        scale = 1.0 + np.abs(logits[:1]).max(axis=-1)
        dep |= (diff > tol * scale).T
    return dep


def measure_video_dependencies(model, num_frames, num_trials=3, seed=0, tol=1e-5, binary=False):
    """For a video model: bool (T*H*W*C, T*H*W*C), [o, i] True when changing input sub-pixel i (frame-major, then
    raster order) changed the logit of sub-pixel o in some trial (each trial a `structural_copy` with fresh random
    weights and a random video; outputs of context frames stay False). `binary`: random 0/255 videos, each change
    to the other level (for a model that binarises its inputs, where a grey change may not cross its threshold)."""
    h, w, c = model.frame_shape
    per_frame = h * w * c
    d = num_frames * per_frame
    first = model.num_context_frames * per_frame
    rng = np.random.default_rng(seed)
    dep = np.zeros((d, d), dtype=bool)
    for trial in range(num_trials):
        net = structural_copy(model, seed=seed * 1000 + trial)
        if binary:
            base = rng.integers(0, 2, size=(d,)).astype("float32") * 255
        else:
            base = rng.integers(0, 256, size=(d,)).astype("float32")
        batch = np.repeat(base[None], d + 1, axis=0)
        for i in range(d):
            batch[i + 1, i] = 255 - base[i] if binary else (base[i] + rng.integers(64, 192)) % 256
        logits = ops.convert_to_numpy(net(ops.convert_to_tensor(batch.reshape((d + 1, num_frames, h, w, c))),
                                          training=False)).astype("float64").reshape(d + 1, -1)
        diff = np.abs(logits[1:] - logits[:1])  # (input i, predicted output o)
        changed = (diff > tol * (1.0 + np.abs(logits[:1]))).T
        dep[first:] |= changed
    return dep


def sparse_signals(n=64, dim=16, atoms=12, active=2, seed=0, noise=0.05):
    """(n, dim) float32 signals, each a sum of `active` atoms of a random unit-norm dictionary of `atoms` atoms
    (coefficients N(0, 2)), plus N(0, noise) noise: data that sparse coding models can fit in a few steps."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(atoms, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    z = np.zeros((n, atoms))
    for i in range(n):
        z[i, rng.choice(atoms, active, replace=False)] = rng.normal(0, 2.0, active)
    return (z @ d + noise * rng.normal(size=(n, dim))).astype("float32")


def format_reach(reach, pixel, height, width):
    """Render which pixels reach `pixel` (row, col) as text: X the pixel, # reaches it, o earlier but blind, . later."""
    t = pixel[0] * width + pixel[1]
    rows = []
    for r in range(height):
        line = []
        for c in range(width):
            s = r * width + c
            line.append("X" if s == t else "#" if reach[t, s] else "o" if s < t else ".")
        rows.append(" ".join(line))
    return "\n".join(rows)


def run_child_check(backend, args, what, worker=False):
    """`run_under_backend` for a check: a child that fails is an AssertionError saying `what` failed, with the end
    of its stderr. With `worker`, the job (`["-c", code, *argv]`) runs in this process's long-lived `BackendWorker`
    for `backend` (one interpreter start for every such check of a test session)."""
    try:
        if worker:
            return _worker(backend).run(args, what=what, tail_lines=40)
        return run_under_backend(backend, args, what=what, tail_lines=40)
    except BackendProcessError as e:
        raise AssertionError(str(e)) from None


_WORKERS = {}


def _worker(backend):
    """This process's `BackendWorker` for `backend`, started on first use and stopped when the process exits."""
    if backend not in _WORKERS:
        import atexit

        _WORKERS[backend] = BackendWorker(backend)
        atexit.register(_WORKERS[backend].close)
    return _WORKERS[backend]


#: The child process of `run_export_test`: (when given a .keras file, argv[4], first export it to argv[1] as
#: `export_for_serving` does under JAX and torch) load the SavedModel (argv[1]) with tf.saved_model.load, write its
#: signature names, then call each planned signature with the inputs of its .npz file and save the outputs.
_SERVE_CHILD = """\
import json, sys, numpy as np, tensorflow as tf
path, td, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if len(sys.argv) > 4:
    from kgen.export import export_keras_file
    export_keras_file(sys.argv[4], path)
m = tf.saved_model.load(path)
with open(f"{td}/served_signatures.json", "w") as f:
    json.dump(sorted(m.signatures.keys()), f)
missing = sorted({name for name, _ in plan} - set(m.signatures.keys()))
if missing:
    sys.exit(f"the SavedModel has no signature(s) {missing}; it has {sorted(m.signatures.keys())}")
for j, (name, inputs) in enumerate(plan):
    kwargs = {k: tf.constant(v) for k, v in np.load(inputs).items()}
    out = m.signatures[name](**kwargs)
    np.savez(f"{td}/served_{j}.npz", **{k: v.numpy() for k, v in out.items()})
"""


def _in_scratch_dir(check):
    """A check that writes files into its `tmp_dir`: given none, it works in a new temporary folder that is removed
    when it returns (so a test suite leaves no .keras files or SavedModels behind); a folder the caller gives is used
    and left as it is."""
    signature = inspect.signature(check)

    @functools.wraps(check)
    def run(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        if bound.arguments.get("tmp_dir"):
            return check(*args, **kwargs)
        with tempfile.TemporaryDirectory(prefix="kgen-check-") as folder:
            bound.arguments["tmp_dir"] = folder
            return check(*bound.args, **bound.kwargs)

    return run


class TestCase:
    """Base class for kgen tests (pytest collects subclasses named Test*)."""

    #: While `run_contract_checks` runs: {id(model): names of the checks that have run on it so far}.
    _checks_run = None

    def run_contract_checks(self, model):
        """Every check the model names in its `contract_checks`, each called as `check(model)`, in that order (a
        later check may rely on what an earlier one did to the same model: `run_export_after_use_test` samples
        only if no sampling check has run yet)."""
        self._checks_run = {id(model): []}
        try:
            for name in model.contract_checks:
                getattr(self, name)(model)
                self._checks_run[id(model)].append(name)
        finally:
            self._checks_run = {}

    # ------------------------------------------------------------------------------------------ layers
    def run_layer_test(self, layer_cls, init_kwargs, input_data, expected_output_shape, run_training_check=True):
        """Build, call, check shapes, serialize, and (optionally) train one step with the layer inside a model."""
        layer = layer_cls(**init_kwargs)
        output = layer(input_data)
        assert tuple(output.shape) == tuple(expected_output_shape), (
            f"{layer_cls.__name__}: output shape {tuple(output.shape)} != expected {tuple(expected_output_shape)}"
        )
        computed = layer.compute_output_shape(tuple(input_data.shape))
        assert tuple(computed) == tuple(expected_output_shape), (
            f"{layer_cls.__name__}.compute_output_shape gave {tuple(computed)}, expected {tuple(expected_output_shape)}"
        )
        self.run_serialization_test(layer)
        revived = layer_cls.from_config(layer.get_config())
        revived(input_data)
        revived.set_weights(layer.get_weights())
        np.testing.assert_allclose(
            ops.convert_to_numpy(revived(input_data)), ops.convert_to_numpy(output), rtol=1e-5, atol=1e-5,
            err_msg=f"{layer_cls.__name__}: a layer rebuilt from its config gives different outputs",
        )
        if run_training_check:
            inputs = keras.Input(shape=tuple(input_data.shape[1:]))
            model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs))
            model.compile(optimizer="sgd", loss="mse")
            target = np.zeros(tuple(expected_output_shape), dtype="float32")
            before = [w.copy() for w in model.get_weights()]
            model.fit(ops.convert_to_numpy(input_data), target, epochs=1, batch_size=len(target), verbose=0)
            changed = any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
            assert changed, f"{layer_cls.__name__}: one training step did not change any weight"
        return layer

    def run_serialization_test(self, instance):
        """get_config/from_config and keras serialize/deserialize round trips keep the config unchanged."""
        config = instance.get_config()
        revived = type(instance).from_config(config)
        assert revived.get_config() == config, (
            f"{type(instance).__name__}: config changed in a from_config round trip:\n{config}\n!=\n{revived.get_config()}"
        )
        serialized = keras.saving.serialize_keras_object(instance)
        restored = keras.saving.deserialize_keras_object(serialized)
        assert type(restored) is type(instance), f"deserialize gave {type(restored).__name__}"
        assert restored.get_config() == config, f"{type(instance).__name__}: config changed through serialize_keras_object"
        return revived

    # ------------------------------------------------------------------------------------------ models
    @_in_scratch_dir
    def run_model_saving_test(self, model, input_data=None, tmp_dir=None, atol=1e-5):
        """`model.save` to .keras and `keras.models.load_model` with no custom_objects give the same outputs and
        the same `reference_outputs` (log-probabilities or codes); `input_data` defaults to the model's
        `example_inputs`."""
        tmp_dir = Path(tmp_dir)
        if input_data is None:
            input_data = model.example_inputs()["x"]
        path = tmp_dir / "model.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model), f"load_model gave {type(loaded).__name__}, not {type(model).__name__}"
        kwargs = conditioning(model, input_data)
        inputs = model.model_inputs(input_data, **kwargs)
        np.testing.assert_allclose(
            ops.convert_to_numpy(loaded(inputs, training=False)),
            ops.convert_to_numpy(model(inputs, training=False)),
            rtol=1e-5, atol=atol, err_msg="outputs changed through .keras save/load",
        )
        np.testing.assert_allclose(
            loaded.reference_outputs(input_data, **kwargs), model.reference_outputs(input_data, **kwargs),
            rtol=1e-5, atol=atol, err_msg="reference_outputs changed through .keras save/load",
        )
        return loaded

    @_in_scratch_dir
    def run_mixed_precision_test(self, model, dtype="mixed_bfloat16", tmp_dir=None):
        """The model rebuilt with `dtype` (a mixed-precision policy) keeps that policy on the model and its layers
        through get_config/from_config and a .keras save/load; its outputs (the likelihood heads' parameters, the
        reconstructions) are float32; and with the float32 model's weights (perturbed, so no output is trivially
        zero) its `reference_outputs` (log-probabilities or codes) stay within the model's
        `mixed_precision_tolerance` of float32's, relative to their largest magnitude (at least 1)."""
        weights = model.get_weights()
        rng = np.random.default_rng(0)
        weights = [w + 0.05 * rng.standard_normal(w.shape).astype(w.dtype) if np.issubdtype(w.dtype, np.floating) else w
                   for w in weights]
        reference = type(model).from_config({**model.get_config(), "dtype": "float32"})
        reference.set_weights(weights)
        mixed = type(model).from_config({**model.get_config(), "dtype": dtype})
        mixed.set_weights(weights)
        name = type(model).__name__
        assert mixed.dtype_policy.name == dtype and mixed.get_config()["dtype"] == dtype, (
            f"{name}: built with dtype={dtype!r}, the model has the policy {mixed.dtype_policy.name!r}")
        compute = {layer.dtype_policy.compute_dtype for layer in mixed.layers}
        assert mixed.dtype_policy.compute_dtype in compute, f"{name}: no layer computes in {dtype!r} ({compute})"
        assert all(v.dtype == "float32" for v in mixed.weights if "float" in str(v.dtype)), (
            f"{name}: mixed precision keeps float32 variables")
        x = model.example_inputs(seed=1)["x"]
        kwargs = conditioning(model, x)
        outputs = keras.tree.flatten(mixed(mixed.model_inputs(x, **kwargs), training=False))
        dtypes = {str(keras.backend.standardize_dtype(o.dtype)) for o in outputs}
        assert dtypes == {"float32"}, f"{name}: under {dtype!r} the model's outputs must be float32, got {dtypes}"
        expected = np.asarray(reference.reference_outputs(x, **kwargs), dtype="float64")
        got = np.asarray(mixed.reference_outputs(x, **kwargs), dtype="float64")
        scale = max(1.0, float(np.max(np.abs(expected))))
        error = float(np.max(np.abs(got - expected))) / scale
        assert error <= mixed.mixed_precision_tolerance, (
            f"{name}: under {dtype!r} reference_outputs moved by {error:.3g} of their scale from float32's "
            f"(tolerance {mixed.mixed_precision_tolerance})")
        revived = type(model).from_config(mixed.get_config())
        assert [layer.dtype_policy.name for layer in revived.layers] == [
            layer.dtype_policy.name for layer in mixed.layers], f"{name}: layer policies changed through from_config"
        path = Path(tmp_dir) / "mixed.keras"
        mixed.save(path)
        loaded = keras.models.load_model(path)
        assert [(layer.name, layer.dtype_policy.name) for layer in loaded.layers] == [
            (layer.name, layer.dtype_policy.name) for layer in mixed.layers], (
            f"{name}: the layers' dtype policies changed through .keras save/load")
        np.testing.assert_allclose(np.asarray(loaded.reference_outputs(x, **kwargs), dtype="float64"), got,
                                   rtol=1e-6, atol=1e-6, err_msg=f"{name}: a saved mixed model reloads differently")
        mixed.compile(optimizer=keras.optimizers.SGD(1e-3))
        history = mixed.fit(mixed.model_inputs(x, **kwargs), epochs=1, batch_size=len(x), verbose=0).history
        loss = history["loss"][-1]
        assert np.isfinite(loss), f"{name}: one training step under {dtype!r} gave the loss {loss}"
        return mixed

    def run_cross_backend_test(self, model, input_data, backends=("tensorflow", "jax", "torch"), rtol=1e-4):
        """Save under this backend, load under each other backend in a child process: same log-probabilities
        (generative models) or codes (representation models)."""
        self.run_cross_backend_suite([(model, input_data)], backends, rtol)

    def run_cross_backend_suite(self, cases, backends=("tensorflow", "jax", "torch"), rtol=1e-4):
        """`run_cross_backend_test` for many (model, input_data) pairs at once: one child process per other
        backend loads every saved model, so checking a whole family costs two interpreter starts."""
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            expected = []
            for i, (model, input_data) in enumerate(cases):
                model.save(td / f"model_{i}.keras")
                kwargs = conditioning(model, input_data)
                np.savez(td / f"x_{i}.npz", x=np.asarray(input_data), **kwargs)
                method = "reference_outputs"  # log-probabilities or codes, as the model says
                expected.append((model.name, method, model.reference_outputs(input_data, **kwargs)))
            code = (
                "import sys, numpy as np, keras, kgen.models\n"
                "td, backend = sys.argv[1], sys.argv[2]\n"
                f"for i, method in enumerate({[m for _, m, _ in expected]!r}):\n"
                "    m = keras.models.load_model(f'{td}/model_{i}.keras')\n"
                "    d = dict(np.load(f'{td}/x_{i}.npz'))\n"
                "    np.save(f'{td}/out_{i}_{backend}.npy', getattr(m, method)(d.pop('x'), **d))\n"
            )
            for backend in backends:
                if backend == keras.backend.backend():
                    continue
                run_child_check(backend, ["-c", code, td, backend], what=f"loading the saved models under {backend}")
                for i, (name, method, values) in enumerate(expected):
                    np.testing.assert_allclose(
                        np.load(td / f"out_{i}_{backend}.npy"), values, rtol=rtol, atol=1e-5,
                        err_msg=f"{name}: {method} differs after loading a {keras.backend.backend()} .keras file "
                        f"under {backend}",
                    )

    def run_causality_test(self, model, num_trials=4, max_trials=48, expected=None):
        """Check the exact dependency pattern of an autoregressive image model.

        1. No leak: changing flat position i (raster order, then R -> G -> B) never changes the prediction of any
           position at or before i.
        2. Exact reach: which earlier pixels change the prediction of each pixel equals `expected` (default
           `model.dependencies(H, W)`), so a blind spot is measured and asserted, never hidden.
        3. Within a pixel, every earlier channel reaches every later channel.

        The measurement perturbs copies of the model with fresh random weights (`structural_copy`, built from the
        model's config) and shows a dependency only where some live ReLU path carries it, so it runs `num_trials`
        trials, then more (up to `max_trials`) while expected dependencies are still unseen.

        Returns:
            (pixel_reach, dep): the measured (H*W, H*W) pixel matrix and the (D, D) position matrix.
        """
        h, w, c = model.image_shape
        if expected is None:
            expected = model.dependencies(h, w)
        expected = np.asarray(expected, dtype=bool)
        within = np.tril(np.ones((c, c), dtype=bool), k=-1)  # at one pixel: each channel sees the earlier ones
        if model.distribution.joint_channels:  # the head models a pixel's channels; the network sees none of them
            within = np.zeros((c, c), dtype=bool)

        def unseen(dep):
            blocks = dep.reshape(h * w, c, h * w, c)[np.arange(h * w), :, np.arange(h * w), :]
            return np.any(expected & ~self._pixel_matrix(dep, (h, w, c))) or np.any(within & ~blocks)

        dep = measure_dependencies(model, num_trials=num_trials, seed=0)
        trials = num_trials
        while trials < max_trials and unseen(dep):
            dep |= measure_dependencies(model, num_trials=num_trials, seed=trials)
            trials += num_trials
        leaks = np.argwhere(np.triu(dep, k=0))
        if len(leaks):
            pos = _positions((h, w, c))
            shown = ", ".join(f"output {pos[o]} <- input {pos[i]}" for o, i in leaks[:5])
            raise AssertionError(f"{type(model).__name__} is not causal: {len(leaks)} future dependencies, e.g. {shown}")
        pixel_dep = self._pixel_matrix(dep, (h, w, c))
        missing = np.argwhere(expected & ~pixel_dep)
        extra = np.argwhere(pixel_dep & ~expected)
        if len(missing) or len(extra):
            rc = lambda p: (p // w, p % w)  # noqa: E731
            raise AssertionError(
                f"{type(model).__name__}: measured pixel dependencies differ from the expected pattern: "
                f"{len(missing)} expected but unreached (e.g. {[(rc(t), rc(s)) for t, s in missing[:5]]}), "
                f"{len(extra)} reached but unexpected (e.g. {[(rc(t), rc(s)) for t, s in extra[:5]]}) "
                f"as (pixel, input pixel), after {trials} random trials"
            )
        if c > 1:
            for p in range(h * w):
                block = dep[p * c : (p + 1) * c, p * c : (p + 1) * c]
                assert np.array_equal(block, within), (
                    f"{type(model).__name__}: channel dependencies at pixel {(p // w, p % w)} are\n{block}\n"
                    f"expected each channel to see exactly the earlier ones:\n{within}"
                )
        return pixel_dep, dep

    @staticmethod
    def _pixel_matrix(dep, shape):
        h, w, c = shape
        pixel_dep = dep.reshape(h * w, c, h * w, c).any(axis=(1, 3))
        np.fill_diagonal(pixel_dep, False)
        return pixel_dep

    def run_sampling_test(self, model, num_samples=2, seed=1234):
        """Same seed, same samples (across batch sizes and every sampling method: a cached sampler must match the
        naive loop exactly); valid shape, dtype and levels; finite log_prob."""
        labels = conditioning(model, np.zeros((num_samples,) + model.image_shape)).get("labels")
        a = model.sample(num_samples, seed=seed, labels=labels)
        b = model.sample(num_samples, seed=seed, labels=labels)
        np.testing.assert_array_equal(a, b, err_msg="the same seed gave different samples")
        c = model.sample(num_samples, seed=seed, batch_size=1, labels=labels)
        np.testing.assert_array_equal(a, c, err_msg="samples depend on batch_size for a fixed seed")
        for method in model.sampling_methods[1:]:
            np.testing.assert_array_equal(
                model.sample(num_samples, seed=seed, labels=labels, method=method), a,
                err_msg=f"method={method!r} gave other samples than the default {model.sampling_methods[0]!r}",
            )
        assert a.shape == (num_samples,) + tuple(model.image_shape), f"sample shape {a.shape}"
        assert a.dtype == np.uint8, f"sample dtype {a.dtype}"
        assert a.min() >= 0 and a.max() < model.distribution.num_levels
        other = model.sample(num_samples, seed=seed + 1, labels=labels)
        assert not np.array_equal(a, other), "different seeds gave identical samples"
        assert np.all(np.isfinite(model.log_prob(a, labels=labels)))
        return a

    # ------------------------------------------------------------------------------------------ video models
    def run_video_causality_test(self, model, num_frames=None, num_trials=3, max_trials=24, binary=None):
        """Exact causality of a video model over (frame, row, column), by perturbation: no logit depends on its own
        pixel, a later pixel of its frame or any later frame, and the measured dependencies equal
        `model.dependencies(T)` (every pixel of every earlier frame; the earlier pixels of its own frame as the
        model says, a blind spot included). `num_frames` defaults to `num_context_frames + 2`; `binary`: perturb
        0/255 videos (`measure_video_dependencies`); default: where the model says it binarises its inputs
        (`binarizes_inputs`)."""
        binary = model.binarizes_inputs if binary is None else binary
        num_frames = model.num_context_frames + 2 if num_frames is None else num_frames
        h, w, c = model.frame_shape
        expected = np.asarray(model.dependencies(num_frames), dtype=bool)
        expected = np.repeat(np.repeat(expected, c, axis=0), c, axis=1)  # grey frames: c == 1
        dep = measure_video_dependencies(model, num_frames, num_trials=num_trials, binary=binary)
        trials = num_trials
        while trials < max_trials and np.any(expected & ~dep):
            dep |= measure_video_dependencies(model, num_frames, num_trials=num_trials, seed=trials, binary=binary)
            trials += num_trials
        where = lambda i: (i // (h * w * c), (i // (w * c)) % h, (i // c) % w)  # noqa: E731  (frame, row, col)
        leaks = np.argwhere(np.triu(dep, k=0))
        if len(leaks):
            shown = ", ".join(f"output {where(o)} <- input {where(i)}" for o, i in leaks[:5])
            raise AssertionError(f"{type(model).__name__} is not causal: {len(leaks)} future dependencies, e.g. {shown}")
        missing, extra = np.argwhere(expected & ~dep), np.argwhere(dep & ~expected)
        if len(missing) or len(extra):
            raise AssertionError(
                f"{type(model).__name__}: measured dependencies differ from model.dependencies: {len(missing)} "
                f"expected but unreached (e.g. {[(where(o), where(i)) for o, i in missing[:5]]}), {len(extra)} "
                f"reached but unexpected (e.g. {[(where(o), where(i)) for o, i in extra[:5]]}) as (output, input) "
                f"(frame, row, col), after {trials} random trials"
            )
        return dep

    def run_video_sampling_test(self, model, num_videos=2, num_frames=2, seed=1234):
        """Same seed, same frames (whatever the batch size, and for every sampling method: cached == naive); frames
        of shape (N, num_frames, H, W, C), uint8 0 or 255, depending on the seed; the context continues into a video
        with a finite log_prob."""
        context = model.example_inputs(batch_size=num_videos, seed=3)["x"][:, : model.num_context_frames]
        a = model.sample(context, num_frames, seed=seed)
        np.testing.assert_array_equal(a, model.sample(context, num_frames, seed=seed),
                                      err_msg="the same seed gave different frames")
        np.testing.assert_array_equal(a, model.sample(context, num_frames, seed=seed, batch_size=1),
                                      err_msg="frames depend on batch_size for a fixed seed")
        for method in model.sampling_methods[1:]:
            np.testing.assert_array_equal(
                model.sample(context, num_frames, seed=seed, method=method), a,
                err_msg=f"method={method!r} gave other frames than the default {model.sampling_methods[0]!r}",
            )
        assert a.shape == (num_videos, num_frames) + tuple(model.frame_shape) and a.dtype == np.uint8, a.shape
        assert set(np.unique(a)) <= {0, 255}, f"sampled levels {np.unique(a)}"
        assert not np.array_equal(a, model.sample(context, num_frames, seed=seed + 1)), "seeds gave the same frames"
        assert np.all(np.isfinite(model.log_prob(np.concatenate([context, a.astype("float32")], axis=1))))
        return a

    # ------------------------------------------------------------------------------------------ sequence models
    def run_sequence_causality_test(self, model, length=None, num_trials=3, max_trials=30):
        """A sequence model's logits at step t depend on exactly the tokens t - receptive_field .. t - 1: no leak from
        t or later, and every token within the receptive field reaches t (measured by perturbing one token at a
        time on copies with fresh random weights).

        Returns the measured (length, length) dependency matrix.
        """
        rf = model.receptive_field
        length = length or (rf + 4 if math.isfinite(rf) else 12)  # unbounded (an RNN): rf = math.inf
        if model.locally_conditioned:
            length += (-length) % model.local_upsample
        t, s = np.meshgrid(np.arange(length), np.arange(length), indexing="ij")
        expected = (t - s >= 1) & (t - s <= rf)
        dep = measure_sequence_dependencies(model, length, num_trials=num_trials, seed=0)
        trials = num_trials
        while trials < max_trials and np.any(expected & ~dep):
            dep |= measure_sequence_dependencies(model, length, num_trials=num_trials, seed=trials)
            trials += num_trials
        leaks = np.argwhere(dep & (t <= s))
        assert not len(leaks), (
            f"{type(model).__name__} is not causal: {len(leaks)} dependencies on the current or a later token, e.g. "
            f"{[(int(a), int(b)) for a, b in leaks[:5]]} as (step, token)"
        )
        missing, extra = np.argwhere(expected & ~dep), np.argwhere(dep & ~expected)
        assert not len(missing) and not len(extra), (
            f"{type(model).__name__}: measured dependencies differ from a receptive field of {rf}: "
            f"{len(missing)} unreached (e.g. {[(int(a), int(b)) for a, b in missing[:5]]}), {len(extra)} beyond it "
            f"(e.g. {[(int(a), int(b)) for a, b in extra[:5]]}) as (step, token), after {trials} trials"
        )
        return dep

    def run_sequence_step_test(self, model, tokens, rtol=1e-5, atol=1e-5):
        """An unconditional sequence model's one-step computation (`init_cache`, then `call_with_cache` with the
        token before each step) gives the logits of the whole network at every step of `tokens` (batch, time)."""
        full = ops.convert_to_numpy(model(tokens))
        cache = model.init_cache(tokens.shape[0])
        for t in range(tokens.shape[1]):
            previous = ops.convert_to_tensor(tokens[:, max(t - 1, 0)])
            logits, cache = model.call_with_cache(previous, cache, t)
            np.testing.assert_allclose(ops.convert_to_numpy(logits), full[:, t], rtol=rtol, atol=atol,
                                       err_msg=f"{type(model).__name__}: step {t}'s logits differ from the network's")

    def run_sequence_sampling_test(self, model, num_samples=2, length=12, seed=1234, sampler="random", guidance=None):
        """Same seed, same tokens, for every sampling method (the cached generator must match the naive loop exactly);
        a prompt is kept and continued; valid tokens; finite log_prob; another seed gives other tokens. With
        `guidance`, all of it for classifier-free guided sampling."""
        kwargs = conditioning(model, np.zeros((num_samples, length), "int32"))
        log_prob_kwargs = dict(kwargs)
        if guidance is not None:
            kwargs["guidance"] = guidance
        a = model.sample(num_samples, length, seed=seed, sampler=sampler, **kwargs)
        b = model.sample(num_samples, length, seed=seed, sampler=sampler, **kwargs)
        np.testing.assert_array_equal(a, b, err_msg="the same seed gave different tokens")
        for method in model.sampling_methods[1:]:
            np.testing.assert_array_equal(
                model.sample(num_samples, length, seed=seed, sampler=sampler, method=method, **kwargs), a,
                err_msg=f"method={method!r} gave other tokens than the default {model.sampling_methods[0]!r}",
            )
        assert a.shape == (num_samples, length) and a.dtype == np.int32, (a.shape, a.dtype)
        assert a.min() >= 0 and a.max() < model.num_levels
        prompt = a[:, : length // 2]
        for method in model.sampling_methods:
            cont = model.sample(num_samples, length, seed=seed + 7, prompt=prompt, method=method, sampler=sampler, **kwargs)
            np.testing.assert_array_equal(cont[:, : length // 2], prompt, err_msg=f"{method}: the prompt was not kept")
            if method == model.sampling_methods[0]:
                first = cont
            else:
                np.testing.assert_array_equal(cont, first, err_msg=f"{method}: continuations differ between methods")
        if sampler == "random":
            other = model.sample(num_samples, length, seed=seed + 1, sampler=sampler, **kwargs)
            assert not np.array_equal(a, other), "different seeds gave identical tokens"
        assert np.all(np.isfinite(model.log_prob(a, **log_prob_kwargs)))
        return a

    def run_guided_sampling_test(self, model, guidance=3.0, num_samples=3, length=10):
        """Classifier-free guidance (`sample(..., guidance=w)`) for a class-conditional model with a `null_label`:
        greedy guided tokens are, at every step, the argmax of u + w (c - u), with c and u the logits of the whole
        network run on the generated sequence with its labels and with the null label; and the guided sampling
        contract of `run_sequence_sampling_test` (same seed, same tokens, every method, prompts). Gives the model
        seeded random weights first (`random_weights`), so that the class moves the logits enough to change steps."""
        from kgen.testing.fixtures import random_weights

        random_weights(model, seed=0)
        given = conditioning(model, np.zeros((num_samples, length), "int32"))  # labels 0, 1, 2, ... (and features)
        labels, features = given["labels"], given.get("features")
        tokens = model.sample(num_samples, length, seed=0, sampler="greedy", guidance=guidance, **given)
        null = np.full_like(labels, model.null_label)

        def logits(lab):
            inputs = model.model_inputs(ops.convert_to_tensor(tokens), ops.convert_to_tensor(lab),
                                        None if features is None else ops.convert_to_tensor(features))
            return ops.convert_to_numpy(ops.cast(model(inputs, training=False), "float32")).astype("float64")

        c, u = logits(labels), logits(null)
        expected = np.argmax(u + guidance * (c - u), axis=-1)
        np.testing.assert_array_equal(tokens, expected, err_msg="guided greedy tokens are not argmax(u + w (c - u))")
        plain = np.argmax(c, axis=-1)
        assert not np.array_equal(expected, plain), "guidance changed no step: the test cannot tell it apart"
        self.run_sequence_sampling_test(model, num_samples=num_samples, length=length, guidance=guidance)

    # ------------------------------------------------------------------------------------------ representation models
    def run_representation_test(self, model, input_data=None, tmp_dir=None):
        """A `RepresentationModel`'s contract: `encode` gives finite float32 codes (batch, code_dim), the same on a
        second call; `reconstruct` keeps the input shape; one `fit` step changes weights and reports a finite
        `reconstruction_error` equal to the mean of `model.reconstruction_error`; .keras save/load keeps the codes;
        and inputs of the wrong shape or with NaN get a ValueError naming `x`. `input_data` defaults to the model's
        `example_inputs`."""
        x = np.asarray(model.example_inputs()["x"] if input_data is None else input_data, dtype="float32")
        codes = model.encode(x)
        assert codes.dtype == np.float32 and codes.ndim == 2 and len(codes) == len(x), (
            f"encode gave {codes.dtype} {codes.shape}, expected float32 ({len(x)}, code_dim)"
        )
        assert np.all(np.isfinite(codes)), "encode gave non-finite codes"
        np.testing.assert_array_equal(model.encode(x), codes, err_msg="encode is not deterministic at inference")
        rec = model.reconstruct(x)
        assert rec.shape == x.shape, f"reconstruct gave {rec.shape}, expected {x.shape}"
        errors = model.reconstruction_error(x)
        result = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True) if model.compiled else None
        if result is not None:
            np.testing.assert_allclose(result["reconstruction_error"], errors.mean(), rtol=1e-4, atol=1e-5)
        loaded = self.run_model_saving_test(model, x, tmp_dir)
        np.testing.assert_allclose(loaded.encode(x), codes, rtol=1e-5, atol=1e-5,
                                   err_msg="codes changed through .keras save/load")
        for bad, what in ((x[:, None], "shape"), (np.full_like(x, np.nan), "NaN")):
            try:
                model.encode(bad)
            except ValueError as e:
                assert "`x`" in str(e), f"the error for bad {what} does not name `x`: {e}"
            else:
                raise AssertionError(f"encode accepted inputs with a bad {what}")
        return codes

    def run_representation_training_test(self, model, input_data=None, steps=2):
        """`compile(optimizer=...)` without a loss and `fit` train the model: weights change and the loss and
        `reconstruction_error` are finite."""
        x = np.asarray(model.example_inputs()["x"] if input_data is None else input_data, dtype="float32")
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = [w.copy() for w in model.get_weights()]
        history = model.fit(x, epochs=steps, batch_size=len(x), verbose=0)
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())), "fit changed no weight"
        for key in ("loss", "reconstruction_error"):
            assert key in history.history, f"fit reported no {key!r}: {sorted(history.history)}"
            assert np.all(np.isfinite(history.history[key])), f"{key} is not finite: {history.history[key]}"
        return history

    # ------------------------------------------------------------------------------------------ export
    @_in_scratch_dir
    def run_export_test(self, model, input_data=None, tmp_dir=None, atol=1e-4, one_child=True):
        """`export_for_serving` writes a SavedModel that, loaded with `tf.saved_model.load` in a child process under
        the TensorFlow backend, has exactly the signatures of `model.serving_examples(input_data, ...)` and answers
        each as the model says: a deterministic signature (`serve`) gives the outputs the model computes itself
        (log_prob, or codes and reconstruction) within `atol`; a seeded sampler (`sample`) gives identical outputs
        for the same seed, other outputs for another seed, and outputs the model's own check accepts (shape,
        range, finite log_prob). `input_data` defaults to the model's `example_inputs`; its conditioning is the
        model's `example_conditioning`.

        Under JAX and torch `export_for_serving` saves a .keras file and exports it in a TensorFlow child process;
        with `one_child` (the default) the check saves the .keras file itself and its child exports it
        (`kgen.export.export_keras_file`, what that child runs) in the worker before serving it: no TensorFlow start
        per check. `one_child=False` calls `export_for_serving` itself (tests/test_serving.py does, once per backend).

        Returns the SavedModel's folder inside `tmp_dir` (none: a temporary folder, removed when the check returns)."""
        from kgen.export import export_for_serving

        tmp_dir = Path(tmp_dir)
        if input_data is None:
            input_data = model.example_inputs()["x"]
        path = tmp_dir / "serving" / "1"
        export_in_child = []
        if one_child and keras.backend.backend() != "tensorflow":
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(tmp_dir / "exported.keras")
            export_in_child = [tmp_dir / "exported.keras"]
        else:
            export_for_serving(model, path)
        examples = model.serving_examples(input_data, **conditioning(model, input_data))
        plan, calls = [], {}  # (signature, inputs file) per call; the call indices of each signature
        for i, (name, example) in enumerate(examples.items()):
            runs = [example.inputs]
            if example.is_sampler:  # twice with the seed, once with another
                runs += [example.inputs, {**example.inputs, example.seed: example.other_seed}]
            calls[name] = []
            for k, inputs in enumerate(runs):
                np.savez(tmp_dir / f"serving_in_{i}_{k}.npz", **inputs)
                calls[name].append(len(plan))
                plan.append((name, str(tmp_dir / f"serving_in_{i}_{k}.npz")))
        # Another process, so the check does not depend on which backend (or import order) this test runs under.
        run_child_check("tensorflow", ["-c", _SERVE_CHILD, path, tmp_dir, json.dumps(plan)] + export_in_child,
                        worker=True, what=("exporting the .keras file and " if export_in_child else "") +
                        "loading and calling the SavedModel with tf.saved_model.load")
        # Keras also registers its first endpoint as "serving_default" (TF Serving's default): an alias, not checked.
        served_names = [n for n in json.loads((tmp_dir / "served_signatures.json").read_text())
                        if n != "serving_default"]
        assert sorted(examples) == served_names, (
            f"{type(model).__name__}: the SavedModel has signatures {served_names}, but serving_examples checks "
            f"{sorted(examples)}"
        )
        for name, example in examples.items():
            served = [dict(np.load(tmp_dir / f"served_{j}.npz")) for j in calls[name]]
            if not example.is_sampler:
                for key, expected in example.expected.items():
                    assert key in served[0], f"the `{name}` signature has no output {key!r}: {sorted(served[0])}"
                    np.testing.assert_allclose(
                        served[0][key], expected, rtol=example.rtol, atol=atol,
                        err_msg=f"the `{name}` signature's {key!r} differs from the model's own",
                    )
                continue
            a, b, c = served
            try:
                example.check(a)
            except ValueError as e:
                raise AssertionError(f"the `{name}` signature gave invalid samples: {e}") from None
            assert sorted(a) == sorted(b), f"the `{name}` signature's outputs changed between calls"
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"the `{name}` signature is not seeded")
            assert any(not np.array_equal(a[key], c[key]) for key in a), (
                f"different seeds gave the same exported samples (`{name}` signature)"
            )
        return path

    @_in_scratch_dir
    def run_export_after_use_test(self, model, tmp_dir=None):
        """A model that has been used exports, saves and samples in any order: it samples (through the sampling
        checks its `contract_checks` name, unless `run_contract_checks` already ran them on this model), trains
        one step, evaluates, then is exported for serving (every signature checked as in `run_export_test`), saved
        to .keras and reloaded (`run_model_saving_test`), and samples again. What generation, `fit` and `evaluate`
        leave on the model (compiled loops, optimizer state, compiled train and test functions) must never reach
        the SavedModel or the .keras file."""
        tmp_dir = Path(tmp_dir)
        x = model.example_inputs(seed=3)["x"]
        inputs = model.model_inputs(x, **conditioning(model, x))
        sampling = [name for name in model.contract_checks if name.endswith("_sampling_test")]
        for name in sampling:
            if name not in (self._checks_run or {}).get(id(model), ()):
                getattr(self, name)(model)
        if not model.compiled:
            model.compile(optimizer=keras.optimizers.SGD(1e-3))
        history = model.fit(inputs, epochs=1, batch_size=len(x), verbose=0).history
        assert np.isfinite(history["loss"][-1]), f"{type(model).__name__}: fit gave the loss {history['loss'][-1]}"
        model.evaluate(inputs, batch_size=len(x), verbose=0)
        self.run_export_test(model, x, tmp_dir / "export")
        (tmp_dir / "saved").mkdir(parents=True, exist_ok=True)
        self.run_model_saving_test(model, x, tmp_dir / "saved")
        for name in sampling:
            getattr(self, name)(model)

    # ------------------------------------------------------------------------------------------ family checks
    def run_bad_argument_test(self, build, kwargs, match):
        """`build(**kwargs)` raises a ValueError whose message matches `match` (see `fixtures.bad_arguments`)."""
        import pytest

        with pytest.raises(ValueError, match=match):
            build(**kwargs)

    def run_round_trip_test(self, model, input_data, tmp_dir):
        """Config round trip, .keras save/load and export for serving (every signature the model's
        `serving_examples` name). Loading under the other backends is `run_cross_backend_suite`, which checks many
        models for two child processes (tests/test_zoo.py gathers every architecture and the families' variants)."""
        tmp_dir = Path(tmp_dir)
        self.run_serialization_test(model)
        self.run_model_saving_test(model, input_data, tmp_dir)
        self.run_export_test(model, input_data, tmp_dir / "export")

    def run_weighted_fit_test(self, model, learning_rate, num_sequences=256, epochs=10, batch_size=32):
        """A sequence model learns ramp sequences (`fixtures.ramp_tokens`) with the last 4 positions weighted 0:
        `nats_per_token` halves, `bits_per_token` is it in bits, and it is the weighted mean of `log_prob`."""
        from kgen.testing.fixtures import ramp_tokens

        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        x = ramp_tokens(num_sequences)
        w = np.ones_like(x, dtype="float32")
        w[:, -4:] = 0.0
        before = model.evaluate(x, x, sample_weight=w, verbose=0, return_dict=True)
        model.fit(x, x, sample_weight=w, epochs=epochs, batch_size=batch_size, verbose=0)
        after = model.evaluate(x, x, sample_weight=w, verbose=0, return_dict=True)
        assert after["nats_per_token"] < 0.5 * before["nats_per_token"], (before, after)
        np.testing.assert_allclose(after["bits_per_token"], after["nats_per_token"] / np.log(2), rtol=1e-5)
        # the loss is the weighted mean: positions with weight 0 do not count
        lp = model.log_prob(x, weights=w)
        np.testing.assert_allclose(-lp.sum() / w.sum(), after["nats_per_token"], rtol=1e-3)
        return before, after

    def run_log_prob_evaluate_test(self, model, input_data, batch_size=8):
        """An image model's `evaluate` reports `nats` = -mean `log_prob` = the loss and `bits_per_dim` in bits per
        sub-pixel."""
        model.compile(optimizer="adam")
        result = model.evaluate(input_data, batch_size=batch_size, verbose=0, return_dict=True)
        lp = model.log_prob(input_data)
        assert lp.shape == (len(input_data),)
        np.testing.assert_allclose(result["nats"], -lp.mean(), rtol=1e-5)
        dims = np.prod(np.shape(input_data)[1:])
        np.testing.assert_allclose(result["bits_per_dim"], -lp.mean() / (dims * np.log(2)), rtol=1e-5)
        np.testing.assert_allclose(result["loss"], result["nats"], rtol=1e-5)
        return result

    def run_stripes_learning_test(self, model, epochs):
        """An 8x8 binary image model learns `fixtures.striped_images`: the NLL falls from chance (44 nats) to
        below 10 nats."""
        from kgen.testing.fixtures import striped_images

        x = striped_images()
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = -model.log_prob(x).mean()
        model.fit(x, epochs=epochs, batch_size=32, verbose=0)
        after = -model.log_prob(x).mean()
        assert before > 30 and after < 10, (before, after)

    def run_bad_images_test(self, model, x, match):
        """`log_prob`, `fit` and `evaluate` refuse the bad images `x` with a ValueError matching `match`, and no
        weight changed before the error."""
        import pytest

        model.compile(optimizer="adam")
        weights = [w.copy() for w in model.get_weights()]
        with pytest.raises(ValueError, match=match):
            model.log_prob(x)
        with pytest.raises(ValueError, match=match):
            model.fit(x, epochs=1, verbose=0)
        with pytest.raises(ValueError, match=match):
            model.evaluate(x, verbose=0)
        assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights())), "weights changed"

    def run_representation_contract_test(self, build, input_data, tmp_dir):
        """The representation contract (`run_representation_test`, compiled) and a config round trip of
        `build()`, then `run_representation_training_test` of a fresh `build()`."""
        model = build()
        model.compile(optimizer="adam")
        self.run_serialization_test(model)
        self.run_representation_test(model, input_data, tmp_dir)
        self.run_representation_training_test(build(), input_data)
