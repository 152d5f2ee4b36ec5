"""Sample quality: numbers that say whether a model's samples look like its data (`kgen score RUN_OR_PRESET`).

Every measure of images, audio and video reads samples with a classifier of the data, trained by its own recipe and
shipped as a preset (the "judge": `digit_classifier.mnist`, `spoken_digit_classifier.fsdd`); the text measure reads
them against the training text. Each prints the model's scores between two reference rows made the same way: the real
held-out data (the ceiling) and a model of the same configuration with freshly initialised weights (the floor).

- Images (MNIST, grey or binarized): the Frechet distance between the judge's penultimate features of the samples
  and of the test digits (the FID recipe, Heusel et al. 2017, with this classifier instead of Inception; the
  reference statistics are the second half of the test split, test[5000:], and the real row is test[:N] from the
  first half, so the two never share a digit), the judge's
  mean confidence (its largest class probability), and for a class-conditional model the judge's accuracy at the
  conditioned labels.
- Audio (FSDD): the judge's accuracy at the digits WaveNet was conditioned on (chance is 0.1) and its confidence.
- Video (Moving MNIST): continuations of test sequences from their context frames; in every generated frame each
  digit's 28x28 window (its true position in the true frame, which the data set's procedure knows) is compared with
  the same window of the true frame: the bright-pixel mass (pixels >= 128) against the true one, and whether the
  judge reads the same digit in both windows. A digit is kept in a frame when its mass is at least half the true
  one's and the judge agrees; the summary is the fraction of sequences that keep both digits in every frame.

- Text (Tiny Shakespeare, bytes): samples drawn from the model's own distribution (no truncation), 256 bytes
  each from no prompt, read against the training text: `real_words`, the fraction of the samples' words (runs of
  two or more ASCII letters, case ignored, leaving out a run cut by either end of a sample) that occur in the
  training text, and `real_word_pairs`, the fraction of consecutive word pairs that occur there. The real row is
  the held-out text cut into windows of the same length; it reads no classifier: the training text is the judge.

Which measure applies is a fact of the data set (`MEASURES`, keyed by its name), as the model's run recipe or
preset names it.

>>> report = kgen.quality.score("gated_pixelcnn.mnist")       # a preset with shipped weights, a run folder, a .keras
>>> print("\\n".join(report.lines()))
"""

import dataclasses
import re

import numpy as np

#: The judge of each kind of data: a zoo preset with shipped weights.
IMAGE_JUDGE = "digit_classifier.mnist"
AUDIO_JUDGE = "spoken_digit_classifier.fsdd"

#: The image measure's reference statistics are the second half of the test split (test[5000:] of MNIST's 10,000),
#: its real row the first N digits of the first half: they never share a digit.

#: Bright pixels (grey level >= this of 0..255) are a digit's ink in the video measure.
BRIGHT = 128
#: A digit is kept in a generated frame when its window holds at least this fraction of the true window's ink.
KEPT_MASS = 0.5


@dataclasses.dataclass
class QualityReport:
    """What `score` measured.

    Attributes:
        model: the name of what was scored (the argument of `score`).
        data: the data set whose measure applied.
        judge: the classifier preset that read the samples.
        num_samples: samples (or sequences) per row.
        seed: the seed of the samples.
        rows: {"real": {...}, "model": {...}, "untrained": {...}}: each a dict of measures (see the module).
        notes: lines that say how the numbers were made.
        guidance: the classifier-free guidance scale the samples were drawn with (None: not guided).
    """

    model: str
    data: str
    judge: str
    num_samples: int
    seed: int
    rows: dict
    notes: list
    guidance: float = None

    def to_json(self):
        return dataclasses.asdict(self)

    def lines(self):
        """The printed table: one line per row and measure, the real data first."""
        measures = [m for m in self.rows["model"] if not isinstance(self.rows["model"][m], list)]
        head = f"{self.model} on {self.data}: {self.num_samples} samples, seed {self.seed}, judged by {self.judge}"
        if self.guidance is not None:
            head += f", guidance {self.guidance:g}"
        out = [head, f"{'':24s}" + "".join(f"{name:>14s}" for name in ("real", "model", "untrained"))]
        for m in measures:
            cells = [self.rows[r].get(m) for r in ("real", "model", "untrained")]
            out.append(f"{m:24s}" + "".join(f"{_fmt(c):>14s}" for c in cells))
        per_frame = self.rows["model"].get("per_frame")
        if per_frame:
            out.append("per generated frame (model): " + ", ".join(
                f"{k + 1}: mass {f['mass_ratio']:.2f} agree {f['agreement']:.2f}" for k, f in enumerate(per_frame)))
        return out + [f"note: {n}" for n in self.notes]


