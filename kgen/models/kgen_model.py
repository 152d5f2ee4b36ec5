"""The root of every kgen zoo model: the contract that training, the CLI, export and the test walker call.

Every zoo model is a functional subclass of `KgenModel` (through one of the thin kind bases: images, sequences,
representations). The modules around a model never ask what kind it is; they call the contract:

- inputs: `example_inputs(batch_size, seed)` (a small valid batch for tests and export checks), `model_inputs(x,
  **conditioning)` (what the functional graph takes) and `reference_outputs(x, **conditioning)` (the per-example
  numbers that identify the model's function: log-probabilities or codes);
- evaluation: `evaluation_summary(result, data, dataset)` (the metrics of a `evaluate` run, as saved in eval.json)
  and `result_line(model_name, summary)` (the one printed line);
- artifacts: `write_artifacts(run_dir, recipe, num_samples, seed)` (what a trained run writes: a sample grid, WAV
  files, text, filter pictures), `write_sample_file(path, **options)` (`kgen sample`), `write_completions_file(...)`
  (`kgen complete`) and `write_codes_file(...)` (`kgen encode`); a model that cannot do one raises a ValueError
  saying so, before any work starts;
- export: `export_signatures()`, the SavedModel endpoints as (name, function, input signature), and
  `serving_examples(x, **conditioning)`, how to check each of them (a `ServingExample` per signature: the inputs to
  call it with and the outputs the model computes itself, or a seeded sampler's output check);
- tests: `contract_checks`, the `kgen.testing.TestCase` checks that apply to the model (the test walker runs them).

It also holds the small pieces every model shares: input checks, the fit/evaluate data checks, the loss helper and
`get_config` from the constructor arguments recorded with `_record_config`.
"""

import contextlib
import functools
import inspect

import numpy as np
import keras
from keras import ops

from kgen.validation import check_int


def check_labels(labels, num, num_classes, owner, name="labels"):
    """Return `labels` as an int32 array of shape (num,), or raise a ValueError naming `name`.

    A conditional model (`num_classes` not None) needs one class label in 0..num_classes-1 per example (a single
    int is repeated); an unconditional model takes none.
    """
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"`{name}` given, but this {owner} is unconditional (built without `num_classes`).")
        return None
    if labels is None:
        raise ValueError(f"`{name}` is required: this {owner} is conditioned on {num_classes} classes.")
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full((num,), arr)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or arr.ndim != 1 or len(arr) != num:
        raise ValueError(f"`{name}` must be {num} integer class labels (shape ({num},)), got {np.shape(labels)}.")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(arr == np.round(arr)):
        raise ValueError(f"`{name}` must hold integer class labels, got non-integer values.")
    if arr.min() < 0 or arr.max() >= num_classes:
        raise ValueError(
            f"`{name}` must hold class labels in 0..{num_classes - 1}; got values in [{arr.min()}, {arr.max()}]."
        )
    return arr.astype("int32")


def first_inputs(data, name):
    """The model inputs of `data` to check before training: numpy arrays as given, or the first batch of a
    tf.data.Dataset as numpy; the `x` of an (x, y[, sample_weight]) tuple."""
    first = data
    try:
        import tensorflow as tf

        if isinstance(data, tf.data.Dataset):
            first = next(iter(data.take(1)), None)
            if first is None:
                raise ValueError(f"`{name}` is an empty dataset.")
            first = tf.nest.map_structure(lambda t: t.numpy(), first)
    except ImportError:  # pragma: no cover - tensorflow is a dependency
        pass
    if isinstance(first, tuple) and len(first) >= 1:
        first = first[0]
    return first


