"""Lossless compression with a model's probabilities: `kgen.compression`, `kgen.samplers.coding` and the
`kgen compress` / `kgen decompress` commands.

Every model here is tiny and untrained: the round trip must be exact whatever the probabilities are. The suite runs
once per backend (KERAS_BACKEND), and a file is decoded on the backend that made it.
"""

import math
import zlib
from pathlib import Path

import keras

import numpy as np
import pytest
from PIL import Image

from kgen import audio, cli, compression, zoo

LN2 = math.log(2.0)
TEXT = (b"To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
        b"the slings and arrows of outrageous fortune.\n")  # 131 bytes
ALL_BYTES = bytes(range(256))[::-1] + bytes(range(256))[:40]  # every byte value, 296 bytes


# ================================================================================================ helpers
def _model(name, seed=1, **overrides):
    """A tiny model with reproducible random weights."""
    keras.utils.set_random_seed(seed)
    return zoo.get(name, **overrides)


def _binary_images(n, shape=(8, 8), seed=0):
    return (np.random.default_rng(seed).random((n,) + shape) > 0.5).astype(np.uint8)


def _save_png(path, array, mode):
    """Save a (H, W) array of levels as a PNG of `mode`: "L" (the levels as they are), "1" (0/1 levels as black and
    white) or "RGB" ((H, W, 3) levels)."""
    array = np.asarray(array, dtype=np.uint8)
    if mode == "1":
        Image.fromarray(array * 255, mode="L").convert("1").save(path)
    else:
        Image.fromarray(array, mode=mode).save(path)
    return Path(path)


def _png(path):
    with Image.open(path) as img:
        img.load()
        return img.mode, np.asarray(img.convert("L") if img.mode == "1" else img).copy()


def _listing(folder):
    folder = Path(folder)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _write(folder, name, content):
    path = Path(folder) / name
    path.write_bytes(content)
    return path


def _codes(path, model):
    return audio.mu_law_encode(audio.read_wav(path)[0], model.num_levels)


def _compress(*args, **kwargs):
    """compression.compress with every item coded by the model (the tests of the model's coding; the fallback to
    stored or LZMA2 items has tests of its own in tests/test_untrusted_files.py)."""
    return compression.compress(*args, **dict({"fallback": False}, **kwargs))


def _header_and_payload(path):
    return compression.unpack(Path(path).read_bytes())


def _layout(path):
    """(header end, payload start, stored items' start) of a .kgz file: its header ends where the payload starts."""
    blob = Path(path).read_bytes()
    header, payload = compression.unpack(blob)
    stored = sum(len(item.get("chunk", b"")) for item in header["items"])
    payload_start = len(blob) - 4 - stored - len(payload)
    return payload_start, payload_start, payload_start + len(payload)


# ================================================================================================ models
@pytest.fixture(scope="module")
def binary_model():
    """pixelcnn.tiny: 8x8x1 images, Bernoulli pixels."""
    return _model("pixelcnn.tiny", seed=1)


@pytest.fixture(scope="module")
def grey_model():
    """A PixelCNN with a discretized logistic mixture over 256 grey levels (a joint-channel head)."""
    return _model("pixelcnn", seed=2, image_shape=(6, 6, 1), hidden_dim=8, num_residual_blocks=1, output_dim=8,
                  first_kernel_size=3, likelihood="logistic_mixture", num_levels=256, num_mixtures=2)


@pytest.fixture(scope="module")
def lstm():
    return _model("lstm_lm.tiny", seed=3)


@pytest.fixture(scope="module")
def bytenet():
    return _model("bytenet.tiny", seed=4)


@pytest.fixture(scope="module")
def mixture():
    """token_mixture.tiny (a tiny ByteNet and a tiny LSTM mixed), unequal mixture weights."""
    return _model("token_mixture.tiny", seed=6, mixture_weights=[0.7, 0.3])


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    """lstm_lm.tiny saved as a .keras file, for the CLI."""
    model = _model("lstm_lm.tiny", seed=5)
    path = tmp_path_factory.mktemp("model") / "lstm.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def kgz(tmp_path_factory, lstm):
    """A .kgz file of two text files made with `lstm`, and its inputs."""
    folder = tmp_path_factory.mktemp("kgz")
    inputs = [_write(folder, "a.txt", TEXT), _write(folder, "b.bin", ALL_BYTES[:90])]
    out = folder / "texts.kgz"
    _compress(lstm, inputs, out, model_name="lstm_lm.tiny")
    return out, {p.name: p.read_bytes() for p in inputs}