def _fmt(value):
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


# ------------------------------------------------------------------------------------------- the numbers
def gaussian_statistics(features):
    """(mean, covariance) of features (N, D), N >= 2, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"`features` must be (N, D) with N >= 2, got shape {f.shape}.")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(stats_a, stats_b):
    """The Frechet distance between two Gaussians given as (mean, covariance):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (scipy's matrix square root; its small imaginary part from
    rounding is dropped, and a singular product gets a tiny ridge as in the FID reference code)."""
    import warnings
    from scipy import linalg

    (mu_a, s_a), (mu_b, s_b) = stats_a, stats_b
    with warnings.catch_warnings():  # features with dead (always-zero) units give a singular product: handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(s_a @ s_b)
    if not np.all(np.isfinite(root)):
        ridge = np.eye(len(s_a)) * 1e-6
        root = linalg.sqrtm((s_a + ridge) @ (s_b + ridge))
    root = np.real(root)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(root))
    return max(value, 0.0)


def judge_scores(judge, data, labels=None, reference=None):
    """The judge's reading of `data` (in its input scale): {"confidence", and with `labels` "accuracy", and with
    `reference` (gaussian_statistics of real features) "frechet_distance"}."""
    probs, features = judge.classify(data)
    out = {}
    if reference is not None:
        out["frechet_distance"] = frechet_distance(gaussian_statistics(features), reference)
    out["confidence"] = float(probs.max(axis=1).mean())
    if labels is not None:
        out["accuracy"] = float((probs.argmax(axis=1) == np.asarray(labels)).mean())
    return out


def untrained_copy(model, seed=0):
    """A model of `model`'s class and configuration with freshly initialised weights (seeded): the floor row."""
    import keras

    keras.utils.set_random_seed(int(seed))
    return type(model).from_config(model.untrained_config())


def _balanced_labels(model, num):
    return None if not model.conditional else (np.arange(num) % model.num_classes).astype("int32")


# ------------------------------------------------------------------------------------------- the measures
#: The pixel levels of each image data set the image measure reads (its samples come in the same levels).
IMAGE_LEVELS = {"mnist": 256, "binarized_mnist": 2}


def score_images(model, data, judge, num_samples, seed, source=None, **sample_options):
    """The image measure (see the module) for a model trained on `data` ("mnist" or "binarized_mnist")."""
    from kgen import data as kdata

    to_judge = (judge.input_levels - 1) / (IMAGE_LEVELS[data] - 1)
    test, test_labels = kdata.load_arrays(data, "test", source=source)
    half = len(test) // 2
    _, reference_features = judge.classify(test[half:] * to_judge)
    reference = gaussian_statistics(reference_features)
    num_real = min(num_samples, half)
    real, real_labels = test[:num_real], test_labels[:num_real]
    rows = {"real": judge_scores(judge, real * to_judge, real_labels if model.conditional else None, reference)}
    labels = _balanced_labels(model, num_samples)
    for row, generator in (("model", model), ("untrained", untrained_copy(model, seed))):
        samples = generator.sample(num_samples, seed=seed, labels=labels, **sample_options)
        rows[row] = judge_scores(judge, np.asarray(samples, "float32") * to_judge, labels, reference)
    notes = [f"Frechet distance in the judge's {reference_features.shape[1]} penultimate features against the "
             f"{len(test) - half} test digits test[{half}:]; real row: {data} test[:{num_real}]"]
    if model.conditional:
        notes.append(f"accuracy: the judge's label equals the conditioned one ({model.num_classes} classes, "
                     f"balanced)")
    return rows, notes


def _pad_codes(sequences, pad_code):
    longest = max(len(s) for s in sequences)
    out = np.full((len(sequences), longest), pad_code, dtype="int32")
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
    return out


