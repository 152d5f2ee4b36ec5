"""Moving MNIST: two MNIST digits moving at constant speed in a 64x64 frame, bouncing off the walls.

The procedure of Srivastava, Mansimov and Salakhutdinov (2015), "Unsupervised Learning of Video Representations
using LSTMs": each sequence has ``num_digits`` (2) digits of 28x28 drawn uniformly from MNIST; each starts at a
position uniform over the free area (36x36 top-left corners in a 64x64 frame) and moves in a direction uniform on
the circle at ``SPEED`` = 3.6 pixels per frame; a digit that would leave the frame bounces (its position is
mirrored at the wall and that velocity component flips); overlapping digits are merged by the pixel-wise maximum.
A digit's top-left corner in a frame is its position rounded down.

Every sequence is a pure function of a stream seed and its index: its digits, start and direction come from
``numpy.random.default_rng([stream, seed, index])`` using only draws, +, *, / and sqrt (the direction is a
rejection-sampled point of the unit disk, normalised), so the same index gives the same frames on every machine
and any slice of a split is the same as that part of the whole split. (numpy keeps ``Generator`` streams stable in
practice but does not promise them across its versions (NEP 19); a digest in the tests would catch a change.)

Splits:

- ``"test"``: a fixed set of ``TEST_SIZE`` = 10,000 sequences made from MNIST *test* digits (stream
  ``TEST_STREAM``, seed 0), identical on every machine; ``"test[:1000]"`` is its first 1,000 sequences.
- ``"train"``: an endless stream from MNIST *training* digits, new sequences in every pass, reproducible from
  ``seed`` (``load`` only). ``"train[a:b]"`` is the finite set of sequences ``a..b-1`` of the training stream with
  that seed (for ``load_arrays`` and repeatable checks).

Sources:

- ``None``, ``"local"``, ``"tfds"``, ``"embedded"``: where the MNIST digits come from (the ``"mnist"`` data set).
  With ``"embedded"`` (8,000 train and 2,000 test digits) the sequences are made the same way but from fewer
  digits, so its test split is not the standard one.
- ``"file"``: the standard ``mnist_test_seq.npy`` of Srivastava et al. (``uint8`` of shape (20, 10000, 64, 64)) in
  ``<data_dir>/moving_mnist/`` or ``<data_dir>``, test split only, validated (shape, dtype), for comparison with
  published numbers.
"""

import functools

import numpy as np

from kgen.data import core
from kgen.data.core import parse_split
from kgen.validation import check_int

NAMES = ("moving_mnist",)
SOURCES = core.SOURCES + ("file",)
DIGIT_SIZE = 28  # MNIST digits
FRAME_SIZE = 64
NUM_FRAMES = 20
NUM_DIGITS = 2
SPEED = 3.6  # pixels per frame: 0.1 of the 36-pixel free range, as in the original procedure
TEST_SIZE = 10_000
TRAIN_STREAM = 1
TEST_STREAM = 2
ENDLESS_STREAM = 3  # the endless training stream: sequences keyed by random values, not by index
FILE_NAME = "mnist_test_seq.npy"
FILE_SHAPE = (NUM_FRAMES, TEST_SIZE, FRAME_SIZE, FRAME_SIZE)

_HOW_TO_PROVIDE_FILE = core.how_to_provide(
    "the standard Moving MNIST test file", f"moving_mnist/{FILE_NAME} (or {FILE_NAME} itself)",
    others=("leave source=None to generate the sequences from MNIST digits",),
)


# ----------------------------------------------------------------------------
# The procedure
# ----------------------------------------------------------------------------


def sequence_parameters(stream, seed, indices, num_source_digits, num_digits=NUM_DIGITS, frame_size=FRAME_SIZE):
    """The random choices of the sequences ``indices`` of a stream.

    Args:
        stream: ``TRAIN_STREAM`` or ``TEST_STREAM``.
        seed: a non-negative integer.
        indices: non-negative integers, one per sequence.
        num_source_digits: how many MNIST digits the digits are drawn from.
        num_digits: digits per sequence.
        frame_size: the frame's side; positions are uniform over ``[0, frame_size - 28]``.

    Returns:
        ``(digits int64 (N, num_digits), start float64 (N, num_digits, 2), direction float64 (N, num_digits, 2))``:
        the MNIST indices, the (row, column) start positions and unit direction vectors.
    """
    free = float(frame_size - DIGIT_SIZE)
    count = len(indices)
    digits = np.empty((count, num_digits), np.int64)
    start = np.empty((count, num_digits, 2))
    direction = np.empty((count, num_digits, 2))
    for n, index in enumerate(indices):
        rng = np.random.default_rng([int(stream), int(seed), int(index)])
        digits[n] = rng.integers(0, num_source_digits, size=num_digits)
        start[n] = rng.uniform(0.0, free, size=(num_digits, 2))
        for d in range(num_digits):
            while True:  # a uniform direction: a point of the unit disk (not too near 0), normalised
                v = rng.uniform(-1.0, 1.0, size=2)
                r2 = v[0] * v[0] + v[1] * v[1]
                if 1e-4 < r2 <= 1.0:
                    break
            direction[n, d] = v / np.sqrt(r2)
    return digits, start, direction


