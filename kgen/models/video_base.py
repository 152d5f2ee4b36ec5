"""The base of kgen's autoregressive video models: the likelihood of frames given the past, frame-by-frame and
pixel-by-pixel generation, input checks, and their side of the model contract (`kgen.models.kgen_model`).

A video is (batch, time, height, width, channels) of grey levels 0..255 (float). The model's graph maps a video to
one logit per sub-pixel of each *predicted* frame, the frames from `num_context_frames` on, each predicted from the
frames before it (and, for a pixel-autoregressive model, from the earlier pixels of its own frame). The likelihood is
the one used for Moving MNIST since Srivastava et al.: a per-pixel sigmoid cross-entropy against the grey level read
as a probability, p = level / 255, in nats per frame; its lower bound is the targets' own entropy, reported beside
it (`target_entropy_per_frame`).

Generation (`sample`) runs the loops of `kgen.samplers.video`: "cached" drives the incremental protocol of
`kgen.models.KgenModel` with its frame hooks (`init_video_state`, `next_video_state`; each frame's `init_cache`
takes the past's `condition`), "naive" re-runs the whole model for every pixel; with the same seed both give the
same frames.
"""

from pathlib import Path

import numpy as np
import keras
from keras import ops

from kgen.models.kgen_model import (
    KgenModel,
    ServingExample,
    seed_generator,
    weighted_mean_loss,
)
from kgen.validation import check_int

MAX_LEVEL = 255.0


def check_frame_shape(frame_shape, owner):
    """(height, width, channels) with positive sizes and 1 channel (grey video)."""
    try:
        shape = tuple(int(d) for d in frame_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: `frame_shape` must be (height, width, channels), got {frame_shape!r}.") from None
    if len(shape) != 3 or min(shape) < 1 or shape[2] != 1:
        raise ValueError(
            f"{owner}: `frame_shape` must be (height, width, 1) with positive sizes (grey video), got {frame_shape!r}."
        )
    return shape


def sigmoid_cross_entropy(levels, logits):
    """Per-sub-pixel -[p log s(l) + (1 - p) log(1 - s(l))] with p = levels / 255, in nats."""
    p = ops.cast(levels, logits.dtype) / MAX_LEVEL
    return ops.softplus(logits) - p * logits


def binary_entropy(levels):
    """Per-sub-pixel entropy of Bernoulli(levels / 255) in nats (0 at levels 0 and 255)."""
    p = ops.clip(ops.cast(levels, "float32") / MAX_LEVEL, 0.0, 1.0)
    q = 1.0 - p
    plogp = ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-30)), 0.0)
    qlogq = ops.where(q > 0, q * ops.log(ops.maximum(q, 1e-30)), 0.0)
    return -(plogp + qlogq)