def score_audio(model, data, judge, num_samples, seed, source=None, seconds=1.0, **sample_options):
    """The audio measure (see the module) for a digit-conditioned model of FSDD's mu-law codes."""
    from kgen import audio
    from kgen import data as kdata

    if not model.conditional:
        raise ValueError(f"`model` is not class-conditional: the audio measure is the judge's accuracy at the digit "
                         f"a model was conditioned on; {type(model).__name__} takes no labels.")
    waves, digits, _ = kdata.load_arrays(data, "test", source=source)
    pad = judge.quantization_channels // 2
    real = _pad_codes([audio.mu_law_encode(np.clip(w, -1.0, 1.0), judge.quantization_channels) for w in waves], pad)
    rows = {"real": judge_scores(judge, real, digits)}
    labels = _balanced_labels(model, num_samples)
    length = int(round(seconds * model.sample_rate))
    for row, generator in (("model", model), ("untrained", untrained_copy(model, seed))):
        tokens = generator.sample(num_samples, length, seed=seed, labels=labels, **sample_options)
        rows[row] = judge_scores(judge, np.asarray(tokens, "int32"), labels)
    notes = [f"real row: the {len(waves)} {data} test recordings; samples of {seconds:g} s, digits balanced; "
             f"accuracy: the judge's digit equals the conditioned one (chance 0.1)"]
    return rows, notes


def digit_windows(frames, positions, size=28):
    """The (size x size) window of every digit in every frame: frames (N, T, H, W, 1), positions (N, T, D, 2) of
    top-left corners -> (N, T, D, size, size, 1)."""
    n, t, d = positions.shape[:3]
    out = np.zeros((n, t, d, size, size, 1), dtype=frames.dtype)
    for i in range(n):
        for k in range(t):
            for j in range(d):
                r, c = positions[i, k, j]
                out[i, k, j] = frames[i, k, r:r + size, c:c + size]
    return out


def _video_row(judge, generated, truth, positions):
    """Per-frame ink and agreement of generated frames against the true frames, with the digits' positions."""
    gen_w = digit_windows(generated, positions).astype("float32")
    true_w = digit_windows(truth, positions).astype("float32")
    n, t, d = gen_w.shape[:3]
    ink_gen = (gen_w >= BRIGHT).sum(axis=(3, 4, 5))
    ink_true = np.maximum((true_w >= BRIGHT).sum(axis=(3, 4, 5)), 1)
    mass = ink_gen / ink_true
    scale = (judge.input_levels - 1) / 255.0
    probs_gen, _ = judge.classify(gen_w.reshape((-1, 28, 28, 1)) * scale)
    probs_true, _ = judge.classify(true_w.reshape((-1, 28, 28, 1)) * scale)
    agree = (probs_gen.argmax(axis=1) == probs_true.argmax(axis=1)).reshape((n, t, d))
    kept = (mass >= KEPT_MASS) & agree
    per_frame = [{"mass_ratio": float(np.minimum(mass[:, k], 2.0).mean()), "agreement": float(agree[:, k].mean()),
                  "kept": float(kept[:, k].mean())} for k in range(t)]
    return {
        "both_kept_all_frames": float(kept.all(axis=(1, 2)).mean()),
        "kept": float(kept.mean()),
        "mass_ratio": float(np.minimum(mass, 2.0).mean()),
        "agreement": float(agree.mean()),
        "per_frame": per_frame,
    }


def score_video(model, data, judge, num_samples, seed, source=None, num_frames=10, **sample_options):
    """The video measure (see the module) for a model of Moving MNIST continuing test sequences."""
    from kgen.data import moving_mnist

    context_frames = model.num_context_frames
    total = context_frames + num_frames
    frame_size = model.frame_shape[0]
    if frame_size < moving_mnist.DIGIT_SIZE:
        raise ValueError(f"`model` makes {frame_size}x{frame_size} frames: the video measure reads 28x28 digit "
                         f"windows, so it needs frames of at least {moving_mnist.DIGIT_SIZE} pixels.")
    split = f"test[:{num_samples}]"
    videos, positions = moving_mnist.load_with_positions(data, split, source=source, num_frames=total,
                                                         frame_size=frame_size)
    context, truth = videos[:, :context_frames], videos[:, context_frames:]
    positions = positions[:, context_frames:]
    rng = np.random.default_rng(seed)
    binarized_truth = np.where(rng.uniform(0, 255, truth.shape) < truth, 255, 0).astype("uint8")
    rows = {"real": _video_row(judge, binarized_truth, truth, positions)}
    for row, generator in (("model", model), ("untrained", untrained_copy(model, seed))):
        generated = generator.sample(context, num_frames, seed=seed, **sample_options)
        rows[row] = _video_row(judge, generated, truth, positions)
    notes = [f"{num_samples} sequences of {data} {split}: {context_frames} context frames, {num_frames} generated; "
             f"each digit's 28x28 window at its true position; kept: ink (pixels >= {BRIGHT}) at least "
             f"{KEPT_MASS:g} of the true window's and the judge reads the same digit in both; real row: the true "
             f"frames binarised at random (as the model draws 0/255 pixels)"]
    return rows, notes


