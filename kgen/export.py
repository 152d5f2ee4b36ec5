"""`.keras` round trips and TensorFlow SavedModel export for TF Serving, from any backend.

Under the TensorFlow backend the model is exported in-process with `keras.export.ExportArchive`. Under JAX or
PyTorch the dependable route is to save the `.keras` file, reload it under TensorFlow in a child process and export
there (torch cannot export directly without torch_xla). Either way the SavedModel is written under a temporary name
and renamed into place, so a failure never leaves a half-written folder.

The SavedModel has two signatures:

- `serve`: `images` (batch, height, width, channels) float32 pixel levels -> `log_prob` (batch,) float32, the
  log-probability of each image in nats;
- `sample`: `num_samples` int32 scalar and `seed` int32 (2,) -> `images` (num_samples, height, width, channels)
  float32 pixel levels, drawn pixel by pixel with the naive loop (the same seed gives the same images).

A class-conditional model (built with `num_classes`) takes one more input in both: `labels`, int32 (batch,).

Representation models (sparse coding, autoencoders, PSD, semantic hashing) have one signature, `serve`: `inputs`
(batch, *input_shape) float32 -> `codes` (batch, code_dim) and `reconstruction` (batch, *input_shape), the
reconstruction on the model's working scale (inputs * input_scale).

Sequence models (WaveNet, ByteNet) have the same two signatures over tokens:

- `serve`: `tokens` (batch, time) int32 -> `log_prob` (batch,) float32, the sum over the sequence in nats;
- `sample`: `num_samples` int32 scalar, `length` int32 scalar and `seed` int32 (2,) -> `tokens` (num_samples,
  length) int32, drawn from the softmax with the fast per-layer-queue generator (the same seed gives the same
  tokens).

plus `labels` for a class-conditional model and `features` (batch, time / local_upsample, channels) float32 for a
locally conditioned one (in `sample` the features fix the length: `length` must equal their steps x upsample).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
from keras import ops

from kgen.io import atomic_path


def _serve_fn(model):
    def serve(images, labels=None):
        params = model(model.model_inputs(images, labels), training=False)
        return {"log_prob": model.distribution.log_prob(images, params)}

    return serve


def _sample_fn(model):
    import tensorflow as tf

    from kgen.samplers.naive import loop_body

    dist = model.distribution

    def sample(num_samples, seed, labels=None):
        data_shape = (num_samples,) + tuple(model.image_shape)
        noise_shape = tf.concat([[num_samples], dist.noise_shape(tuple(model.image_shape))], axis=0)
        noise = dist.noise_from_uniform(tf.random.stateless_uniform(noise_shape, seed=seed))
        canvas = tf.zeros(tf.stack(data_shape), dtype=tf.float32)
        body = loop_body(model, noise, lambda c: model(model.model_inputs(c, labels), training=False))
        return {"images": ops.fori_loop(0, model.num_steps, body, canvas)}

    return sample


def _sequence_signatures(model):
    """(serve, sample) functions and their input specs for an `AutoregressiveSequenceModel`."""
    import tensorflow as tf

    extra = []
    if model.conditional:
        extra.append(tf.TensorSpec(shape=(None,), dtype=tf.int32, name="labels"))
    if model.locally_conditioned:
        extra.append(tf.TensorSpec(shape=(None, None, model.local_channels), dtype=tf.float32, name="features"))
    names = [spec.name for spec in extra]

    def serve(tokens, *args):
        kwargs = dict(zip(names, args))
        logits = ops.cast(model(model.model_inputs(tokens, **kwargs), training=False), "float32")
        nll = ops.sparse_categorical_crossentropy(tokens, logits, from_logits=True)
        return {"log_prob": -ops.sum(nll, axis=1)}

    def sample(num_samples, length, seed, *args):
        kwargs = dict(zip(names, args))
        generator = model.fast_generator()
        cache = generator.init(num_samples, kwargs.get("labels"), kwargs.get("features"))
        tokens = tf.zeros(tf.stack([num_samples, length]), dtype=tf.int32)

        def body(index, state):
            tokens, cache = state
            previous = tf.gather(tokens, tf.maximum(index - 1, 0), axis=1)
            logits, cache = generator.step(previous, index, cache)
            step_seed = tf.random.experimental.stateless_fold_in(seed, index)
            drawn = tf.random.stateless_categorical(tf.cast(logits, tf.float32), 1, seed=step_seed, dtype=tf.int32)
            tokens = tf.tensor_scatter_nd_update(
                tokens,
                tf.stack([tf.range(num_samples), tf.fill([num_samples], index)], axis=1),
                drawn[:, 0],
            )
            return tokens, cache

        tokens, _ = ops.fori_loop(0, length, body, (tokens, cache))
        return {"tokens": tokens}

    serve_spec = [tf.TensorSpec(shape=(None, None), dtype=tf.int32, name="tokens")] + extra
    sample_spec = [
        tf.TensorSpec(shape=(), dtype=tf.int32, name="num_samples"),
        tf.TensorSpec(shape=(), dtype=tf.int32, name="length"),
        tf.TensorSpec(shape=(2,), dtype=tf.int32, name="seed"),
    ] + extra
    return (serve, serve_spec), (sample, sample_spec)


def _export_representation(model, path):
    """A representation model's one signature: `inputs` -> its `codes` and `reconstruction`."""
    import tensorflow as tf

    encoder = model._submodel(model.code_layer_name)

    def serve(inputs):
        return {"codes": encoder(inputs, training=False), "reconstruction": model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", fn=serve,
        input_signature=[tf.TensorSpec(shape=(None,) + tuple(model.input_shape_), dtype=tf.float32, name="inputs")],
    )
    archive.write_out(str(path), verbose=False)