def weighted_mean_loss(per_example, sample_weight, extra_losses=()):
    """The loss `fit` minimises: the mean of `per_example` (any shape) weighted by `sample_weight` (same number of
    values, or None for equal weights), plus the sum of `extra_losses` (the layers' `add_loss` terms)."""
    per_example = ops.cast(per_example, "float32")  # the loss is float32 under mixed precision too
    if sample_weight is not None:
        weights = ops.reshape(ops.cast(sample_weight, per_example.dtype), ops.shape(per_example))
        loss = ops.sum(per_example * weights) / ops.maximum(ops.sum(weights), 1e-12)
    else:
        loss = ops.mean(per_example)
    if extra_losses:
        loss = loss + ops.sum(ops.stack([ops.cast(extra, "float32") for extra in extra_losses]))
    from kgen.distribute import scale_loss

    return scale_loss(loss)  # divided by the replicas under tf.distribute, as Keras does for its own losses


def image_inputs(x):
    """The images of a model's inputs: `x["images"]` of a dict, the first of a tuple or list, else `x`."""
    if isinstance(x, dict):
        return x["images"]
    if isinstance(x, (list, tuple)):
        return x[0]
    return x


def _is_tf_dataset(x):
    """True for a tf.data.Dataset (Keras' own test: its class or a parent is TensorFlow's DatasetV2)."""
    return any(parent.__name__ == "DatasetV2" and parent.__module__.startswith("tensorflow.python.")
               for parent in type(x).__mro__)


def first_data_inputs(data, name, expected):
    """The first inputs of training or evaluation `data` (arrays, a dict of them, or a data set's first batch), for
    the checks that run before any work starts; a ValueError naming `name` when `data` is None (`expected` says
    what to pass)."""
    if data is None:
        raise ValueError(f"`{name}` is required: pass {expected}.")
    return first_inputs(data, name)


def dict_entry(first, key, name):
    """`first[key]` from a dict of inputs, or a ValueError naming `name` and the keys it has."""
    if key not in first:
        raise ValueError(f"`{name}` is a dict without the key {key!r}; got keys {sorted(first)}.")
    return first[key]


def concrete_array(value):
    """`value` as numpy when it holds concrete values (a tensor, numpy array or list), else None (symbolic)."""
    if hasattr(value, "numpy"):
        return ops.convert_to_numpy(value)
    return value if isinstance(value, (np.ndarray, list)) else None


def check_sampling_args(model, num_samples, batch_size, method):
    """`sample`'s shared arguments: (num_samples, batch_size (default num_samples), method (default the first of
    `model.sampling_methods`)), or a ValueError naming the bad one."""
    num_samples = check_int(num_samples, "num_samples")
    batch_size = num_samples if batch_size is None else check_int(batch_size, "batch_size")
    method = model.sampling_methods[0] if method is None else method
    if method not in model.sampling_methods:
        raise ValueError(
            f"`method` must be one of {', '.join(map(repr, model.sampling_methods))} for {type(model).__name__}, "
            f"got {method!r}."
        )
    return num_samples, batch_size, method


def metric_summary(result, tracker, *names):
    """An `evaluation_summary` from `evaluate`'s `result`: {"num_examples": the count of `tracker` (a metric that
    counted every example evaluate saw, so no second pass over the data), and each of `names` as a float}."""
    summary = {"num_examples": int(round(float(ops.convert_to_numpy(tracker.count))))}
    summary.update((name, float(result[name])) for name in names)
    return summary


def format_result_line(model_name, summary, unit, measures):
    """The printed `result_line`: "<model_name> on <dataset> <split> (<num_examples> <unit>): <measures>"."""
    return f"{model_name} on {summary['dataset']} {summary['split']} ({summary['num_examples']} {unit}): {measures}"


class ValidatedFitMixin:
    """`fit` and `evaluate` that check their data with the model's `_validate_data(data, name)` first (a clear
    error naming the argument instead of a failure deep inside a traced step)."""

    def fit(self, x=None, y=None, *args, **kwargs):
        self._validate_data(x, "x")
        if not args and "shuffle" not in kwargs and _is_tf_dataset(x):
            # kgen's pipelines come shuffled; Keras' default shuffle=True would only warn that it is ignored.
            kwargs["shuffle"] = False
        if kwargs.get("validation_data") is not None:
            self._validate_data(kwargs["validation_data"], "validation_data")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._validate_data(x, "x")
        return super().evaluate(x, y, *args, **kwargs)