#: A word of the text measure: a run of ASCII letters, at least this long.
MIN_WORD_LETTERS = 2
_WORD = re.compile(rb"[A-Za-z]{%d,}" % MIN_WORD_LETTERS)
#: Bytes per sample of the text measure (or the model's max_length where that is shorter).
TEXT_SAMPLE_LENGTH = 256


def text_words(window):
    """The words of one window of byte tokens (any int sequence of 0..255): runs of at least MIN_WORD_LETTERS ASCII
    letters, lowercased, in order, leaving out a run that touches either end of the window (it may be cut)."""
    text = np.asarray(window, dtype=np.uint8).tobytes()
    return [m.group().lower() for m in _WORD.finditer(text) if m.start() > 0 and m.end() < len(text)]


def text_vocabulary(tokens):
    """(words, word pairs) of a text's byte tokens: every word (`text_words` of the whole text) and every pair of
    consecutive words, as sets."""
    words = text_words(tokens)
    return set(words), set(zip(words, words[1:]))


def text_scores(windows, vocabulary):
    """{"real_words", "real_word_pairs", "words"} of windows of byte tokens against `text_vocabulary` of a text:
    the fraction of their words that occur in it, of their consecutive word pairs that occur in it, and how many
    words were read (a fraction of none is 0)."""
    words, pairs = vocabulary
    found = total = found_pairs = total_pairs = 0
    for window in windows:
        w = text_words(window)
        found += sum(word in words for word in w)
        total += len(w)
        found_pairs += sum(pair in pairs for pair in zip(w, w[1:]))
        total_pairs += max(len(w) - 1, 0)
    return {"real_words": found / total if total else 0.0,
            "real_word_pairs": found_pairs / total_pairs if total_pairs else 0.0,
            "words": total}


def score_text(model, data, judge, num_samples, seed, source=None, **sample_options):
    """The text measure (see the module) for an unconditional byte model of `data` ("tinyshakespeare")."""
    from kgen import data as kdata

    if not model.samples_text:
        raise ValueError(f"`model` must be an unconditional byte-level sequence model (256 levels, no labels or "
                         f"features) for the text measure; {type(model).__name__} {model.name!r} is not.")
    length = min(TEXT_SAMPLE_LENGTH, model.max_length or TEXT_SAMPLE_LENGTH)
    vocabulary = text_vocabulary(kdata.load_arrays(data, "train", source=source))
    test = np.asarray(kdata.load_arrays(data, "test", source=source))
    starts = np.linspace(0, len(test) - length, num_samples).astype(int)
    rows = {"real": text_scores([test[s:s + length] for s in starts], vocabulary)}
    for row, generator in (("model", model), ("untrained", untrained_copy(model, seed))):
        tokens = generator.sample(num_samples, length, seed=seed, sampler="random", **sample_options)
        rows[row] = text_scores(tokens, vocabulary)
    notes = [f"{num_samples} samples of {length} bytes from no prompt, drawn from the model's distribution (sampler "
             f"'random'); words: runs of >= {MIN_WORD_LETTERS} ASCII letters, case ignored, a run cut by a window's "
             f"end left out; real_words / real_word_pairs: the fraction of words / consecutive word pairs that occur "
             f"in the {data} training text ({len(vocabulary[0]):,} words, {len(vocabulary[1]):,} pairs); real row: "
             f"{num_samples} windows of {length} bytes spread evenly over the {len(test):,} held-out bytes"]
    return rows, notes