def _export_in_tensorflow(model, path):
    import tensorflow as tf

    from kgen.models.representation_base import RepresentationModel
    from kgen.models.sequence_base import AutoregressiveSequenceModel

    if isinstance(model, RepresentationModel):
        _export_representation(model, path)
        return
    if isinstance(model, AutoregressiveSequenceModel):
        archive = keras.export.ExportArchive()
        archive.track(model)
        (serve, serve_spec), (sample, sample_spec) = _sequence_signatures(model)
        archive.add_endpoint(name="serve", fn=serve, input_signature=serve_spec)
        archive.add_endpoint(name="sample", fn=sample, input_signature=sample_spec)
        archive.write_out(str(path), verbose=False)
        return

    archive = keras.export.ExportArchive()
    archive.track(model)
    label_spec = [tf.TensorSpec(shape=(None,), dtype=tf.int32, name="labels")] if model.conditional else []
    archive.add_endpoint(
        name="serve",
        fn=_serve_fn(model),
        input_signature=[tf.TensorSpec(shape=(None,) + tuple(model.image_shape), dtype=tf.float32, name="images")]
        + label_spec,
    )
    archive.add_endpoint(
        name="sample",
        fn=_sample_fn(model),
        input_signature=[
            tf.TensorSpec(shape=(), dtype=tf.int32, name="num_samples"),
            tf.TensorSpec(shape=(2,), dtype=tf.int32, name="seed"),
        ]
        + label_spec,
    )
    archive.write_out(str(path), verbose=False)


def export_for_serving(model, path, overwrite=False):
    """Write a TensorFlow SavedModel of `model` at `path` with a `serve` log-probability signature.

    Args:
        model: a kgen model: an image or sequence generative model, or a representation model.
        path: the SavedModel folder to create (for TF Serving, a version folder such as "serving/pixelcnn/1").
        overwrite: replace an existing folder at `path`.
    """
    from kgen.models.representation_base import RepresentationModel

    is_sequence = hasattr(model, "num_levels") and hasattr(model, "fast_generator")
    is_representation = isinstance(model, RepresentationModel)
    if not (is_sequence or is_representation) and (not hasattr(model, "distribution") or not hasattr(model, "image_shape")):
        raise ValueError(f"`model` must be a kgen model (generative or representation), got {type(model).__name__}.")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"`path` {str(path)!r} already exists; pass overwrite=True to replace it.")
    with atomic_path(path) as tmp:
        if keras.backend.backend() == "tensorflow":
            _export_in_tensorflow(model, tmp)
        else:
            with tempfile.TemporaryDirectory() as td:
                keras_file = Path(td) / "model.keras"
                model.save(keras_file)
                _export_in_child(keras_file, tmp)
    return path


def _export_in_child(keras_file, out):
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    proc = subprocess.run(
        [sys.executable, "-m", "kgen.export", str(keras_file), str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"exporting under the TensorFlow backend in a child process failed:\n{tail}")


def _main(argv):
    if len(argv) != 2:
        print("usage: python -m kgen.export MODEL.keras OUT_DIR", file=sys.stderr)
        return 2
    if keras.backend.backend() != "tensorflow":
        print("kgen.export: run with KERAS_BACKEND=tensorflow", file=sys.stderr)
        return 2
    import kgen.models  # noqa: F401  (registers the classes)

    model = keras.models.load_model(argv[0])
    _export_in_tensorflow(model, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