# ================================================================================================ round trips
def test_binary_png_round_trip_keeps_pixels_and_modes(binary_model, tmp_path):
    images = _binary_images(4)
    inputs = [
        _save_png(tmp_path / "a.png", images[0] * 255, "L"),  # "L" holding 0 and 255
        _save_png(tmp_path / "b.png", images[1], "1"),  # black and white
        _save_png(tmp_path / "c.png", images[2], "L"),  # "L" holding 0 and 1
        _save_png(tmp_path / "d.png", np.zeros((8, 8)), "1"),  # all black
        _save_png(tmp_path / "e.png", np.full((8, 8), 255), "L"),  # all white
    ]
    before = {p.name: _png(p) for p in inputs}
    report = _compress(binary_model, inputs, tmp_path / "x.kgz", model_name="pixelcnn.tiny",
                                  batch_size=2)  # batches of 2, 2 and 1
    assert report["inputs"] == 5 and report["kind"] == "image" and report["symbols"] == 5 * 64
    assert report["file_bytes"] == (tmp_path / "x.kgz").stat().st_size
    assert report["file_bytes"] == report["payload_bytes"] + report["header_bytes"] + report["stored_bytes"]
    assert report["stored_bytes"] == 0 and report["methods"] == {"model": 5}
    header = compression.read_header(tmp_path / "x.kgz")
    assert header["kind"] == "image" and header["backend"] == keras.backend.backend()
    assert header["model"]["name"] == "pixelcnn.tiny"
    assert compression.weights_sha256(binary_model).startswith(header["model"]["weights_sha256"])
    assert len(header["model"]["weights_sha256"]) == 32
    assert [item["name"] for item in header["items"]] == ["a.png", "b.png", "c.png", "d.png", "e.png"]

    written = compression.decompress(tmp_path / "x.kgz", binary_model, tmp_path / "out")
    assert [p.name for p in written] == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    for path in written:
        mode, pixels = _png(path)
        assert mode == before[path.name][0], path.name
        np.testing.assert_array_equal(pixels, before[path.name][1], err_msg=path.name)


def test_8bit_grey_png_round_trip(grey_model, tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (6, 6)), np.full((6, 6), 255), np.zeros((6, 6))]
    images[0][0, :3] = [0, 255, 128]
    inputs = [_save_png(tmp_path / f"g{i}.png", x, "L") for i, x in enumerate(images)]
    report = _compress(grey_model, inputs, tmp_path / "g.kgz", model_name="grey")
    expected = -grey_model.log_prob(np.stack(images)[..., None]).sum() / LN2
    np.testing.assert_allclose(report["information_bits"], expected, rtol=1e-4)
    written = compression.decompress(tmp_path / "g.kgz", grey_model, tmp_path / "out")
    for path, x in zip(written, images):
        mode, pixels = _png(path)
        assert mode == "L"
        np.testing.assert_array_equal(pixels, x)


def test_rgb_png_round_trip(tmp_path):
    """A 256-level RGB model with a categorical head: one step per sub-pixel, R -> G -> B."""
    model = _model("pixelcnn", seed=6, image_shape=(2, 2, 3), hidden_dim=12, num_residual_blocks=1, output_dim=12,
                   first_kernel_size=3, likelihood="categorical", num_levels=256)
    images = np.random.default_rng(2).integers(0, 256, (2, 2, 2, 3))
    inputs = [_save_png(tmp_path / f"c{i}.png", x, "RGB") for i, x in enumerate(images)]
    _compress(model, inputs, tmp_path / "c.kgz", model_name="rgb")
    for path, x in zip(compression.decompress(tmp_path / "c.kgz", model, tmp_path / "out"), images):
        mode, pixels = _png(path)
        assert mode == "RGB"
        np.testing.assert_array_equal(pixels, x)


