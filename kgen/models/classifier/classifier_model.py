"""Digit classifiers: the instruments `kgen.quality` measures samples with (the FID recipe with a classifier of
this project's own data, its confidence, the accuracy at a conditioned label).

`DigitClassifier` reads 28x28 digits (grey levels, or binary ones: it is trained behind `RandomBinarize`);
`SpokenDigitClassifier` reads mu-law coded speech of any length (the codes WaveNet generates and the FSDD loader
gives) through a log spectrogram. Both are trained by their own recipes (`kgen train digit_classifier_mnist`,
`kgen train spoken_digit_classifier_fsdd`) on the data's labels and ship as presets. The layer named "features"
(the penultimate one) gives the features of the Frechet distance.
"""

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.log_spectrogram import LogSpectrogram
from kgen.layers.random_binarize import RandomBinarize
from kgen.models.kgen_model import (
    KgenModel,
    check_labels,
    check_model_kwargs,
    concrete_array,
    dict_entry,
    first_data_inputs,
    format_result_line,
    metric_summary,
    weighted_mean_loss,
)
from kgen.validation import check_float, check_int

FEATURES_LAYER = "features"


def _check_widths(filters, owner):
    if isinstance(filters, (str, bytes)) or not hasattr(filters, "__len__") or len(filters) < 1:
        raise ValueError(f"{owner}: `filters` must be a non-empty list of positive ints, got {filters!r}.")
    return [check_int(f, "filters", owner=owner) for f in filters]


def _head(x, feature_dim, dropout, num_classes):
    """Global features -> the named feature layer -> dropout -> float32 logits."""
    features = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    features = layers.Dropout(dropout, name="dropout")(features)
    return layers.Dense(num_classes, name="logits", dtype="float32")(features)