#: The measure of each data set: (function, judge preset or None for a measure that reads no classifier,
#: default number of samples).
MEASURES = {
    "mnist": (score_images, IMAGE_JUDGE, 256),
    "binarized_mnist": (score_images, IMAGE_JUDGE, 256),
    "fsdd": (score_audio, AUDIO_JUDGE, 50),
    "moving_mnist": (score_video, IMAGE_JUDGE, 20),
    "tinyshakespeare": (score_text, None, 128),
}


# ------------------------------------------------------------------------------------------- the entry points
def score(target, num_samples=None, seed=0, data=None, source=None, judge=None, guidance=None):
    """Measure the samples of a trained model against its data (see the module): `kgen score TARGET`.

    Args:
        target: a run folder, a `.keras` file, a preset folder, or a zoo preset with shipped weights.
        num_samples: samples per row (default: the measure's, `MEASURES`).
        seed: the seed of the samples and of the untrained model's weights.
        data: the data set (default: the run's recipe's, else the preset's `data`).
        source: where the data is read from (`kgen.data.load`'s `source`; default: the run's, else automatic).
        judge: the classifier, anything `target` may be (default: the measure's shipped preset).
        guidance: draw the samples (the model's and the untrained floor's) with classifier-free guidance of this
            scale (`sample`'s `guidance`: a class-conditional model with a null label); None: not guided.

    Returns:
        A `QualityReport`.

    Raises:
        ValueError: a data set with no measure, a model that cannot be measured on it, a bad argument.
    """
    from kgen import training

    model, recipe = training.load_target(target)
    if recipe is not None:
        data = recipe["data"]["name"] if data is None else data
        source = recipe["data"].get("source") if source is None else source
    judge_model = None if judge is None else training.load_target(judge)[0]
    return score_model(model, data=data, num_samples=num_samples, seed=seed, source=source, judge=judge_model,
                       name=str(target), judge_name=None if judge is None else str(judge), guidance=guidance)


def score_model(model, data=None, num_samples=None, seed=0, source=None, judge=None, name=None, judge_name=None,
                guidance=None):
    """`score` for a model in memory: `data` defaults to the model's own (`default_data`, its preset's), `judge`
    (a classifier model) to the measure's shipped preset."""
    from kgen import training
    from kgen.validation import check_guidance, check_int

    if data is None:
        table = model.default_data()
        if table is None:
            raise ValueError(f"`data` is required: the model {model.name!r} names no data set (no run recipe, no "
                             f"preset data).")
        data = table["name"]
    if data not in MEASURES:
        raise ValueError(f"`data` {data!r} has no sample-quality measure; measured: {', '.join(sorted(MEASURES))}.")
    if not model.sampling_methods:
        raise ValueError(f"`model` {model.name!r} ({type(model).__name__}) does not sample: the quality measures "
                         f"read a generative model's samples.")
    measure, default_judge, default_num = MEASURES[data]
    num_samples = default_num if num_samples is None else check_int(num_samples, "num_samples", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    sample_options = {}
    if guidance is not None:
        sample_options["guidance"] = check_guidance(model, guidance)
    if default_judge is None:
        if judge is not None:
            raise ValueError(f"`judge` must be None for {data!r}: its measure reads no classifier (the training "
                             f"text is its judge).")
        judge_name = f"the {data} training text"
    elif judge is None:
        judge, judge_name = training.load_target(default_judge)[0], default_judge
    rows, notes = measure(model, data, judge, num_samples, seed, source=source, **sample_options)
    if guidance is not None:
        notes.append(f"samples drawn with classifier-free guidance, logits u + {guidance:g} (c - u), the model's and "
                     f"the untrained floor's alike")
    return QualityReport(model=name or model.zoo_name or model.name, data=data, judge=judge_name or judge.name,
                         num_samples=num_samples, seed=seed, rows=rows, notes=notes, guidance=guidance)


def measurable(names):
    """The names among `names` (zoo presets) whose models sample and whose data set has a measure."""
    from kgen import zoo

    out = []
    for name in names:
        data = zoo.default_data(name)
        if data is not None and data["name"] in MEASURES and zoo.get(name).sampling_methods:
            out.append(name)
    return out


__all__ = ["MEASURES", "measurable", "QualityReport", "digit_windows", "frechet_distance", "gaussian_statistics",
           "judge_scores", "score", "score_model", "text_scores", "text_vocabulary", "text_words", "untrained_copy"]