def test_class_conditional_round_trip(tmp_path):
    """gated_pixelcnn.tiny is unconditional; with num_classes it codes each image given its class label."""
    model = _model("gated_pixelcnn.tiny", seed=7, image_shape=(4, 4, 1), num_classes=3)
    assert model.conditional
    images = _binary_images(3, (4, 4), seed=3)
    inputs = [_save_png(tmp_path / f"{i}.png", x * 255, "L") for i, x in enumerate(images)]
    report = _compress(model, inputs, tmp_path / "c.kgz", model_name="cond", labels=[2, 0, 1])
    assert [item["label"] for item in compression.read_header(tmp_path / "c.kgz")["items"]] == [2, 0, 1]
    expected = -model.log_prob(images[..., None], labels=[2, 0, 1]).sum() / LN2
    np.testing.assert_allclose(report["information_bits"], expected, rtol=1e-4)
    for path, x in zip(compression.decompress(tmp_path / "c.kgz", model, tmp_path / "out"), images):
        np.testing.assert_array_equal(_png(path)[1], x * 255)
    # One int labels every input; another label codes the same images differently.
    _compress(model, inputs, tmp_path / "one.kgz", model_name="cond", labels=1)
    assert {item["label"] for item in compression.read_header(tmp_path / "one.kgz")["items"]} == {1}
    assert compression.unpack((tmp_path / "one.kgz").read_bytes())[1] != \
        compression.unpack((tmp_path / "c.kgz").read_bytes())[1]
    for path, x in zip(compression.decompress(tmp_path / "one.kgz", model, tmp_path / "out1"), images):
        np.testing.assert_array_equal(_png(path)[1], x * 255)


@pytest.mark.parametrize("name", ["bytenet", "lstm", "mixture"])
def test_bytes_round_trip(name, request, tmp_path):
    model = request.getfixturevalue(name)
    contents = {"text.txt": TEXT, "all.bin": ALL_BYTES, "empty.dat": b""}
    inputs = [_write(tmp_path, n, c) for n, c in contents.items()]
    # Segments of unequal lengths: ByteNet's 28 rows in one batch; the LSTM's 9 rows in batches of 5, the last one
    # smaller.
    layout = {"bytenet": {"segment_length": 16}, "lstm": {"segment_length": 50, "batch_size": 5},
              "mixture": {"segment_length": 40, "batch_size": 4}}[name]
    report = _compress(model, inputs, tmp_path / "b.kgz", model_name=name, **layout)
    header = compression.read_header(tmp_path / "b.kgz")
    assert header["segment_length"] == layout["segment_length"]
    assert header["batch_size"] == layout.get("batch_size", compression.DEFAULT_BATCH_SIZE)
    assert report["kind"] == "bytes" and report["symbols"] == len(TEXT) + len(ALL_BYTES)
    assert report["input_bytes"] == len(TEXT) + len(ALL_BYTES)
    written = compression.decompress(tmp_path / "b.kgz", model, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in written} == contents


def test_only_empty_files(lstm, tmp_path):
    inputs = [_write(tmp_path, "e1", b""), _write(tmp_path, "e2", b"")]
    report = _compress(lstm, inputs, tmp_path / "e.kgz", model_name="lstm")
    assert report["symbols"] == 0 and report["payload_bytes"] <= 8
    written = compression.decompress(tmp_path / "e.kgz", lstm, tmp_path / "out")
    assert [(p.name, p.read_bytes()) for p in written] == [("e1", b""), ("e2", b"")]


def test_sparse_transformer_codes_text_longer_than_its_context_in_segments(tmp_path):
    model = _model("sparse_transformer.tiny", seed=8, num_levels=256)  # the tiny preset has 16 levels
    assert model.max_length == 32 and "bytes" in model.coding_kinds
    inputs = [_write(tmp_path, "long.txt", TEXT), _write(tmp_path, "short.txt", TEXT[:20])]
    _compress(model, inputs, tmp_path / "s.kgz", model_name="st", batch_size=3)
    header = compression.read_header(tmp_path / "s.kgz")
    assert header["segment_length"] == 32  # the model's max_length
    written = compression.decompress(tmp_path / "s.kgz", model, tmp_path / "out")
    assert [p.read_bytes() for p in written] == [TEXT, TEXT[:20]]


def test_sparse_transformer_codes_text_within_its_context(tmp_path):
    model = _model("sparse_transformer.tiny", seed=8, num_levels=256)
    inputs = [_write(tmp_path, "a.txt", TEXT[:32]), _write(tmp_path, "b.txt", TEXT[40:60])]
    _compress(model, inputs, tmp_path / "s.kgz", model_name="st", batch_size=3, segment_length=8)
    assert compression.read_header(tmp_path / "s.kgz")["segment_length"] == 8
    written = compression.decompress(tmp_path / "s.kgz", model, tmp_path / "out")
    assert [p.read_bytes() for p in written] == [TEXT[:32], TEXT[40:60]]
    with pytest.raises(ValueError, match="max_length=32"):
        _compress(model, inputs, tmp_path / "t.kgz", model_name="st", segment_length=33)
    assert not (tmp_path / "t.kgz").exists()