def trajectories(start, direction, num_frames=NUM_FRAMES, frame_size=FRAME_SIZE, speed=SPEED):
    """Positions of every digit in every frame, bouncing off the walls.

    Args:
        start: float (N, D, 2) positions in ``[0, frame_size - 28]``.
        direction: float (N, D, 2) unit vectors.

    Returns:
        ``int64 (N, num_frames, D, 2)``: the (row, column) of each digit's top-left corner, the positions rounded
        down; frame 0 is the start.
    """
    free = float(frame_size - DIGIT_SIZE)
    position = np.array(start, dtype=np.float64)
    velocity = np.asarray(direction, dtype=np.float64) * speed
    out = np.empty(position.shape[:1] + (num_frames,) + position.shape[1:], np.int64)
    for t in range(num_frames):
        out[:, t] = np.floor(position)
        position = position + velocity
        low, high = position < 0.0, position > free
        position = np.where(low, -position, np.where(high, 2.0 * free - position, position))
        position = np.clip(position, 0.0, free)  # a frame narrower than one step (free < speed) bounces at most once
        velocity = np.where(low | high, -velocity, velocity)
    return out


def render(digit_images, positions, frame_size=FRAME_SIZE):
    """Draws the digits at their positions, merged by the pixel-wise maximum.

    Args:
        digit_images: uint8 (N, D, 28, 28).
        positions: int (N, T, D, 2) top-left corners (row, column), each in ``[0, frame_size - 28]``.

    Returns:
        uint8 (N, T, frame_size, frame_size, 1).
    """
    count, num_frames, num_digits = positions.shape[:3]
    frames = np.zeros((count, num_frames, frame_size, frame_size), np.uint8)
    offsets = np.arange(DIGIT_SIZE)
    n = np.arange(count)[:, None, None, None]
    t = np.arange(num_frames)[None, :, None, None]
    for d in range(num_digits):
        rows = (positions[:, :, d, 0, None] + offsets)[..., :, None]
        cols = (positions[:, :, d, 1, None] + offsets)[..., None, :]
        layer = np.zeros_like(frames)
        layer[n, t, rows, cols] = digit_images[:, None, d]
        np.maximum(frames, layer, out=frames)
    return frames[..., None]


def generate(mnist_images, stream, seed, indices, num_frames=NUM_FRAMES, frame_size=FRAME_SIZE,
             num_digits=NUM_DIGITS):
    """The sequences ``indices`` of a stream, made from ``mnist_images`` (uint8 (M, 28, 28[, 1])).

    Returns:
        uint8 (len(indices), num_frames, frame_size, frame_size, 1).
    """
    mnist_images = np.asarray(mnist_images).reshape((-1, DIGIT_SIZE, DIGIT_SIZE))
    digits, start, direction = sequence_parameters(stream, seed, indices, len(mnist_images), num_digits, frame_size)
    positions = trajectories(start, direction, num_frames, frame_size)
    return render(mnist_images[digits], positions, frame_size)


