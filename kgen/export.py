"""`.keras` round trips and TensorFlow SavedModel export for TF Serving, from any backend.

Under the TensorFlow backend the model is exported in-process with `keras.export.ExportArchive`. Under JAX or
PyTorch the dependable route is to save the `.keras` file, reload it under TensorFlow in a child process and export
there (torch cannot export directly without torch_xla). Either way the SavedModel is written under a temporary name
and renamed into place, so a failure never leaves a half-written folder.

Which endpoints a model has is the model's own `export_signatures()`; the zoo's bases give these.

Image models have two signatures:

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
  length) int32, drawn from the softmax with the cached generator (the same seed gives the same
  tokens).

plus `labels` for a class-conditional model and `features` (batch, time / local_upsample, channels) float32 for a
locally conditioned one (in `sample` the features fix the length: `length` must equal their steps x upsample).
"""

import sys
import tempfile
from pathlib import Path

import keras

from kgen.backends import run_under_backend
from kgen.io import atomic_path


def _export_in_tensorflow(model, path, stages):
    """Write the SavedModel with the endpoints the model names (`model.export_signatures()`); each stage (tracing a
    signature, writing) goes to `stages`, a `kgen.progress.Progress`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, fn, input_signature in model.export_signatures():
        stages.stage(f"tracing signature {name!r}")
        archive.add_endpoint(name=name, fn=fn, input_signature=input_signature)
    stages.stage("writing the SavedModel")
    archive.write_out(str(path), verbose=False)


def export_for_serving(model, path, overwrite=False, progress=None):
    """Write a TensorFlow SavedModel of `model` at `path` with a `serve` log-probability signature.

    Args:
        model: a kgen model: an image or sequence generative model, or a representation model.
        path: the SavedModel folder to create (for TF Serving, a version folder such as "serving/pixelcnn/1").
        overwrite: replace an existing folder at `path`.
        progress: print each stage on stderr (saving the .keras file, tracing each signature, writing): True,
            False or None (the default: where someone watches, a terminal or a notebook; see kgen.progress).
    """
    from kgen.progress import Progress, wanted

    from kgen.models.kgen_model import KgenModel

    progress = wanted(progress)  # resolved here: the child process of a JAX or torch export gets a plain flag
    if not isinstance(model, KgenModel):
        raise ValueError(f"`model` must be a kgen zoo model (a kgen.models.KgenModel), got {type(model).__name__}.")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"`path` {str(path)!r} already exists; pass overwrite=True to replace it.")
    stages = Progress(show=progress, label="kgen export")
    with atomic_path(path) as tmp:
        if keras.backend.backend() == "tensorflow":
            _export_in_tensorflow(model, tmp, stages)
        else:
            with tempfile.TemporaryDirectory() as td:
                keras_file = Path(td) / "model.keras"
                stages.stage("saving the .keras file, to export it under the TensorFlow backend in a child process")
                model.save(keras_file)
                _export_in_child(keras_file, tmp, progress)
    return path


def _export_in_child(keras_file, out, progress=False):
    # With progress, the child's stage lines go straight to this process's stderr (its error then has no stderr tail).
    run_under_backend("tensorflow", ["-m", "kgen.export", keras_file, out] + (["--progress"] if progress else []),
                      what="exporting under the TensorFlow backend", capture_stderr=not progress)


def _main(argv):
    progress = "--progress" in argv
    argv = [a for a in argv if a != "--progress"]
    if len(argv) != 2:
        print("usage: python -m kgen.export MODEL.keras OUT_DIR [--progress]", file=sys.stderr)
        return 2
    if keras.backend.backend() != "tensorflow":
        print("kgen.export: run with KERAS_BACKEND=tensorflow", file=sys.stderr)
        return 2
    export_keras_file(argv[0], argv[1], progress)
    return 0


def export_keras_file(keras_file, out, progress=False):
    """Under the TensorFlow backend: load a .keras file (saved under any backend) and write its SavedModel at `out`
    (what `export_for_serving` does under JAX and torch, in a child process)."""
    import kgen.models  # noqa: F401  (registers the classes)

    from kgen.progress import Progress

    model = keras.models.load_model(keras_file)
    _export_in_tensorflow(model, out, Progress(show=progress, label="kgen export"))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