def _wave(n, seed=0):
    t = np.arange(n) / 8000.0
    noise = np.random.default_rng(seed).normal(0, 0.05, n)
    return (0.6 * np.sin(2 * np.pi * 440 * t) + noise).astype("float32")


@pytest.mark.parametrize(
    "name,segment_length",
    [("wavenet.tiny", 12), ("sparse_transformer.tiny", None)],  # the transformer: segments of max_length=32
)
def test_audio_round_trip_keeps_the_mu_law_codes(name, segment_length, tmp_path):
    model = _model(name, seed=9)
    inputs = [audio.write_wav(tmp_path / "a.wav", _wave(200), 8000),
              audio.write_wav(tmp_path / "b.wav", _wave(37, seed=1), 8000)]
    codes = {p.name: _codes(p, model) for p in inputs}
    report = _compress(model, inputs, tmp_path / "a.kgz", model_name=name,
                                  segment_length=segment_length)
    assert report["kind"] == "audio" and report["symbols"] == 237
    written = compression.decompress(tmp_path / "a.kgz", model, tmp_path / "out")
    for path in written:
        assert audio.read_wav(path)[1] == 8000
        np.testing.assert_array_equal(_codes(path, model), codes[path.name])
    # The decompressed recordings compress again to the very same codes, and so to the same payload.
    _compress(model, written, tmp_path / "again.kgz", model_name=name, segment_length=segment_length)
    again = compression.decompress(tmp_path / "again.kgz", model, tmp_path / "out2")
    for path in again:
        np.testing.assert_array_equal(_codes(path, model), codes[path.name])
    assert _header_and_payload(tmp_path / "again.kgz")[1] == _header_and_payload(tmp_path / "a.kgz")[1]


# ================================================================================================ coded size
def test_information_bits_are_the_models_log_prob_and_the_payload_is_close(binary_model, lstm, tmp_path):
    images = _binary_images(4, seed=5)
    inputs = [_save_png(tmp_path / f"{i}.png", x * 255, "L") for i, x in enumerate(images)]
    report = _compress(binary_model, inputs, tmp_path / "i.kgz", model_name="p", batch_size=2)
    expected = -binary_model.log_prob(images[..., None]).sum() / LN2
    np.testing.assert_allclose(report["information_bits"], expected, rtol=1e-4)
    assert expected - 1 <= 8 * report["payload_bytes"] <= report["information_bits"] + 64
    np.testing.assert_allclose(report["bits_per_symbol"], 8 * report["file_bytes"] / (4 * 64))

    tokens = np.frombuffer(TEXT, np.uint8).astype("int32")
    report = _compress(lstm, [_write(tmp_path, "t.txt", TEXT)], tmp_path / "t.kgz", model_name="l")
    expected = -lstm.log_prob(tokens[None]).sum() / LN2
    np.testing.assert_allclose(report["information_bits"], expected, rtol=1e-4)
    assert expected - 1 <= 8 * report["payload_bytes"] <= report["information_bits"] + 64


# ================================================================================================ refusals
def _refused(path, model, out_dir, error, match):
    with pytest.raises(error, match=match):
        compression.decompress(path, model, out_dir)
    assert _listing(out_dir) == [], "a refused file wrote something"


def test_refuses_another_model(kgz, tmp_path):
    path, _ = kgz
    other = _model("lstm_lm.tiny", seed=99)  # the same preset, other random weights
    assert compression.weights_sha256(other) != compression.read_header(path)["model"]["weights_sha256"]
    _refused(path, other, tmp_path / "out", compression.CompressedFileError, "weights")
    # Another architecture is refused the same way, before any decoding.
    _refused(path, _model("pixelcnn.tiny", seed=1), tmp_path / "out", compression.CompressedFileError, "weights")


def test_weights_sha256_names_the_weights_not_the_object(lstm, tmp_path):
    path = tmp_path / "m.keras"
    lstm.save(path)
    from kgen import training

    assert compression.weights_sha256(training.load_model(path)) == compression.weights_sha256(lstm)


@pytest.mark.parametrize("where", ["empty", "magic", "format", "header", "payload", "last byte"])
def test_refuses_a_truncated_file(kgz, lstm, tmp_path, where):
    path, _ = kgz
    blob = path.read_bytes()
    header_end, payload_start, _ = _layout(path)
    cut = {"empty": 0, "magic": 5, "format": len(compression.MAGIC) + 1, "header": header_end // 2,
           "payload": payload_start + (len(blob) - payload_start) // 2, "last byte": len(blob) - 1}[where]
    assert 0 <= cut < len(blob)
    bad = _write(tmp_path, "cut.kgz", blob[:cut])
    match = "not a kgen compressed file" if where in ("empty", "magic") else "truncated"
    _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, match)