# ----------------------------------------------------------------------------
# The standard file
# ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _read_file_cached(path_str, mtime_ns, size):
    del mtime_ns, size
    try:
        array = np.load(path_str, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise ValueError(f"Bad Moving MNIST file {path_str}: not a numpy .npy array ({e}).") from e
    if array.dtype != np.uint8 or array.shape != FILE_SHAPE:
        raise ValueError(
            f"Bad Moving MNIST file {path_str}: {array.dtype} array of shape {array.shape}; expected uint8 of "
            f"shape {FILE_SHAPE} (frames, sequences, rows, columns), the standard {FILE_NAME}."
        )
    return array


def _read_file(data_dir):
    path, where = core.local_data_dir(data_dir, True, _HOW_TO_PROVIDE_FILE, what='source="file"')
    found = core.find_local(path, where, (path / "moving_mnist" / FILE_NAME, path / FILE_NAME),
                            f"Moving MNIST file {FILE_NAME}", _HOW_TO_PROVIDE_FILE)
    return core.read_cached(_read_file_cached, found, what="Moving MNIST file")


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def _check_args(name, split, source, data_dir, num_frames, frame_size, num_digits, seed):
    core.check_name(name, NAMES)
    base, index = parse_split(split)
    core.check_source(source, SOURCES, "moving_mnist")
    core.check_data_dir_source(data_dir, "local" if source == "file" else source)
    num_frames = check_int(num_frames, "num_frames", minimum=1)
    frame_size = check_int(frame_size, "frame_size", minimum=DIGIT_SIZE)
    num_digits = check_int(num_digits, "num_digits", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if source == "file":
        if base != "test":
            raise ValueError(f'source="file" holds only the test split, got split={split!r}.')
        standard = (NUM_FRAMES, FRAME_SIZE, NUM_DIGITS)
        if (num_frames, frame_size, num_digits) != standard:
            raise ValueError(
                f'source="file" holds sequences of {NUM_FRAMES} frames of {FRAME_SIZE}x{FRAME_SIZE} with '
                f"{NUM_DIGITS} digits; got num_frames={num_frames}, frame_size={frame_size}, "
                f"num_digits={num_digits}."
            )
    return base, index, num_frames, frame_size, num_digits, seed


def _indices(base, index, split, endless_ok):
    """The sequence indices a split selects (None for the endless training stream)."""
    if base == "test":
        indices = range(TEST_SIZE)[index]
    elif index == slice(None, None):
        if not endless_ok:
            raise ValueError(
                f"split={split!r} is the endless training stream; load_arrays needs a finite slice such as "
                "'train[:1000]'."
            )
        return None
    else:
        if (index.start is not None and index.start < 0) or index.stop is None or index.stop < 0:
            raise ValueError(
                f"split={split!r}: a slice of the endless training stream needs a non-negative start and stop, "
                "such as 'train[:1000]' or 'train[5000:6000]'."
            )
        indices = range(index.stop)[index]
    if len(indices) == 0:
        raise ValueError(f"split={split!r} selects no sequences.")
    return indices


def _mnist_digits(base, data_dir, source):
    """The MNIST digits of the base split, through the registry (data set modules do not import each other)."""
    return core.DATASETS["mnist"].load_arrays("mnist", base, data_dir=data_dir, source=source)[0]


def load_arrays(name, split="test", data_dir=None, source=None, num_frames=NUM_FRAMES, frame_size=FRAME_SIZE,
                num_digits=NUM_DIGITS, seed=0):
    """Moving MNIST sequences as a numpy array.

    Args:
        name: ``"moving_mnist"``.
        split: ``"test"``, a slice of it such as ``"test[:1000]"``, or a finite slice of the training stream such
            as ``"train[:1000]"``.
        data_dir: the data folder (default: ``KGEN_DATA_DIR``): MNIST for the generated sources, the standard
            file for ``source="file"``.
        source: ``None`` (auto), ``"local"``, ``"tfds"`` or ``"embedded"`` (where the MNIST digits come from), or
            ``"file"`` (the standard ``mnist_test_seq.npy``, test split only).
        num_frames, frame_size, num_digits: the sequences' form (standard: 20, 64, 2).
        seed: the training stream's seed (the test split is fixed and ignores it).

    Returns:
        ``uint8 (N, num_frames, frame_size, frame_size, 1)`` grey levels 0..255.

    Raises:
        ValueError: for an invalid argument (named) or a bad file.
        DataNotFoundError: when MNIST or the file cannot be found.
    """
    base, index, num_frames, frame_size, num_digits, seed = _check_args(
        name, split, source, data_dir, num_frames, frame_size, num_digits, seed)
    indices = _indices(base, index, split, endless_ok=False)
    if source == "file":
        array = _read_file(data_dir)
        return np.ascontiguousarray(np.moveaxis(array[:, indices.start:indices.stop:indices.step], 1, 0))[..., None]
    stream, seed = (TEST_STREAM, 0) if base == "test" else (TRAIN_STREAM, seed)
    return generate(_mnist_digits(base, data_dir, source), stream, seed, indices, num_frames, frame_size, num_digits)


def load_with_positions(name, split="test", data_dir=None, source=None, num_frames=NUM_FRAMES, frame_size=FRAME_SIZE,
                        num_digits=NUM_DIGITS, seed=0):
    """``load_arrays``'s sequences with where each digit is in each frame (what the procedure knows): the sample
    measure of ``kgen.quality`` compares a digit's window in a generated frame with the same window of the true one.

    Returns:
        ``(videos uint8 (N, num_frames, frame_size, frame_size, 1), positions int64 (N, num_frames, num_digits, 2))``:
        the frames and the (row, column) of every digit's 28x28 top-left corner.

    Raises:
        ValueError: ``source="file"`` (the standard file records no positions) or what ``load_arrays`` refuses.
    """
    if source == "file":
        raise ValueError('source="file": the standard Moving MNIST file records no digit positions; leave source '
                         "None to make the sequences (and know their positions) from MNIST digits.")
    base, index, num_frames, frame_size, num_digits, seed = _check_args(
        name, split, source, data_dir, num_frames, frame_size, num_digits, seed)
    indices = _indices(base, index, split, endless_ok=False)
    stream, seed = (TEST_STREAM, 0) if base == "test" else (TRAIN_STREAM, seed)
    mnist_images = np.asarray(_mnist_digits(base, data_dir, source)).reshape((-1, DIGIT_SIZE, DIGIT_SIZE))
    digits, start, direction = sequence_parameters(stream, seed, indices, len(mnist_images), num_digits, frame_size)
    positions = trajectories(start, direction, num_frames, frame_size)
    return render(mnist_images[digits], positions, frame_size), positions


def load(name, split="train", batch_size=16, shuffle=None, seed=0, drop_remainder=False, data_dir=None,
         source=None, num_frames=NUM_FRAMES, frame_size=FRAME_SIZE, num_digits=NUM_DIGITS):
    """Moving MNIST as a batched, prefetched ``tf.data.Dataset`` of ``float32 (B, T, H, W, 1)`` grey levels 0..255.

    Sequences are made as they are read (in parallel, several batches ahead), so the endless training stream
    costs no memory.

    Args:
        name: ``"moving_mnist"``.
        split: ``"train"`` (the endless stream: new sequences in every pass, reproducible from ``seed``; use
            ``steps_per_epoch`` with ``fit``), a slice ``"train[a:b]"`` (finite), ``"test"`` or a slice of it.
        batch_size: a positive integer.
        shuffle: whether to shuffle a finite split (seeded, reshuffled every pass); the default is True for train
            slices and False for test. The endless stream is random already.
        seed: a non-negative integer: the training stream and the shuffle.
        drop_remainder: whether to drop the last partial batch.
        data_dir, source, num_frames, frame_size, num_digits: see ``load_arrays``.

    Returns:
        A ``tf.data.Dataset``.
    """
    base, index, num_frames, frame_size, num_digits, seed = _check_args(
        name, split, source, data_dir, num_frames, frame_size, num_digits, seed)
    _, batch_size, shuffle, seed, drop_remainder = core.pipeline_args(split, batch_size, shuffle, seed,
                                                                      drop_remainder)
    indices = _indices(base, index, split, endless_ok=True)
    shape = (num_frames, frame_size, frame_size, 1)

    import tensorflow as tf

    if source == "file":
        array = _read_file(data_dir)
        selected = np.ascontiguousarray(np.moveaxis(array[:, indices.start:indices.stop:indices.step], 1, 0))
        dataset = core.shuffled(tf.data.Dataset.from_tensor_slices(selected[..., None]), shuffle, seed)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        return core.finish(dataset, lambda x: tf.cast(x, tf.float32))

    digits = _mnist_digits(base, data_dir, source)
    if indices is None:
        # The endless stream: each sequence is keyed by a random int64, new in every pass, reproducible from seed.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        stream, stream_seed = ENDLESS_STREAM, seed
    else:
        keys = core.shuffled(tf.data.Dataset.range(indices.start, indices.stop, indices.step), shuffle, seed)
        stream, stream_seed = (TEST_STREAM, 0) if base == "test" else (TRAIN_STREAM, seed)

    def make(batch_keys):
        keys_array = np.asarray(batch_keys).astype(np.uint64)
        return generate(digits, stream, stream_seed, keys_array, num_frames, frame_size, num_digits)

    def to_frames(batch_keys):
        frames = tf.numpy_function(make, [batch_keys], tf.uint8, stateful=False)
        frames = tf.ensure_shape(frames, (None,) + shape)
        return tf.cast(frames, tf.float32)

    dataset = keys.batch(batch_size, drop_remainder=drop_remainder)
    return core.finish(dataset, to_frames)


core.register(__name__, NAMES)