class ServingExample:
    """How to check one exported SavedModel signature (`KgenModel.serving_examples` gives one per signature).

    Make one with `ServingExample.outputs(inputs, expected, rtol)` for a deterministic signature (e.g. `serve`): the
    served outputs must equal `expected` within `rtol` (and the test's `atol`); or with
    `ServingExample.seeded(inputs, check, seed, other_seed)` for a seeded sampler (e.g. `sample`): called twice with
    `inputs` it must give identical outputs, called with `inputs[seed] = other_seed` other outputs, and
    `check(outputs)` (the model's own validation: shape, range, finite log_prob) must pass on them.

    Attributes:
        inputs: {input name: numpy array}, with the dtypes the signature takes.
        expected: {output name: numpy array}, or None for a seeded sampler.
        rtol: relative tolerance for `expected`.
        seed: the name of a seeded sampler's seed input (None otherwise); `other_seed` another value for it.
        check: a seeded sampler's `check(outputs)`, which raises unless the outputs ({name: numpy}) are valid.
    """

    def __init__(self, inputs, expected=None, rtol=1e-5, seed=None, other_seed=None, check=None):
        if (expected is None) == (seed is None):
            raise ValueError("a ServingExample has either `expected` outputs or a `seed` input (a seeded sampler).")
        self.inputs = {k: np.asarray(v) for k, v in inputs.items()}
        self.expected = None if expected is None else {k: np.asarray(v) for k, v in expected.items()}
        self.rtol = rtol
        self.seed = seed
        self.other_seed = None if other_seed is None else np.asarray(other_seed, self.inputs[seed].dtype)
        self.check = check

    @classmethod
    def outputs(cls, inputs, expected, rtol=1e-5):
        """A deterministic signature: `inputs` must give `expected` ({output name: numpy}) within `rtol`."""
        return cls(inputs, expected=expected, rtol=rtol)

    @classmethod
    def seeded(cls, inputs, check, seed="seed", other_seed=(5, 6)):
        """A seeded sampler: the same `inputs[seed]` gives the same outputs, `other_seed` others; `check(outputs)`
        validates them."""
        return cls(inputs, seed=seed, other_seed=other_seed, check=check)

    @property
    def is_sampler(self):
        return self.seed is not None


MODEL_KWARGS = ("name", "trainable", "dtype")

#: The dtype policies a zoo model can be built with (`kgen.zoo.get(name, dtype=...)`): plain float32, or mixed
#: precision (bfloat16 or float16 compute, float32 variables; likelihood heads and losses stay float32).
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def check_dtype(dtype):
    """The name of a model's dtype policy from a `dtype` argument (a name of `DTYPE_POLICIES`, a
    `keras.DTypePolicy` of one, or None for keras' global policy); a ValueError naming `dtype` otherwise."""
    if dtype is None:  # keras' global policy, whatever the user set it to
        return keras.config.dtype_policy().name
    name = getattr(dtype, "name", dtype)
    if isinstance(dtype, dict):  # a serialized DTypePolicy, as keras saves a layer's dtype
        name = dtype.get("config", {}).get("name")
    if name not in DTYPE_POLICIES:
        raise ValueError(f"`dtype` must be one of {', '.join(map(repr, DTYPE_POLICIES))}, got {dtype!r}.")
    return name