@pytest.mark.parametrize(
    "what,match",
    [
        ("magic", "not a kgen compressed file"),
        ("format", "container format"),
        ("header", "CRC-32 does not match"),
        ("payload", "CRC-32 does not match"),
        ("last byte", "CRC-32 does not match"),
        ("trailing", "CRC-32 does not match"),
        ("trailing with a new CRC", "bytes after its payload"),
    ],
)
def test_refuses_a_corrupted_file(kgz, lstm, tmp_path, what, match):
    path, _ = kgz
    blob = bytearray(path.read_bytes())
    header_end, payload_start, _ = _layout(path)
    if what == "trailing":
        blob += b"\x00garbage"
    elif what == "trailing with a new CRC":
        body = bytes(blob[:-4]) + b"\x00garbage"
        blob = body + zlib.crc32(body).to_bytes(4, "big")
    else:
        at = {"magic": 1, "format": len(compression.MAGIC), "header": header_end // 2, "payload": payload_start + 3,
              "last byte": len(blob) - 1}[what]
        blob[at] ^= 0x5A
    bad = _write(tmp_path, "bad.kgz", bytes(blob))
    _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, match)


def test_refuses_what_is_not_a_kgz_file(lstm, tmp_path):
    png = _save_png(tmp_path / "x.png", np.zeros((4, 4)), "L")
    _refused(png, lstm, tmp_path / "out", compression.CompressedFileError, "not a kgen compressed file")
    _refused(_write(tmp_path, "x.kgz", TEXT), lstm, tmp_path / "out", compression.CompressedFileError,
             "not a kgen compressed file")
    _refused(tmp_path / "missing.kgz", lstm, tmp_path / "out", FileNotFoundError, "does not exist")
    (tmp_path / "folder.kgz").mkdir()
    _refused(tmp_path / "folder.kgz", lstm, tmp_path / "out", ValueError, "is a folder")


def test_a_payload_that_decodes_to_other_data_is_refused(kgz, lstm, tmp_path):
    """A payload corrupted together with its sha256 (the header rewritten to match): the decoded data's checksum
    catches it, and nothing is written."""
    path, _ = kgz
    header, payload = _header_and_payload(path)
    changed = bytearray(payload)
    changed[len(changed) // 2] ^= 0x10
    bad = _write(tmp_path, "bad.kgz", compression.pack(header, bytes(changed)))
    _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, "decoded|cannot be decoded")


def test_refuses_a_file_made_under_another_backend(kgz, lstm, tmp_path):
    path, _ = kgz
    header, payload = _header_and_payload(path)
    other = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}[keras.backend.backend()]
    bad = _write(tmp_path, "other.kgz", compression.pack(dict(header, backend=other), payload))
    assert compression.read_header(bad)["backend"] == other
    _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, f"KERAS_BACKEND={other}")


def test_refuses_another_container_format_and_unsafe_names(kgz, lstm, tmp_path):
    path, _ = kgz
    header, payload = _header_and_payload(path)
    blob = bytearray(path.read_bytes())
    blob[len(compression.MAGIC)] = 1  # the JSON-headed format of kgen before 0.2
    bad = _write(tmp_path, "v1.kgz", bytes(blob))
    _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, "container format 1")
    for name in ["../evil.txt", "sub/evil.txt", "", "..", "back\\slash", "nul\0byte"]:
        items = [dict(header["items"][0], name=name)] + header["items"][1:]
        bad = _write(tmp_path, "unsafe.kgz", compression.pack(dict(header, items=items), payload))
        _refused(bad, lstm, tmp_path / "out", compression.CompressedFileError, "unsafe file name")
    assert not (tmp_path / "evil.txt").exists()


def test_decompress_does_not_overwrite(kgz, lstm, tmp_path):
    path, contents = kgz
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.bin").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="b.bin"):
        compression.decompress(path, lstm, out)
    assert _listing(out) == ["b.bin"] and (out / "b.bin").read_bytes() == b"keep me"
    compression.decompress(path, lstm, out, overwrite=True)
    assert {name: (out / name).read_bytes() for name in _listing(out)} == contents
    with pytest.raises(FileExistsError, match="is a file"):
        compression.decompress(path, lstm, out / "b.bin")