class Classifier(KgenModel):
    """Base of the classifiers: a functional graph from {`data_key`: data} to class logits, trained with the
    cross-entropy at the data's labels (the training data carries them: `conditional` is True, so a recipe loads
    `with_labels`). The graph takes the data alone; the labels only reach the loss."""

    #: The key of the data in a batch dict ("images", "tokens").
    data_key = None

    #: The weight of the outlier term of the training loss (outlier exposure, Hendrycks, Mazeika & Dietterich 2019):
    #: in training, a batch of made-up examples that are not the data (`outlier_examples`) follows the real batch
    #: through the network, and their cross-entropy against the uniform distribution joins the loss, so the judge's
    #: confidence is low on what does not look like its data (without it, a convolutional classifier is as sure of
    #: uniform noise as of a digit). 0: none.
    outlier_weight = 0.0

    def _setup_classifier(self, num_classes, outlier_weight=0.0):
        self.num_classes = num_classes
        self.outlier_weight = outlier_weight
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.nats_tracker = keras.metrics.Mean(name="nats")
        if outlier_weight > 0:
            self.outlier_seeds = keras.random.SeedGenerator(0)
        object.__setattr__(self, "_kgen_heads", None)

    def outlier_examples(self, data):
        """Made-up examples shaped like the batch `data` that are not the data (see `outlier_weight`)."""
        raise NotImplementedError(f"{type(self).__name__} sets outlier_weight and must define outlier_examples.")

    def call(self, inputs, training=None, mask=None):
        data = inputs[self.data_key] if isinstance(inputs, dict) else inputs  # the graph takes the data alone
        if training and self.outlier_weight > 0:
            data = ops.concatenate([data, ops.cast(self.outlier_examples(data), data.dtype)], axis=0)
        return super().call({self.data_key: data}, training=training, mask=mask)

    def model_inputs(self, x, labels=None):
        """{data_key: x}, with the `labels` a training batch carries when given (the graph ignores them)."""
        return {self.data_key: x} if labels is None else {self.data_key: x, "labels": labels}

    # ----------------------------------------------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The cross-entropy at `x["labels"]` (y and sample_weight, the FSDD loader's per-sample targets and padding
        weights, are not a classifier's)."""
        labels = ops.cast(ops.reshape(x["labels"], (-1,)), "int32")
        logits = ops.cast(y_pred, "float32")
        count = ops.shape(labels)[0]
        real = logits[:count]  # in training the outliers' logits follow (see `call`)
        nats = keras.losses.sparse_categorical_crossentropy(labels, real, from_logits=True)
        correct = ops.cast(ops.equal(ops.cast(ops.argmax(real, axis=-1), "int32"), labels), "float32")
        self.nats_tracker.update_state(nats)
        self.accuracy_tracker.update_state(correct)
        loss = weighted_mean_loss(nats, None, self.losses)
        if training and self.outlier_weight > 0:
            uniform_nats = -ops.mean(ops.log_softmax(logits[count:], axis=-1), axis=-1)
            loss = loss + self.outlier_weight * ops.mean(uniform_nats)
        return loss

    def _validate_data(self, data, name):
        first = first_data_inputs(data, name, f"a dict {{{self.data_key!r}: ..., 'labels': ...}}")
        if not isinstance(first, dict) or "labels" not in first:
            raise ValueError(f"`{name}` must be a dict {{{self.data_key!r}: ..., 'labels': ...}} for a "
                             f"{type(self).__name__} (kgen.data.load(..., with_labels=True) gives one).")
        value = dict_entry(first, self.data_key, name)
        labels = concrete_array(first["labels"])
        if labels is not None:
            check_labels(labels.reshape(-1), labels.size, self.num_classes, type(self).__name__, f"{name}['labels']")
        arr = concrete_array(value)
        if arr is not None:
            self.validate_data(arr, name)

    # ----------------------------------------------------------------------------------------------- inference
    def _heads(self):
        """A functional model from the data to (features, logits), built once, not tracked."""
        if self._kgen_heads is None:
            object.__setattr__(self, "_kgen_heads", keras.Model(
                self.inputs, [self.get_layer(FEATURES_LAYER).output, self.outputs[0]]))
        return self._kgen_heads

    def classify(self, x, batch_size=256):
        """(probabilities (batch, num_classes), features (batch, feature_dim)) of data `x`, as float64 numpy arrays:
        the softmax of the logits and the output of the "features" layer (inference mode: no dropout, no
        binarisation)."""
        batch_size = check_int(batch_size, "batch_size")
        x = self.validate_data(x, "x")
        probs, feats = [], []
        heads = self._heads()
        for i in range(0, len(x), batch_size):
            f, logits = heads(self.model_inputs(ops.convert_to_tensor(x[i:i + batch_size])), training=False)
            probs.append(ops.convert_to_numpy(ops.softmax(ops.cast(logits, "float32"), axis=-1)))
            feats.append(ops.convert_to_numpy(ops.cast(f, "float32")))
        if not probs:
            width = int(self.get_layer(FEATURES_LAYER).units)
            return np.zeros((0, self.num_classes)), np.zeros((0, width))
        return np.concatenate(probs).astype("float64"), np.concatenate(feats).astype("float64")

    def reference_outputs(self, x, labels=None):
        probs, _ = self.classify(x)
        return np.log(np.maximum(probs, 1e-30))

    def evaluation_summary(self, result, data, dataset):
        return metric_summary(result, self.accuracy_tracker, "accuracy", "nats")

    def result_line(self, model_name, summary):
        measures = f"accuracy {summary['accuracy']:.4f}, cross-entropy {summary['nats']:.4f} nats"
        return format_result_line(model_name, summary, "examples", measures)


