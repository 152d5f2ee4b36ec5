"""Tests for kgen.data.moving_mnist: the procedure's geometry, determinism, the pipelines and the standard file."""

import hashlib

import numpy as np
import pytest

from kgen import data
from kgen.data import moving_mnist as mm

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

FREE = mm.FRAME_SIZE - mm.DIGIT_SIZE


def _sha(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _naive_frames(digit_images, positions, frame_size=mm.FRAME_SIZE):
    """The frames drawn one digit and one frame at a time with slices (the reference for ``render``)."""
    count, num_frames, num_digits = positions.shape[:3]
    frames = np.zeros((count, num_frames, frame_size, frame_size), np.uint8)
    for n in range(count):
        for t in range(num_frames):
            for d in range(num_digits):
                r, c = positions[n, t, d]
                window = frames[n, t, r : r + mm.DIGIT_SIZE, c : c + mm.DIGIT_SIZE]
                np.maximum(window, digit_images[n, d], out=window)
    return frames[..., None]


def test_a_digit_moves_at_the_speed_and_bounces_off_each_wall():
    start = np.array([[[1.0, 20.0]], [[35.0, 20.0]]])  # one digit in each of two sequences
    direction = np.array([[[-1.0, 0.0]], [[1.0, 0.0]]])  # towards the top wall, towards the bottom wall
    rows = mm.trajectories(start, direction, num_frames=4)[..., 0]
    # 1 -> -2.6 mirrored to 2.6 -> 6.2 -> 9.8;  35 -> 38.6 mirrored to 72 - 38.6 = 33.4 -> 29.8 -> 26.2
    np.testing.assert_array_equal(rows[0, :, 0], [1, 2, 6, 9])
    np.testing.assert_array_equal(rows[1, :, 0], [35, 33, 29, 26])
    np.testing.assert_array_equal(mm.trajectories(start, direction, num_frames=4)[..., 1], 20)


@pytest.mark.parametrize("frame_size", [28, 30, 33])
def test_small_frames_keep_the_digits_inside(frame_size):
    free = frame_size - mm.DIGIT_SIZE
    digits, start, direction = mm.sequence_parameters(mm.TEST_STREAM, 0, range(50), 100, frame_size=frame_size)
    positions = mm.trajectories(start, direction, num_frames=12, frame_size=frame_size)
    assert positions.min() >= 0 and positions.max() <= free
    frames = mm.generate(np.full((100, 28, 28), 255, np.uint8), mm.TEST_STREAM, 0, range(3), num_frames=4,
                         frame_size=frame_size)
    assert frames.shape == (3, 4, frame_size, frame_size, 1) and frames.max() == 255


def test_generated_trajectories_stay_in_the_frame_at_constant_speed():
    digits, start, direction = mm.sequence_parameters(mm.TEST_STREAM, 0, range(200), 10_000)
    assert digits.shape == (200, 2) and digits.min() >= 0 and digits.max() < 10_000
    assert start.min() >= 0 and start.max() <= FREE
    np.testing.assert_allclose(np.linalg.norm(direction, axis=-1), 1.0)
    positions = mm.trajectories(start, direction, num_frames=60)
    assert positions.min() >= 0 and positions.max() <= FREE
    step = np.abs(np.diff(positions, axis=1))
    assert step.max() <= np.ceil(mm.SPEED)
    # A coordinate turns back only at a wall (within one step of it).
    moves = np.diff(positions, axis=1)
    turned = (moves[:, 1:] * moves[:, :-1]) < 0
    at = positions[:, 1:-1][turned]
    assert turned.any() and np.all((at <= np.ceil(mm.SPEED)) | (at >= FREE - np.ceil(mm.SPEED)))
    # Along its faster axis (>= 3.6 / sqrt 2 pixels a frame) a digit travels over 150 pixels in 60 frames, so it
    # goes from wall to wall and back, staying inside.
    fast = np.argmax(np.abs(direction), axis=-1)
    along = np.take_along_axis(positions, fast[:, None, :, None], axis=-1)[..., 0]
    assert np.all(along.min(axis=1) <= np.ceil(mm.SPEED)) and np.all(along.max(axis=1) >= FREE - np.ceil(mm.SPEED))
    # Directions are spread over the circle (uniform): every quadrant gets about a quarter.
    quadrant = (direction[..., 0] > 0) * 2 + (direction[..., 1] > 0)
    assert np.all(np.bincount(quadrant.ravel(), minlength=4) > 60)


def test_render_draws_each_digit_at_its_place_merged_by_the_maximum():
    rng = np.random.default_rng(0)
    digit_images = rng.integers(0, 256, size=(3, 2, 28, 28), dtype=np.uint8)
    positions = rng.integers(0, FREE + 1, size=(3, 5, 2, 2))
    positions[0, 0] = [[0, 0], [FREE, FREE]]  # the corners
    positions[1, 1] = [[10, 10], [10, 10]]  # full overlap: the maximum
    frames = mm.render(digit_images, positions)
    assert frames.shape == (3, 5, 64, 64, 1) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, _naive_frames(digit_images, positions))
    np.testing.assert_array_equal(frames[1, 1, 10:38, 10:38, 0], np.maximum(*digit_images[1]))