# ================================================================================================ bad input
def _refuses_to_compress(model, inputs, folder, error, match, **kwargs):
    before = _listing(folder)
    with pytest.raises(error, match=match):
        _compress(model, inputs, Path(folder) / "out.kgz", model_name="m", **kwargs)
    assert _listing(folder) == before, "a refused input wrote something"


def test_compress_refuses_bad_images(binary_model, grey_model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    good = _save_png(images / "good.png", _binary_images(1)[0] * 255, "L")
    small = _save_png(images / "small.png", np.zeros((6, 6)), "L")
    grey = _save_png(images / "grey.png", np.arange(64).reshape(8, 8), "L")
    rgb = _save_png(images / "rgb.png", np.zeros((8, 8, 3)), "RGB")
    fake = _write(images, "fake.png", b"not a png at all")
    text = _write(images, "t.txt", TEXT)
    _refuses_to_compress(binary_model, [good, text], tmp_path, ValueError, "one kind")
    _refuses_to_compress(binary_model, [good, small], tmp_path, ValueError, "takes 8x8 images")
    _refuses_to_compress(binary_model, [grey], tmp_path, ValueError, "black and white")
    _refuses_to_compress(binary_model, [rgb], tmp_path, ValueError, "'RGB' image")
    _refuses_to_compress(grey_model, [rgb], tmp_path, ValueError, "'RGB' image")
    _refuses_to_compress(binary_model, [fake], tmp_path, ValueError, "not a readable PNG")
    _refuses_to_compress(binary_model, [text], tmp_path, ValueError, "codes image.*bytes files")
    _refuses_to_compress(binary_model, [good, images / "missing.png"], tmp_path, FileNotFoundError,
                         "does not exist")
    _refuses_to_compress(binary_model, [], tmp_path, ValueError, "at least one")
    (tmp_path / "other").mkdir()
    twin = _save_png(tmp_path / "other" / "good.png", np.zeros((8, 8)), "L")
    _refuses_to_compress(binary_model, [good, twin], tmp_path, ValueError, "distinct file names")
    _refuses_to_compress(binary_model, [good], tmp_path, ValueError, "class-conditional", labels=1)
    _refuses_to_compress(binary_model, [good], tmp_path, ValueError, "batch_size", batch_size=0)


def test_compress_refuses_a_kind_the_model_cannot_code(bytenet, binary_model, tmp_path):
    png = _save_png(tmp_path / "x.png", np.zeros((8, 8)), "L")
    _refuses_to_compress(bytenet, [png], tmp_path, ValueError, "codes bytes, audio.*image files")
    wav = audio.write_wav(tmp_path / "x.wav", _wave(20), 8000)
    _refuses_to_compress(binary_model, [wav], tmp_path, ValueError, "codes image.*audio files")
    model16 = _model("wavenet.tiny", seed=1)  # 16 levels: audio only
    _refuses_to_compress(model16, [_write(tmp_path, "t.txt", TEXT)], tmp_path, ValueError, "codes audio.*bytes")
    fast = audio.write_wav(tmp_path / "fast.wav", _wave(20), 16000)
    _refuses_to_compress(model16, [fast], tmp_path, ValueError, "16000")


def test_compress_refuses_missing_or_bad_labels(tmp_path):
    model = _model("gated_pixelcnn.tiny", seed=7, image_shape=(4, 4, 1), num_classes=3)
    inputs = [_save_png(tmp_path / f"{i}.png", x * 255, "L") for i, x in enumerate(_binary_images(2, (4, 4)))]
    _refuses_to_compress(model, inputs, tmp_path, ValueError, "class-conditional.*labels")
    _refuses_to_compress(model, inputs, tmp_path, ValueError, "labels", labels=3)


def test_compress_names_a_wrong_number_of_labels(tmp_path):
    model = _model("gated_pixelcnn.tiny", seed=7, image_shape=(4, 4, 1), num_classes=3)
    inputs = [_save_png(tmp_path / f"{i}.png", x * 255, "L") for i, x in enumerate(_binary_images(2, (4, 4)))]
    _refuses_to_compress(model, inputs, tmp_path, ValueError, "labels", labels=[0, 1, 2])


def test_compress_does_not_overwrite(lstm, tmp_path):
    source = _write(tmp_path, "t.txt", TEXT)
    out = _write(tmp_path, "out.kgz", b"precious")
    with pytest.raises(FileExistsError, match="exists"):
        _compress(lstm, [source], out, model_name="l")
    assert out.read_bytes() == b"precious" and _listing(tmp_path) == ["out.kgz", "t.txt"]
    # Not even with overwrite=True: it is not a .kgz file (kgen replaces a file only by one of the same kind).
    with pytest.raises(FileExistsError, match="holds a text, not a kgen compressed file"):
        _compress(lstm, [source], out, model_name="l", overwrite=True)
    assert out.read_bytes() == b"precious" and _listing(tmp_path) == ["out.kgz", "t.txt"]
    out.unlink()
    _compress(lstm, [source], out, model_name="l")
    _compress(lstm, [_write(tmp_path, "u.txt", TEXT[:50])], out, model_name="l", overwrite=True)
    assert compression.read_header(out)["items"][0]["name"] == "u.txt"
    assert _listing(tmp_path) == ["out.kgz", "t.txt", "u.txt"]


# ================================================================================================ CLI
def test_cli_round_trip(lstm_file, tmp_path, capsys):
    inputs = [_write(tmp_path, "a.txt", TEXT), _write(tmp_path, "b.bin", ALL_BYTES[:70])]
    out = tmp_path / "f.kgz"
    assert cli.main(["compress", str(lstm_file)] + [str(p) for p in inputs]
                    + ["--out", str(out), "--batch-size", "1", "--verbose", "1"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert len(printed.splitlines()) == 1 and "/symbol" in captured.err  # the progress bar is on stderr
    assert str(out) in printed and "bits/symbol" in printed and "2 bytes file(s)" in printed
    assert compression.read_header(out)["batch_size"] == 1
    restored = tmp_path / "restored"
    assert cli.main(["decompress", str(out), "--out", str(restored), "--model", str(lstm_file),
                     "--verbose", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{restored}: 2 bytes file(s) restored"] and captured.err == ""
    assert {n: (restored / n).read_bytes() for n in _listing(restored)} == {"a.txt": TEXT, "b.bin": ALL_BYTES[:70]}
    # Without --model, the model named in the file (here the .keras path it was made with).
    assert cli.main(["decompress", str(out), "--out", str(tmp_path / "again"), "--verbose", "0"]) == 0
    assert (tmp_path / "again" / "a.txt").read_bytes() == TEXT
    # Existing outputs are kept unless --force.
    assert cli.main(["decompress", str(out), "--out", str(restored), "--model", str(lstm_file),
                     "--verbose", "0"]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["compress", str(lstm_file), str(inputs[0]), "--out", str(out), "--verbose", "0"]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["compress", str(lstm_file), str(inputs[0]), "--out", str(out), "--verbose", "0",
                     "--force"]) == 0


def _cli_error(argv, capsys, command):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kgen {command}: error:"), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_cli_errors_are_one_line_and_write_nothing(lstm_file, tmp_path, capsys):
    source = _write(tmp_path, "a.txt", TEXT)
    out = tmp_path / "f.kgz"
    assert cli.main(["compress", str(lstm_file), str(source), "--out", str(out), "--verbose", "0"]) == 0
    capsys.readouterr()
    blob = out.read_bytes()
    restored = tmp_path / "restored"
    for cut in (4, len(compression.MAGIC) + 10, len(blob) - 3):
        truncated = _write(tmp_path, "cut.kgz", blob[:cut])
        line = _cli_error(["decompress", str(truncated), "--out", str(restored), "--model", str(lstm_file),
                           "--verbose", "0"], capsys, "decompress")
        assert "truncated" in line or "not a kgen compressed file" in line
        assert _listing(restored) == []
    other = tmp_path / "other.keras"
    _model("lstm_lm.tiny", seed=123).save(other)
    line = _cli_error(["decompress", str(out), "--out", str(restored), "--model", str(other), "--verbose", "0"],
                      capsys, "decompress")
    assert "weights" in line and _listing(restored) == []
    png = _save_png(tmp_path / "x.png", np.zeros((8, 8)), "L")
    line = _cli_error(["compress", str(lstm_file), str(png), str(source), "--out", str(tmp_path / "g.kgz"),
                       "--verbose", "0"], capsys, "compress")
    assert "one kind" in line and not (tmp_path / "g.kgz").exists()
    line = _cli_error(["compress", str(lstm_file), str(source), "--out", str(tmp_path / "g.kgz"), "--label", "1",
                       "--verbose", "0"], capsys, "compress")
    assert "class-conditional" in line and not (tmp_path / "g.kgz").exists()


# ================================================================================================ coding steps
def _run_steps(model, symbols, labels=None):
    """The tables of every step of `model.coding_steps` fed `symbols` (batch, steps): float64 (steps, batch, L)."""
    steps = model.coding_steps(len(symbols), labels=labels)
    tables, previous = [], None
    for t in range(symbols.shape[1]):
        tables.append(steps.next(previous))
        previous = symbols[:, t]
    return np.stack(tables)


def _log_prob_of_fed(tables, symbols):
    picked = np.take_along_axis(tables, symbols.T[..., None], axis=2)[..., 0]  # (steps, batch)
    return np.log(picked / tables.sum(axis=2)).sum(axis=0)


def test_image_coding_steps_are_deterministic_and_match_log_prob(binary_model, grey_model):
    images = _binary_images(2, seed=11)[..., None]
    symbols = images.reshape(2, -1).astype(np.int32)
    first, second = _run_steps(binary_model, symbols), _run_steps(binary_model, symbols)
    assert first.shape == (64, 2, 2) and first.dtype == np.float64
    assert np.array_equal(first, second)
    np.testing.assert_allclose(first.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(_log_prob_of_fed(first, symbols), binary_model.log_prob(images), rtol=1e-4)

    images = np.random.default_rng(12).integers(0, 256, (3, 6, 6, 1))
    symbols = images.reshape(3, -1).astype(np.int32)
    first, second = _run_steps(grey_model, symbols), _run_steps(grey_model, symbols)
    assert first.shape == (36, 3, 256) and np.array_equal(first, second)
    np.testing.assert_allclose(_log_prob_of_fed(first, symbols), grey_model.log_prob(images), rtol=1e-4)


@pytest.mark.parametrize("name", ["pixelrnn_row.tiny", "pixelrnn_diagonal.tiny"])
def test_pixelrnn_coding_steps_match_log_prob(name):
    # The PixelRNNs' cached protocol drives the coder too: its step probabilities are the model's.
    model = _model(name, seed=14)
    images = _binary_images(2, seed=15)[..., None]
    symbols = images.reshape(2, -1).astype(np.int32)
    steps = _run_steps(model, symbols)
    assert steps.shape == (64, 2, 2)
    np.testing.assert_allclose(_log_prob_of_fed(steps, symbols), model.log_prob(images), rtol=1e-4)


@pytest.mark.parametrize("name", ["lstm_lm.tiny", "sparse_transformer.tiny"])
def test_sequence_coding_steps_are_deterministic_and_match_log_prob(name):
    model = _model(name, seed=13, num_levels=256)
    symbols = np.random.default_rng(13).integers(0, 256, (2, 20)).astype(np.int32)
    first, second = _run_steps(model, symbols), _run_steps(model, symbols)
    assert first.shape == (20, 2, 256) and np.array_equal(first, second)
    np.testing.assert_allclose(first.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(_log_prob_of_fed(first, symbols), model.log_prob(symbols), rtol=1e-4)


def test_coding_steps_check_the_protocol(binary_model, lstm):
    steps = binary_model.coding_steps(2)
    with pytest.raises(ValueError, match="previous"):
        steps.next(np.zeros(2, np.int32))
    steps = lstm.coding_steps(2)
    steps.next(None)
    with pytest.raises(ValueError, match="previous"):
        steps.next(None)
    model = _model("sparse_transformer.tiny", seed=1)
    steps = model.coding_steps(1)
    previous = None
    for _ in range(model.max_length):
        steps.next(previous)
        previous = np.zeros(1, np.int32)
    with pytest.raises(ValueError, match="at most 32"):
        steps.next(previous)


def test_the_coding_step_is_made_and_traced_once():
    """One step function per model and kind of step, reused by every coding run; under TensorFlow a plain graph
    traced once (an XLA-compiled step was compiled again for every step index, ~0.5 s a step)."""
    model = _model("pixelcnn.tiny", seed=21)
    for _ in range(2):
        steps, previous = model.coding_steps(1), None
        for _ in range(10):
            steps.next(previous)
            previous = np.zeros(1, np.int32)
    coding = {k: fn for k, fn in model._sampler_cache.items() if k[0][0] == "coding"}
    assert sorted(k[0] for k in coding) == [("coding", "image", "pixel"), ("coding", "image", "row")]
    if keras.backend.backend() == "tensorflow":
        for fn in coding.values():
            assert fn.experimental_get_tracing_count() == 1
            assert not fn._jit_compile