@contextlib.contextmanager
def dtype_policy_scope(dtype):
    """Within the block, layers built without a `dtype` get the policy `dtype` (a name of `DTYPE_POLICIES`): how a
    model's constructor gives every layer of its graph the model's policy. Layers that must stay float32 (the
    likelihood heads) say `dtype="float32"` themselves."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(check_dtype(dtype))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_model_kwargs(kwargs, owner):
    """Reject keyword arguments that neither the model nor `keras.Model` knows (a typo must not pass silently)."""
    unknown = sorted(set(kwargs) - set(MODEL_KWARGS))
    if unknown:
        raise ValueError(f"{owner}: unknown argument(s) {', '.join(map(repr, unknown))}.")


def seed_generator(seed):
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"`seed` must be an int, None or a keras.random.SeedGenerator, got {seed!r}.")
    return keras.random.SeedGenerator(int(seed))


class KgenModel(ValidatedFitMixin, keras.Model):
    """Root of every zoo model (a functional subclass: the subclass builds the graph and calls
    `super().__init__(inputs, outputs, ...)`). See the module docstring for the contract."""

    #: `kgen.testing.TestCase` methods the test walker runs on this model, each called as `check(model, tmp_dir)`.
    contract_checks = ("run_serialization_test", "run_model_saving_test", "run_mixed_precision_test")

    #: How far `reference_outputs` may move under mixed precision (bfloat16 compute) from float32's, as a fraction
    #: of their largest magnitude (`kgen.testing.TestCase.run_mixed_precision_test`).
    mixed_precision_tolerance = 2e-2

    def __init_subclass__(cls, **kwargs):
        """Every subclass constructor builds its graph inside `dtype_policy_scope(dtype)`, so that
        `Model(..., dtype="mixed_bfloat16")` (and `kgen.zoo.get(name, dtype=...)`, and loading a saved mixed model)
        reaches every layer, not only the model object."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_kgen_dtype_scoped", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            dtype = check_dtype(kw.get("dtype"))
            kw["dtype"] = dtype
            with dtype_policy_scope(dtype):
                init(self, *args, **kw)

        __init__._kgen_dtype_scoped = True
        # keras' Operation.__new__ reads the constructor's argument spec without following `__wrapped__`: give the
        # wrapper the constructor's own signature.
        __init__.__signature__ = inspect.signature(init)
        cls.__init__ = __init__

    # ------------------------------------------------------------------------------------------ config
    def _record_config(self, **config):
        """Keep the (validated) constructor arguments as this model's config, returned by `get_config`, and as
        attributes of the same names (except where keras.Model already has the name, e.g. `input_shape`)."""
        for key, value in config.items():
            if not hasattr(type(self), key):
                setattr(self, key, value)
        object.__setattr__(self, "_kgen_config", dict(config))

    def get_config(self):
        def plain(value):  # tuples as lists, as they come back from a saved file
            return [plain(v) for v in value] if isinstance(value, (tuple, list)) else value

        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy.name,
                **{k: plain(v) for k, v in self._kgen_config.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def _sampler_cache(self):
        """The generation loops compiled for this model (`kgen.samplers.compiled`), keyed by what they compute.

        A plain dict kept outside the attribute tracking of Keras and TensorFlow: compiled functions are not state,
        so `save`, `export` and checkpoints never see them (tracked, the dict of `tf.function`s made a SavedModel
        export after `sample` fail)."""
        table = self.__dict__.get("_kgen_sampler_cache")
        if table is None:
            table = {}
            object.__setattr__(self, "_kgen_sampler_cache", table)
        return table

    # ------------------------------------------------------------------------------------------ inputs
    @property
    def conditional(self):
        """True when the model takes class labels besides its data."""
        return getattr(self, "num_classes", None) is not None

    @property
    def samples_text(self):
        """True when the model's samples are byte text: an unconditional byte-level sequence model, whose
        `generate_text` works and whose samples the text measure of `kgen.quality` reads."""
        return False

    #: The class label that stands for "no label" (the model's unconditional distribution), for a class-conditional
    #: model that takes one (`[train] label_dropout`, classifier-free guidance in `sample`); None: it takes none.
    null_label = None

    def example_inputs(self, batch_size=2, seed=0):
        """A small random batch of valid inputs: {"x": data, **conditioning}, the keyword arguments of
        `reference_outputs` and `model_inputs`."""
        raise NotImplementedError(f"{type(self).__name__} must define example_inputs.")

    def example_conditioning(self, x, seed=0):
        """The conditioning keyword arguments (e.g. `labels`, `features`) for a batch of data `x`: class labels
        0, 1, 2, ... for a class-conditional model; {} for an unconditional one."""
        if not self.conditional:
            return {}
        return {"labels": (np.arange(len(x)) % self.num_classes).astype("int32")}

    def model_inputs(self, x, **conditioning):
        """What the functional graph takes for data `x` and its conditioning (by default the data alone)."""
        return x

    def reference_outputs(self, x, **conditioning):
        """Per-example numbers that identify the model's function (numpy), compared across save/load, backends and
        export."""
        raise NotImplementedError(f"{type(self).__name__} must define reference_outputs.")

    # ------------------------------------------------------------------------------------------ evaluation
    def evaluation_summary(self, result, data, dataset):
        """The metrics of `result = evaluate(data, return_dict=True)` on `dataset` as a JSON-ready dict."""
        raise NotImplementedError(f"{type(self).__name__} must define evaluation_summary.")

    def result_line(self, model_name, summary):
        """One printed line for an evaluation summary."""
        raise NotImplementedError(f"{type(self).__name__} must define result_line.")

    # ------------------------------------------------------------------------------------------ artifacts
    def write_artifacts(self, run_dir, recipe, num_samples=16, seed=0):
        """Write what a trained run shows beside its model into `run_dir`; returns [(what, path)] written."""
        return []

    def _cannot(self, what, instead):
        return ValueError(f"`model` is a {type(self).__name__}, which {what}; {instead}.")

    def write_sample_file(self, path, **options):
        """`kgen sample`: generate into `path`; returns the line to print. Among the options, `progress`: show a
        progress bar (over batches) or the stages on stderr."""
        raise self._cannot("does not sample", "`kgen encode` gives a representation model's codes")

    def write_completions_file(self, path, dataset, split="test", source=None, num=8, rows=None, completions=3,
                               seed=0, progress=None):
        """`kgen complete`: complete real examples of `dataset` from their beginning; returns the line to print;
        `progress`: show a progress bar over the batches on stderr."""
        raise self._cannot("does not complete images", "`kgen complete` takes an autoregressive image model")

    def write_codes_file(self, path, recipe, split=None, progress=None):
        """`kgen encode`: encode a split of the recipe's data into an .npz; returns the line to print; `progress`:
        show a progress bar over the batches on stderr."""
        raise self._cannot("has no codes", "`kgen encode` takes a representation model")

    def encode(self, x, batch_size=256):
        raise self._cannot("has no codes", "encode works on representation models")

    # ------------------------------------------------------------------------------------------ generation
    #: How `sample` generates, the first being its default: "cached" (the incremental protocol below: each layer
    #: computes one step per new value from what it kept of the past) and/or "naive" (the whole network re-run for
    #: every step: the reference the cached loop must match). Empty for a model that does not sample.
    sampling_methods = ()

    # The incremental protocol of cached generation (keras-hub's `CausalLM.call_with_cache` order), driven by the
    # loops of `kgen.samplers` (images, sequences, video frames, entropy coding) and compiled once per backend:
    #
    #     cache = model.init_cache(batch_size, **conditioning)
    #     cache = model.begin_row(inputs, cache, row)               # optional: once per row (image, frame models)
    #     outputs, cache = model.call_with_cache(inputs, cache, index)
    #
    # and, for a video model, the frame hooks `init_video_state(context)` / `next_video_state(frame, state)`, which
    # carry the past frames into the `condition` of each frame's `init_cache`. Every layer that owns weights owns
    # its own one-step computation and its part of the cache (row rings, queues, recurrent states, key/value
    # caches); the model chains them. The step arithmetic they share is `kgen.layers.steps`.
    def init_cache(self, batch_size, **conditioning):
        """The cache before the first step for `batch_size` examples, with the conditioning folded in once
        (`labels`, local `features`, a video frame's `condition`); any nest of tensors."""
        raise self._cannot("has no cached generation", "use method='naive'")

    def call_with_cache(self, inputs, cache, index):
        """One step: `inputs` are the values step `index - 1` produced (a pixel (batch, channels) of an image or
        video frame, a token (batch,) of a sequence; zeros or ignored at step 0); returns (the likelihood
        parameters or logits of step `index`, the updated cache)."""
        raise self._cannot("has no cached generation", "use method='naive'")

    def begin_row(self, inputs, cache, row):
        """Once per row of an image or frame, before its first step: rows above `row` are final (`inputs` is the
        last pixel drawn). The place for work done per row rather than per pixel (the Gated PixelCNN's vertical
        stack); none by default."""
        return cache

    def init_video_state(self, context):
        """Frame hook of a video model: (condition, state) from the context frames (batch, frames, H, W, C), all at
        once; `condition` goes to the next frame's `init_cache(batch_size, condition=...)`."""
        raise self._cannot("has no cached generation of frames", "use method='naive'")

    def next_video_state(self, frame, state):
        """Frame hook of a video model: (condition, state) after one more frame (batch, H, W, C), drawn or given."""
        raise self._cannot("has no cached generation of frames", "use method='naive'")

    # ------------------------------------------------------------------------------------------ entropy coding
    #: The data kinds `kgen compress` can code with this model: "image" (PNG), "bytes" (any file), "audio" (WAV).
    coding_kinds = ()
    #: Values a coded symbol takes (the size of each probability table), and the longest row it codes (None: any).
    coding_levels = None
    coding_max_length = None
    #: Samples per second of the audio the model makes, or None: its data is not audio. A fact of the model's config
    #: (the sequence models record it: `AutoregressiveSequenceModel.sample_rate`), never of the code: its WAV files
    #: are written at this rate and `kgen compress` takes WAV files of this rate.
    sample_rate = None

    def coding_steps(self, batch_size, labels=None, features=None):
        """The next-symbol probability tables of a batch, one step at a time (`kgen.samplers.coding`), for
        `kgen.compression`. Only autoregressive models with an incremental protocol have them."""
        raise self._cannot(
            "has no step-by-step conditionals to drive an entropy coder",
            "`kgen compress` takes an autoregressive image or sequence model",
        )

    # ------------------------------------------------------------------------------------------ export
    def export_signatures(self):
        """The SavedModel endpoints: [(name, fn, input_signature)], traced under the TensorFlow backend."""
        raise NotImplementedError(f"{type(self).__name__} must define export_signatures.")

    def serving_examples(self, x, **conditioning):
        """How to check every signature of `export_signatures()` for data `x` and its conditioning (as
        `example_inputs` gives them): {signature name: `ServingExample`}, with the expected outputs computed here
        with the model's own methods (`log_prob`, `encode`, ...) or, for a seeded sampler, the check of its
        outputs. `kgen.testing.TestCase.run_export_test` calls each signature of the exported SavedModel with them."""
        raise NotImplementedError(f"{type(self).__name__} must define serving_examples.")

    # ------------------------------------------------------------------------------------------ presets
    #: The zoo name of the weights this model was loaded with from a preset folder (`from_preset`, `kgen.zoo.get(...,
    #: pretrained=True / weights=...)`), which `save_to_preset` records again; None otherwise.
    zoo_name = None

    def shipped_parts(self):
        """The shipped presets whose trained weights went into this model when it was built (other than a preset
        it was loaded from as a whole): a tuple of {"preset": zoo name, "folder": its folder, "sha256": of its
        weights file}; none for most models. `kgen train` records them in the run's parts.json, so that a preset
        made from the run names every run behind its weights (tools/make_pretrained.py)."""
        return ()

    def preset_skips(self):
        """The sublayers whose weights a preset folder of this model does not hold, because they are the
        `shipped_parts`: building the model from its config loads them from their own shipped presets (pinned by
        their sha256 in the folder's metadata.json, `kgen.pretrained`); none for most models."""
        return ()

    def load_shipped_parts(self):
        """Load the weights of `shipped_parts` into `preset_skips` again (the preset loader builds a model inside a
        `keras.StatelessScope`, which keeps no weights loaded while it is open); nothing for most models."""

    def untrained_config(self):
        """The config of a model of this architecture whose every weight is freshly initialised when built from it
        (`type(model).from_config(...)`): the floor row of `kgen.quality`. The model's own config for most models;
        a model whose config loads shipped weights into it when built (`shipped_parts`) says how to build it
        without them."""
        return self.get_config()

    def default_data(self):
        """The data set this model is made for, as a recipe's `[data]` table (`{"name": ..., "eval_options": ...}`),
        or None: the `data` of its zoo preset in the family's presets.toml (`kgen.zoo.default_data`) when the model
        knows its zoo name (`zoo_name`, loaded from a preset), else the one every preset of its architecture names.
        Where a model needs real data and has no run recipe to name it (`kgen sample` of a video model), this is
        where it comes from."""
        from kgen import zoo

        if self.zoo_name is not None and self.zoo_name in zoo.list_models():
            return zoo.default_data(self.zoo_name)
        return zoo.default_data(zoo.architecture_of_class(type(self)))

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build a model and load its trained weights from a preset, as keras-hub's `Backbone.from_preset` does.

        Args:
            preset: a zoo name whose weights ship with kgen (`kgen.zoo.list_models(pretrained=True)`, e.g.
                "bytenet.shakespeare"), a preset folder (`save_to_preset`, or keras-hub's own saver), or an `hf://`
                / `kaggle://` URI of one.
            load_weights: False builds the preset's configuration with freshly initialised weights.
            **kwargs: constructor arguments that replace the saved ones (e.g. `dropout`, `dtype`).

        The preset must hold a model of this class or a subclass (`kgen.models.KgenModel.from_preset` takes any);
        see `kgen.pretrained` for the checks.

        >>> model = kgen.models.ByteNet.from_preset("bytenet.shakespeare")
        >>> model = kgen.models.KgenModel.from_preset("hf://me/my_bytenet")
        """
        from kgen import pretrained, zoo

        name = None
        folder = preset
        if isinstance(preset, str) and preset in zoo.list_models():
            name, folder = preset, zoo.pretrained_folder(preset)
        found = pretrained.preset_class(folder)
        if not issubclass(found, cls):
            raise ValueError(f"`preset` {str(preset)!r}: {pretrained.preset_file(folder, pretrained.CONFIG_FILE)} "
                             f"holds a {found.__name__}, not a {cls.__name__}; load it with "
                             f"{found.__name__}.from_preset or kgen.models.KgenModel.from_preset.")
        return pretrained.load_preset(folder, name=name, registry=zoo, load_weights=load_weights, **kwargs)

    def save_to_preset(self, preset_dir, name=None, metadata=None, weights_dtype="float32"):
        """Write this model as a keras-hub preset folder (config.json, model.weights.h5, metadata.json), all or
        nothing; `keras_hub.upload_preset(uri, preset_dir)` uploads it, `from_preset(preset_dir)` loads it.

        Args:
            preset_dir: the folder to write (absent, empty, or a preset folder kgen wrote, which is replaced).
            name: the zoo name the model was built as, recorded in metadata.json (default: `zoo_name`).
            metadata: a dict of what the weights are (recipe, data, metric, command...), stored in metadata.json.
            weights_dtype: "float32", or "float16" to halve the weights file.
        Returns the written metadata.
        """
        from kgen import pretrained

        return pretrained.save_preset(self, preset_dir, name=name, metadata=metadata, weights_dtype=weights_dtype)