def test_a_generated_sequence_is_its_two_digits_on_their_trajectories():
    mnist_images = data.load_arrays("mnist", "test[:50]", source="embedded")[0]
    frames = mm.generate(mnist_images, mm.TEST_STREAM, 0, [3, 7], num_frames=6)
    digits, start, direction = mm.sequence_parameters(mm.TEST_STREAM, 0, [3, 7], 50)
    positions = mm.trajectories(start, direction, num_frames=6)
    np.testing.assert_array_equal(frames, _naive_frames(mnist_images[..., 0][digits], positions))
    assert frames.shape == (2, 6, 64, 64, 1)


def test_the_test_split_is_fixed_and_any_slice_is_that_part_of_it():
    # The choices are a pure function of (stream, seed, index): this digest is the same on every machine.
    params = mm.sequence_parameters(mm.TEST_STREAM, 0, range(100), mm.TEST_SIZE)
    assert _sha(*params) == "8362f1a5acb31d16"
    whole = data.load_arrays("moving_mnist", "test[:6]", source="embedded", num_frames=3)
    part = data.load_arrays("moving_mnist", "test[4:6]", source="embedded", num_frames=3)
    np.testing.assert_array_equal(whole[4:6], part)
    # The seed moves only the training stream.
    np.testing.assert_array_equal(
        whole, data.load_arrays("moving_mnist", "test[:6]", source="embedded", num_frames=3, seed=5))
    train = data.load_arrays("moving_mnist", "train[:2]", source="embedded", num_frames=3)
    assert not np.array_equal(train, data.load_arrays("moving_mnist", "train[:2]", source="embedded",
                                                      num_frames=3, seed=1))
    assert len(data.load_arrays("moving_mnist", "test[-3:]", source="embedded", num_frames=2)) == 3


def test_load_reads_finite_splits_in_order_and_the_training_stream_endlessly():
    test = data.load("moving_mnist", "test[:5]", batch_size=2, source="embedded", num_frames=4)
    batches = [b.numpy() for b in test]
    assert [b.shape for b in batches] == [(2, 4, 64, 64, 1)] * 2 + [(1, 4, 64, 64, 1)]
    assert batches[0].dtype == np.float32
    np.testing.assert_array_equal(
        np.concatenate(batches), data.load_arrays("moving_mnist", "test[:5]", source="embedded", num_frames=4))

    def first_batches(seed, passes=1):
        stream = data.load("moving_mnist", "train", batch_size=2, seed=seed, source="embedded", num_frames=3)
        return [next(iter(stream)).numpy() for _ in range(passes)]

    one, two = first_batches(0, passes=2)
    assert one.shape == (2, 3, 64, 64, 1) and 0 <= one.min() and one.max() <= 255 and one.max() > 100
    assert not np.array_equal(one, two)  # a new pass reads new sequences
    np.testing.assert_array_equal(one, first_batches(0)[0])  # reproducible from the seed
    assert not np.array_equal(one, first_batches(1)[0])


def test_the_standard_file_is_read_validated_and_transposed(tmp_path):
    folder = tmp_path / "moving_mnist"
    folder.mkdir()
    # A file of the standard form (sparse on disk): frames, sequences, rows, columns.
    array = np.lib.format.open_memmap(folder / mm.FILE_NAME, mode="w+", dtype=np.uint8, shape=mm.FILE_SHAPE)
    array[3, 1, 10, 20] = 200
    array[19, 9999, 63, 63] = 7
    array.flush()
    del array
    got = data.load_arrays("moving_mnist", "test[:2]", source="file", data_dir=tmp_path)
    assert got.shape == (2, 20, 64, 64, 1) and got[1, 3, 10, 20, 0] == 200 and got.sum() == 200
    assert data.load_arrays("moving_mnist", "test[-1:]", source="file", data_dir=tmp_path)[0, 19, 63, 63, 0] == 7
    batch = next(iter(data.load("moving_mnist", "test[:2]", source="file", data_dir=tmp_path)))
    np.testing.assert_array_equal(batch.numpy(), got)

    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / mm.FILE_NAME, np.zeros((20, 3, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"Bad Moving MNIST file .*shape \(20, 3, 64, 64\).*expected uint8"):
        data.load_arrays("moving_mnist", "test", source="file", data_dir=bad)
    with pytest.raises(data.DataNotFoundError, match="mnist_test_seq.npy not found"):
        data.load_arrays("moving_mnist", "test", source="file", data_dir=tmp_path / "missing")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "train"}, r"endless training stream; load_arrays needs a finite slice"),
        ({"split": "train[5:]"}, r"needs a non-negative start and stop"),
        ({"split": "test[7:7]"}, r"selects no sequences"),
        ({"split": "valid"}, r"Invalid split='valid'"),
        ({"source": "web"}, r"Unknown source='web' for moving_mnist"),
        ({"source": "file", "split": "train[:5]"}, r'source="file" holds only the test split'),
        ({"source": "file", "num_frames": 10}, r"got num_frames=10"),
        ({"frame_size": 20}, r"frame_size` must be .*>= 28"),
        ({"num_digits": 0}, r"num_digits"),
        ({"seed": -1}, r"seed"),
    ],
)
def test_bad_arguments_are_named_before_any_work(kwargs, message, tmp_path):
    kwargs = {"split": "test", "data_dir": tmp_path / "missing", **kwargs}
    if kwargs.get("source") not in (None, "local", "file"):
        kwargs.pop("data_dir")
    with pytest.raises(ValueError, match=message):
        data.load_arrays("moving_mnist", **kwargs)
    if kwargs["split"] != "train":
        with pytest.raises(ValueError, match=message):
            data.load("moving_mnist", **kwargs)
