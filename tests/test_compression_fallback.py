"""A compressor never makes things much bigger (issue 27, class 7).

Each item of a .kgz is coded with the model, stored raw, or packed with LZMA2, whichever is smallest (the header
records which), so no item costs more than a few bytes over the better of raw and LZMA2; the binary header costs a
few dozen bytes plus the model's and the items' names.

The models are tiny: an untrained one (about 8 bits a byte on anything) and one whose head is set by hand to know
its data (a four-letter alphabet at 2 bits a letter, which LZMA2 cannot reach on random letters), so that every
method wins somewhere. The figures with the trained ByteNet are tools/bench_compression.py's.
"""

import lzma

import numpy as np
import pytest

from kgen import compression, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

ALPHABET = b"acgt"


@pytest.fixture(scope="module")
def untrained():
    import keras

    keras.utils.set_random_seed(11)
    return zoo.get("lstm_lm.tiny")


@pytest.fixture(scope="module")
def knowing():
    """lstm_lm.tiny whose logits are 0 for a, c, g and t and -30 for every other byte, whatever came before."""
    import keras

    keras.utils.set_random_seed(12)
    model = zoo.get("lstm_lm.tiny")
    head = model.get_layer("logits")
    bias = np.full(256, -30.0, "float32")
    bias[list(ALPHABET)] = 0.0
    head.set_weights([np.zeros_like(head.get_weights()[0]), bias])
    return model


def _letters(n, seed):
    return bytes(np.frombuffer(ALPHABET, np.uint8)[np.random.default_rng(seed).integers(0, 4, n)])


def _fallback_bytes(data):
    return min(len(data), len(compression._lzma(data)))


ITEMS = {
    "random.bin": lambda: np.random.default_rng(0).integers(0, 256, 1500, dtype=np.uint8).tobytes(),
    "repeated.txt": lambda: b"all work and no play makes jack a dull boy\n" * 60,
    "letters.txt": lambda: _letters(1500, seed=1),
    "empty.txt": lambda: b"",
}


@pytest.mark.parametrize("which", ["untrained", "knowing"])
def test_no_item_ends_much_larger_than_raw_or_lzma(which, request, tmp_path):
    model = request.getfixturevalue(which)
    contents = {name: make() for name, make in ITEMS.items()}
    inputs = []
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        inputs.append(tmp_path / name)
    report = compression.compress(model, inputs, tmp_path / "all.kgz", model_name="m")
    header = compression.unpack((tmp_path / "all.kgz").read_bytes())[0]
    methods = {item["name"]: item["method"] for item in header["items"]}
    assert methods["repeated.txt"] == "lzma"
    assert methods["random.bin"] in ("stored", "model")  # the untrained model is about 8 bits a byte too
    if which == "knowing":
        assert methods["letters.txt"] == "model"
    # The whole file: at most the better of raw and LZMA2 for every item, plus the header, its names and 8 bytes.
    names = sum(len(n) for n in contents) + len("m")
    bound = sum(_fallback_bytes(d) for d in contents.values()) + 80 + names
    assert report["file_bytes"] <= bound, (report, bound)
    restored = compression.decompress(tmp_path / "all.kgz", model, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in restored} == contents


def test_the_model_codes_what_it_knows_below_lzma(knowing, tmp_path):
    data = _letters(2000, seed=2)
    (tmp_path / "letters.txt").write_bytes(data)
    report = compression.compress(knowing, [tmp_path / "letters.txt"], tmp_path / "l.kgz", model_name="m")
    assert report["methods"] == {"model": 1}
    assert report["payload_bytes"] <= 2000 * 2 / 8 + 8  # 2 bits a letter and the coder's last words
    assert report["file_bytes"] < len(compression._lzma(data))
    assert compression.decompress(tmp_path / "l.kgz", knowing, tmp_path / "out")[0].read_bytes() == data


def test_the_container_costs_a_few_dozen_bytes_plus_the_names(untrained, tmp_path):
    """A 230-byte text became 473 bytes with the JSON header; now the header is the fixed fields (60 bytes with
    the CRC), the names and a few varints."""
    text = (b"Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use this file except in "
            b"compliance with the License. You may obtain a copy of the License at the address given in the "
            b"LICENSE file.\n")[:230]
    (tmp_path / "notice.txt").write_bytes(text)
    report = compression.compress(untrained, [tmp_path / "notice.txt"], tmp_path / "n.kgz", model_name="m")
    assert report["header_bytes"] <= 60 + len("notice.txt") + len("m") + 12, report
    assert report["file_bytes"] <= _fallback_bytes(text) + report["header_bytes"]


def test_lzma_items_are_raw_lzma2_with_a_bounded_dictionary():
    data = b"abc" * 1000
    packed = compression._lzma(data)
    assert not packed.startswith(b"\xfd7zXZ")  # no xz container: the .kgz checks the data itself
    assert compression._unlzma(packed, len(data), "x") == data
    assert lzma.decompress(packed, format=lzma.FORMAT_RAW, filters=compression._LZMA_FILTERS) == data
    with pytest.raises(compression.CompressedFileError, match="decodes to 3,001 bytes, not the 3,000"):
        compression._unlzma(compression._lzma(data + b"x"), len(data), "x")


def test_symbols_the_model_finds_nearly_impossible_still_decode(knowing, tmp_path):
    """Bytes outside the alphabet have probability ~e^-30 (43 bits of information each), but the range coder floors
    every probability at 2^-24: the payload is smaller than the information content, and the decoder's work bound
    (what the coder spends, not the information content) lets the file decode."""
    data = _letters(300, seed=3) + b"xyz!" * 5
    (tmp_path / "odd.txt").write_bytes(data)
    report = compression.compress(knowing, [tmp_path / "odd.txt"], tmp_path / "o.kgz", model_name="m", fallback=False)
    assert report["information_bits"] > 8 * report["payload_bytes"] + 64
    assert compression.decompress(tmp_path / "o.kgz", knowing, tmp_path / "out")[0].read_bytes() == data


def test_binary_images_fall_back_to_packed_bits(tmp_path):
    """A two-level model's items are stored eight pixels a byte: noise costs at most 1 bit a pixel plus the header."""
    import keras
    from PIL import Image

    keras.utils.set_random_seed(13)
    model = zoo.get("pixelcnn.tiny")  # 8x8 binary images
    noise = (np.random.default_rng(4).random((12, 8, 8)) < 0.5).astype(np.uint8)
    paths = []
    for i, image in enumerate(noise):
        Image.fromarray(image * 255, mode="L").convert("1").save(tmp_path / f"{i:02d}.png")
        paths.append(tmp_path / f"{i:02d}.png")
    report = compression.compress(model, paths, tmp_path / "n.kgz", model_name="m")
    assert report["file_bytes"] <= 12 * 64 // 8 + report["header_bytes"], report
    for path, image in zip(compression.decompress(tmp_path / "n.kgz", model, tmp_path / "out"), noise):
        with Image.open(path) as restored:
            assert restored.mode == "1" and np.array_equal(np.asarray(restored.convert("L")) // 255, image)