class AutoregressiveVideoModel(KgenModel):
    """Base of the frame-by-frame video models (a functional subclass: the subclass builds the graph).

    It adds the loss (sigmoid cross-entropy against grey levels, in nats per predicted frame, so
    `compile(optimizer=...)` needs no loss), the metrics `nats_per_frame` and `target_entropy_per_frame`,
    `log_prob(video)`, `sample(context, num_frames)`, input checks that name the argument, and the contract.
    """

    #: Whether the network reads its video binarised (0/255 per pixel, `kgen.layers.FrameBinarize`): then only a
    #: change that crosses a pixel's binarisation threshold reaches the logits (the causality test perturbs binary
    #: videos for such a model).
    binarizes_inputs = False

    def _setup_video(self, frame_shape, num_context_frames):
        self.frame_shape = tuple(frame_shape)
        self.num_context_frames = num_context_frames
        self.nats_tracker = keras.metrics.Mean(name="nats_per_frame")
        self.entropy_tracker = keras.metrics.Mean(name="target_entropy_per_frame")

    # ------------------------------------------------------------------------------------------ likelihood
    def frame_nats(self, video, logits):
        """(batch, predicted frames) nats of each predicted frame, from the video and the model's logits."""
        targets = video[:, self.num_context_frames:]
        return ops.sum(sigmoid_cross_entropy(targets, logits), axis=(2, 3, 4))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        video = x["video"] if isinstance(x, dict) else x
        per_frame = ops.mean(self.frame_nats(video, y_pred), axis=1)  # nats per predicted frame, per video
        entropy = ops.mean(ops.sum(binary_entropy(video[:, self.num_context_frames:]), axis=(2, 3, 4)), axis=1)
        self.nats_tracker.update_state(per_frame)
        self.entropy_tracker.update_state(entropy)
        return weighted_mean_loss(per_frame, sample_weight, self.losses)

    # ------------------------------------------------------------------------------------------ checks
    def validate_video(self, video, name="x", min_frames=None):
        """`video` as float32 numpy, or a ValueError naming `name` (shape, frame count, levels 0..255)."""
        arr = np.asarray(video)
        min_frames = self.num_context_frames + 1 if min_frames is None else min_frames
        if arr.ndim != 5 or tuple(arr.shape[2:]) != self.frame_shape or arr.shape[1] < min_frames:
            raise ValueError(
                f"`{name}` must have shape (batch, frames, {', '.join(map(str, self.frame_shape))}) with at least "
                f"{min_frames} frames for this {type(self).__name__}, got {arr.shape}."
            )
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"`{name}` must hold numbers (grey levels 0..255), got dtype {arr.dtype}.")
        if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > MAX_LEVEL):
            raise ValueError(f"`{name}` must hold grey levels in 0..255, got values in [{arr.min()}, {arr.max()}].")
        return arr.astype("float32")

    def _validate_data(self, data, name):
        from kgen.models.kgen_model import concrete_array, first_data_inputs

        first = first_data_inputs(data, name, f"videos of shape (batch, frames) + {self.frame_shape}")
        if isinstance(first, dict):
            first = first.get("video")
        arr = concrete_array(first)
        if arr is not None:
            self.validate_video(arr, name)

    # ------------------------------------------------------------------------------------------ inference
    def log_prob(self, video, batch_size=16):
        """Log-likelihood of each video's predicted frames (from `num_context_frames` on) in nats, shape (batch,)."""
        batch_size = check_int(batch_size, "batch_size")
        video = self.validate_video(video, "video")
        out = []
        for i in range(0, len(video), batch_size):
            vb = ops.convert_to_tensor(video[i : i + batch_size])
            out.append(-ops.convert_to_numpy(ops.sum(self.frame_nats(vb, self(vb, training=False)), axis=1)))
        return np.concatenate(out).astype("float64")

    #: Sampling methods; the first is the default of `sample`.
    sampling_methods = ("cached", "naive")

    @staticmethod
    def sample_from_noise(logits, uniform):
        """0 or 255 per sub-pixel: 255 where the uniform noise is below the sigmoid of the logit (the generation
        loops of `kgen.samplers.video` draw every pixel with it, from noise drawn up front)."""
        return ops.cast(ops.less(uniform, ops.sigmoid(ops.cast(logits, "float32"))), "float32") * MAX_LEVEL

    def sample(self, context, num_frames, seed=None, method=None, batch_size=None):
        """Generate `num_frames` frames after the given ones, frame by frame, pixel by pixel in raster order.

        Args:
            context: grey levels (batch, frames, H, W, C) with at least `num_context_frames` frames.
            num_frames: positive int, frames to generate.
            seed: int, None or a `keras.random.SeedGenerator`; the same int gives the same frames for every
                `method` and `batch_size`.
            method: "cached" (the default: the past once per frame, each layer once per pixel) or "naive" (the
                whole model for every pixel, the reference).
            batch_size: videos generated at once (default: all).

        Returns:
            uint8 (batch, num_frames, H, W, C): each pixel 0 or 255, drawn from its sigmoid.
        """
        context = self.validate_video(context, "context", min_frames=self.num_context_frames)
        num_frames = check_int(num_frames, "num_frames")
        batch_size = len(context) if batch_size is None else check_int(batch_size, "batch_size")
        method = self.sampling_methods[0] if method is None else method
        if method not in self.sampling_methods:
            raise ValueError(f"`method` must be one of {', '.join(map(repr, self.sampling_methods))}, got {method!r}.")
        noise = ops.convert_to_numpy(keras.random.uniform((len(context), num_frames) + self.frame_shape,
                                                          seed=seed_generator(seed)))
        from kgen.samplers.video import LOOPS

        out = [LOOPS[method](self, context[i : i + batch_size], noise[i : i + batch_size])
               for i in range(0, len(context), batch_size)]
        return np.concatenate(out).astype("uint8")

    def dependencies(self, num_frames):
        """Boolean (T*H*W, T*H*W): [t, s] says input sub-pixel s may change the logit of sub-pixel t (rows of
        context frames stay False). The default is the ideal: every pixel of every earlier frame and every earlier
        pixel of the same frame in raster order; a family with a known blind spot overrides it."""
        h, w, _ = self.frame_shape
        n = h * w
        dep = np.zeros((num_frames * n, num_frames * n), dtype=bool)
        for t in range(self.num_context_frames, num_frames):
            dep[t * n : (t + 1) * n, : t * n] = True
            dep[t * n : (t + 1) * n, t * n : (t + 1) * n] = self.frame_dependencies()
        return dep

    def frame_dependencies(self):
        """Boolean (H*W, H*W): [t, s] says pixel s of a frame may change the logit of pixel t of the same frame."""
        n = self.frame_shape[0] * self.frame_shape[1]
        return np.tril(np.ones((n, n), dtype=bool), k=-1)

    # ------------------------------------------------------------------------------------------ contract
    contract_checks = KgenModel.contract_checks + ("run_video_causality_test", "run_video_sampling_test",
                                                   "run_export_after_use_test")

    def example_inputs(self, batch_size=2, seed=0):
        rng = np.random.default_rng(seed)
        shape = (batch_size, self.num_context_frames + 2) + self.frame_shape
        return {"x": rng.integers(0, 256, shape).astype("float32")}

    def reference_outputs(self, x):
        return self.log_prob(x)

    def evaluation_summary(self, result, data, dataset):
        from kgen.models.kgen_model import metric_summary

        return metric_summary(result, self.nats_tracker, "nats_per_frame", "target_entropy_per_frame")

    def result_line(self, model_name, summary):
        from kgen.models.kgen_model import format_result_line

        measures = (f"{summary['nats_per_frame']:.2f} nats/frame over the predicted frames (the targets' own "
                    f"entropy: {summary['target_entropy_per_frame']:.2f})")
        return format_result_line(model_name, summary, "sequences", measures)

    def _real_videos(self, recipe, num, context, frames, split=None, source=None):
        """`num` videos of the evaluation split of the recipe's data set, or without a recipe of the data set this
        model is made for (`default_data`: its preset's `data` in presets.toml, with its loader options)."""
        from kgen import data as kdata

        d = recipe["data"] if recipe is not None else self.default_data()
        if d is None:
            raise ValueError(f"This {type(self).__name__} names no data set to take real context frames from (its "
                             "preset records none): sample from its run folder, whose recipe names one.")
        name, options = d["name"], dict(d.get("eval_options") or {})
        source = source if source is not None else d.get("source")
        split = split or d.get("eval_split") or "test"
        options["num_frames"] = max(options.get("num_frames", 0), context + frames)
        base = split.split("[")[0]
        videos = kdata.load_arrays(name, f"{base}[:{num}]", source=source, **options)
        if tuple(np.shape(videos)[2:]) != tuple(self.frame_shape):
            raise ValueError(f"The data set {name!r} ({options}) has frames of shape {tuple(np.shape(videos)[2:])}; "
                             f"this {type(self).__name__} takes {tuple(self.frame_shape)}: sample from its run folder, "
                             "whose recipe names its data.")
        return videos

    def write_artifacts(self, run_dir, recipe, num_samples=4, seed=0):
        from pathlib import Path

        from kgen import artifacts

        if not num_samples:
            return []
        context, frames = self.num_context_frames, self.num_context_frames
        path = Path(run_dir) / artifacts.SAMPLES_FILE
        videos = self._real_videos(recipe, num_samples, context, frames)
        artifacts.write_video_strips(self, videos, path, context=context, frames=frames, seed=seed)
        return [("samples", path), ("samples animation", path.with_suffix(".gif"))]

    def write_sample_file(self, path, num=None, seed=0, context=None, frames=None, recipe=None, data_source=None,
                          progress=None, **unused):
        """`kgen sample RUN --context 10 --frames 10 --out strip.png`: strips (and a GIF) of generated frames after
        real context frames of the run's data (without a run recipe: of the data set the model's preset is made for,
        `default_data`)."""
        from kgen import artifacts

        context = self.num_context_frames if context is None else context
        frames = self.num_context_frames if frames is None else frames
        if not isinstance(context, int) or context < self.num_context_frames:
            raise ValueError(f"`--context` must be an int >= num_context_frames = {self.num_context_frames}, got "
                             f"{context!r}.")
        if Path(path).suffix.lower() != ".png":
            raise ValueError(f"`--out` must be a .png file (the strips; the GIF goes beside it) for "
                             f"{type(self).__name__}, got {str(path)!r}.")
        videos = self._real_videos(recipe, num or 4, context, frames, source=data_source)
        artifacts.write_video_strips(self, videos, path, context=context, frames=frames, seed=seed,
                                     batch_size=artifacts.SAMPLE_BATCH_SIZE, progress=progress)
        return (f"wrote {len(videos)} videos ({context} context frames, {frames} generated, the truth) to {path} "
                f"and {Path(path).with_suffix('.gif')}")

    def export_signatures(self):
        """`serve`: `video` (batch, frames, H, W, C) float32 grey levels -> `log_prob` (batch,) in nats."""
        import tensorflow as tf

        def serve(video):
            return {"log_prob": -ops.sum(self.frame_nats(video, self(video, training=False)), axis=1)}

        spec = tf.TensorSpec(shape=(None, None) + self.frame_shape, dtype=tf.float32, name="video")
        return [("serve", serve, [spec])]

    def serving_examples(self, x):
        return {"serve": ServingExample.outputs({"video": np.asarray(x, "float32")}, {"log_prob": self.log_prob(x)},
                                                rtol=1e-4)}