@keras.saving.register_keras_serializable(package="kgen")
class DigitClassifier(Classifier):
    """A small convolutional classifier of digit images (MNIST), with the penultimate "features" layer of the
    Frechet distance.

    Pixel levels 0..input_levels-1 (as the MNIST loaders give them) are scaled to [0, 1]; in training a fraction
    `binarize_rate` of each batch is binarised at random (`RandomBinarize`), so binary samples read as well as grey
    ones. Then pairs of 3x3 convolutions with ReLU and 2x2 max pooling for each width of `filters` but the last, one
    3x3 convolution of the last width, global average pooling, the "features" layer (Dense, ReLU), dropout and the
    class logits.

    Args:
        image_shape: (height, width, channels) of the inputs.
        num_classes: the number of classes.
        input_levels: the number of pixel levels of the inputs (256: 0..255; 2: 0/1).
        filters: the convolution widths.
        feature_dim: the width of the "features" layer.
        dropout: the dropout rate after it, in training.
        binarize_rate: the fraction of training examples binarised at random.
        outlier_weight: the weight of the outlier term of the loss (`Classifier.outlier_weight`; its outliers:
            `outlier_examples`); 0: none.
    """

    data_key = "images"

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, input_levels=256, filters=(32, 64, 128),
                 feature_dim=128, dropout=0.3, binarize_rate=0.5, outlier_weight=0.5, **kwargs):
        owner = "DigitClassifier"
        check_model_kwargs(kwargs, owner)
        if not hasattr(image_shape, "__len__") or len(image_shape) != 3:
            raise ValueError(f"{owner}: `image_shape` must be (height, width, channels), got {image_shape!r}.")
        image_shape = tuple(check_int(d, "image_shape", owner=owner) for d in image_shape)
        num_classes = check_int(num_classes, "num_classes", minimum=2, owner=owner)
        input_levels = check_int(input_levels, "input_levels", minimum=2, owner=owner)
        filters = _check_widths(filters, owner)
        feature_dim = check_int(feature_dim, "feature_dim", owner=owner)
        dropout = check_float(dropout, "dropout", owner, inclusive=True)
        binarize_rate = check_float(binarize_rate, "binarize_rate", owner, inclusive=True)
        outlier_weight = check_float(outlier_weight, "outlier_weight", owner, inclusive=True)
        if dropout >= 1.0 or binarize_rate >= 1.0:
            raise ValueError(f"{owner}: `dropout` and `binarize_rate` must be below 1, got {dropout}, "
                             f"{binarize_rate}.")

        images = keras.Input(image_shape, name="images")
        x = layers.Rescaling(1.0 / (input_levels - 1), name="scale")(images)
        x = RandomBinarize(binarize_rate, name="binarize")(x)
        for i, width in enumerate(filters[:-1]):
            for j in range(2):
                x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv_{i}_{j}")(x)
            x = layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")(x)
        x = layers.Conv2D(filters[-1], 3, padding="same", activation="relu", name="conv_last")(x)
        x = layers.GlobalAveragePooling2D(name="pool_global")(x)
        logits = _head(x, feature_dim, dropout, num_classes)
        super().__init__(inputs={"images": images}, outputs=logits, **kwargs)
        self._record_config(image_shape=image_shape, num_classes=num_classes, input_levels=input_levels,
                            filters=filters, feature_dim=feature_dim, dropout=dropout, binarize_rate=binarize_rate,
                            outlier_weight=outlier_weight)
        self._setup_classifier(num_classes, outlier_weight)

    def outlier_examples(self, data):
        """Pictures that are not digits, one per example of `data`, in pixel levels: a third binary blobs (7x7
        noise, upsampled and thresholded), a third binary noise of 2-50% ink, a third grey noise."""
        h, w, c = self.image_shape
        shape = ops.shape(data)
        per_example = (shape[0], 1, 1, 1)
        seeds = self.outlier_seeds
        coarse = keras.random.uniform((shape[0], max(1, h // 4), max(1, w // 4), c), seed=seeds)
        smooth = ops.image.resize(coarse, (h, w), interpolation="bilinear")
        blobs = ops.cast(smooth > keras.random.uniform(per_example, 0.45, 0.75, seed=seeds), "float32")
        noise = ops.cast(keras.random.uniform(shape, seed=seeds)
                         < keras.random.uniform(per_example, 0.02, 0.5, seed=seeds), "float32")
        grey = keras.random.uniform(shape, seed=seeds)
        kind = keras.random.uniform(per_example, seed=seeds)
        pictures = ops.where(kind < 1.0 / 3.0, blobs, ops.where(kind < 2.0 / 3.0, noise, grey))
        return pictures * float(self.input_levels - 1)

    def validate_data(self, x, name="x"):
        """`x` as float32 pixel levels (batch, *image_shape) in 0..input_levels-1, or a ValueError naming `name`."""
        arr = np.asarray(x)
        if arr.ndim != 4 or tuple(arr.shape[1:]) != self.image_shape:
            raise ValueError(f"`{name}` must have shape {(None,) + self.image_shape} (batch, height, width, "
                             f"channels) for this DigitClassifier, got {arr.shape}.")
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"`{name}` must hold numbers, got dtype {arr.dtype}.")
        arr = arr.astype("float32")
        if arr.size and not (np.all(np.isfinite(arr)) and arr.min() >= 0 and arr.max() <= self.input_levels - 1):
            raise ValueError(f"`{name}` must hold pixel levels in [0, {self.input_levels - 1}].")
        return arr

    def example_inputs(self, batch_size=2, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.integers(0, self.input_levels, (batch_size,) + self.image_shape).astype("float32")
        return {"x": x}


@keras.saving.register_keras_serializable(package="kgen")
class SpokenDigitClassifier(Classifier):
    """A small convolutional classifier of spoken digits (FSDD) on the log spectrogram of mu-law coded audio of any
    length, with the penultimate "features" layer.

    `LogSpectrogram` (frames of `frame_length` samples every `frame_step`, each recording normalised to its own
    loudest value), then for each width of `filters` a 3x3 convolution with ReLU and 2x2 max pooling, global max
    pooling over time and frequency (padding and the silence around a word do not dilute it), the "features" layer,
    dropout and the class logits.

    Args:
        num_classes: the number of classes.
        quantization_channels: the number of mu-law codes of the inputs.
        frame_length, frame_step: the spectrogram's frames, in samples.
        filters: the convolution widths.
        feature_dim: the width of the "features" layer.
        dropout: the dropout rate after it, in training.
    """

    data_key = "tokens"

    def __init__(self, num_classes=10, quantization_channels=256, frame_length=256, frame_step=80,
                 filters=(16, 32, 64), feature_dim=64, dropout=0.3, **kwargs):
        owner = "SpokenDigitClassifier"
        check_model_kwargs(kwargs, owner)
        num_classes = check_int(num_classes, "num_classes", minimum=2, owner=owner)
        filters = _check_widths(filters, owner)
        feature_dim = check_int(feature_dim, "feature_dim", owner=owner)
        dropout = check_float(dropout, "dropout", owner, inclusive=True)
        if dropout >= 1.0:
            raise ValueError(f"{owner}: `dropout` must be below 1, got {dropout}.")
        spectrogram = LogSpectrogram(frame_length, frame_step, quantization_channels, name="spectrogram")

        tokens = keras.Input((None,), dtype="int32", name="tokens")
        x = spectrogram(tokens)
        for i, width in enumerate(filters):
            x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv_{i}")(x)
            x = layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")(x)
        x = layers.GlobalMaxPooling2D(name="pool_global")(x)
        logits = _head(x, feature_dim, dropout, num_classes)
        super().__init__(inputs={"tokens": tokens}, outputs=logits, **kwargs)
        self._record_config(num_classes=num_classes, quantization_channels=spectrogram.quantization_channels,
                            frame_length=spectrogram.frame_length, frame_step=spectrogram.frame_step,
                            filters=filters, feature_dim=feature_dim, dropout=dropout)
        self._setup_classifier(num_classes)

    def validate_data(self, x, name="x"):
        """`x` as int32 mu-law codes (batch, time) with time >= frame_length, or a ValueError naming `name`."""
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] < self.frame_length:
            raise ValueError(f"`{name}` must be mu-law codes of shape (batch, time) with time >= "
                             f"{self.frame_length} for this SpokenDigitClassifier, got shape {arr.shape}.")
        if not (np.issubdtype(arr.dtype, np.integer) or (np.issubdtype(arr.dtype, np.floating)
                                                         and np.all(np.mod(arr, 1) == 0))):
            raise ValueError(f"`{name}` must hold integer mu-law codes, got dtype {arr.dtype}.")
        if arr.size and (arr.min() < 0 or arr.max() >= self.quantization_channels):
            raise ValueError(f"`{name}` must hold codes in 0..{self.quantization_channels - 1}.")
        return arr.astype("int32")

    def example_inputs(self, batch_size=2, seed=0):
        rng = np.random.default_rng(seed)
        length = self.frame_length + 7 * self.frame_step
        return {"x": rng.integers(0, self.quantization_channels, (batch_size, length)).astype("int32")}
