"""Tests for kgen.data.core (the shared data core) and the data set registry."""

import ast
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kgen.data
from kgen import data
from kgen.data import core

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


def test_registry_dispatches_every_name_to_its_module():
    assert data.NAMES == ("mnist", "binarized_mnist", "fsdd", "tinyshakespeare", "photo_patches", "moving_mnist")
    assert {name: module.__name__ for name, module in core.DATASETS.items()} == {
        "mnist": "kgen.data.mnist",
        "binarized_mnist": "kgen.data.mnist",
        "fsdd": "kgen.data.fsdd",
        "tinyshakespeare": "kgen.data.text",
        "photo_patches": "kgen.data.patches",
        "moving_mnist": "kgen.data.moving_mnist",
    }
    assert data.DataNotFoundError is core.DataNotFoundError and data.parse_split is core.parse_split
    assert data.SOURCES == ("local", "tfds", "embedded") and data.DATA_DIR_ENV == "KGEN_DATA_DIR"


def test_no_data_module_probes_the_network_itself():
    """Whether a copy is there is asked of tensorflow_datasets (is_prepared), never of a socket."""
    for path in Path(kgen.data.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("socket", "urllib", "requests", "http") for n in names), path


def test_dataset_modules_import_only_the_core():
    """A data set module imports public names of the core, never another data set module."""
    for path in Path(kgen.data.__file__).parent.glob("*.py"):
        if path.stem == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "kgen.data":
                assert [a.name for a in node.names] == ["core"], path
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kgen.data."):
                assert node.module == "kgen.data.core", (path, node.module)
                assert not [a.name for a in node.names if a.name.startswith("_")], path


@pytest.mark.parametrize(
    "split, expected",
    [
        ("train", ("train", slice(None, None))),
        ("test[5:-3]", ("test", slice(5, -3))),
        ("train[:]", ("train", slice(None))),
    ],
)
def test_parse_split(split, expected):
    assert data.parse_split(split) == expected


def test_tfds_builder_uses_a_prepared_copy_without_downloading(fake_tfds, tmp_path):
    fake = fake_tfds(prepared=True)
    builder = core.tfds_builder("mnist", str(tmp_path), "MNIST", "HOW", download=True)
    assert builder.name == "mnist" and fake.calls == [("is_prepared", "mnist", str(tmp_path))]


def test_tfds_builder_errors_name_the_data_set_and_how_to_provide_it(fake_tfds, tmp_path):
    fake = fake_tfds(download_error=OSError("proxy refused the connection"))
    message = "(?s)Could not download Some data with .*'some'.*OSError: proxy.*HOW"
    with pytest.raises(data.DataNotFoundError, match=message):
        core.tfds_builder("some", str(tmp_path), "Some data", "HOW", download=True)
    with pytest.raises(data.DataNotFoundError, match="(?s)Some data is not available.*source=\"tfds\".*HOW"):
        core.tfds_builder("some", str(tmp_path), "Some data", "HOW", download=False)
    assert [call[0] for call in fake.calls] == ["is_prepared", "download_and_prepare", "is_prepared"]
    fake.builder = None  # a broken or missing tensorflow_datasets
    with pytest.raises(data.DataNotFoundError, match="(?s)Could not open tensorflow_datasets 'some'.*HOW"):
        core.tfds_builder("some", str(tmp_path), "Some data", "HOW", download=True)


def test_how_to_provide_lists_the_ways():
    message = core.how_to_provide("X", "x/data.bin", others=("use source=\"embedded\"",))
    assert message == (
        "Provide X in one of these ways:\n"
        "  - set the environment variable KGEN_DATA_DIR to a folder containing x/data.bin, "
        "e.g. KGEN_DATA_DIR=../shared/data;\n"
        "  - pass data_dir=<that folder> to kgen.data.load / kgen.data.load_arrays;\n"
        '  - or use source="embedded".'
    )


# ----------------------------------------------------------------------------
# Bounded reads of embedded files
# ----------------------------------------------------------------------------


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_read_npz_bounded_reads_exactly_the_named_arrays():
    raw = _zip({"a.npy": _npy(np.arange(6, dtype=np.int16).reshape(2, 3)), "b.npy": _npy(np.array(["x", "yz"]))})
    arrays = core.read_npz_bounded(raw, "F", ("a", "b"), 1000)
    assert arrays["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and arrays["b"].tolist() == ["x", "yz"]
    assert not arrays["a"].flags.writeable
    fortran = np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert core.read_npz_bounded(_zip({"f.npy": _npy(fortran)}), "F", ("f",), 1000)["f"].tolist() == fortran.tolist()
    with pytest.raises(ValueError, match=r"Corrupt F: it holds \['a.npy', 'b.npy'\]; expected exactly \['a.npy'\]"):
        core.read_npz_bounded(raw, "F", ("a",), 1000)
    with pytest.raises(ValueError, match="Corrupt F: its arrays hold more than 100 bytes"):
        core.read_npz_bounded(raw, "F", ("a", "b"), 100)


def test_read_npz_bounded_refuses_lies_and_pickles_before_allocating():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    huge = _zip({"a.npy": header.getvalue() + b"\0" * 64})  # claims 8 TB, holds 64 bytes
    claims = r"Corrupt F: a.npy: 64 data bytes, but its header claims shape \(1000000000000,\)"
    with pytest.raises(ValueError, match=claims):
        core.read_npz_bounded(huge, "F", ("a",), 10_000)
    pickled = _zip({"a.npy": _npy(np.array([{"x": 1}], dtype=object), allow_pickle=True)})
    with pytest.raises(ValueError, match="Corrupt F: a.npy: an object array"):
        core.read_npz_bounded(pickled, "F", ("a",), 10_000)
    for raw, message in ((b"not a zip", "not a valid .npz"), (_zip({"a.npy": b"\x93NUMPY junk"}), "not a valid .npy")):
        with pytest.raises(ValueError, match=f"Corrupt F: .*{message}"):
            core.read_npz_bounded(raw, "F", ("a",), 10_000)


def test_gunzip_bounded_and_md5():
    assert core.gunzip_bounded(gzip.compress(b"hello" * 10), "G", 50) == b"hello" * 10
    with pytest.raises(ValueError, match="Corrupt G: it decompresses to more than 49 bytes"):
        core.gunzip_bounded(gzip.compress(b"hello" * 10), "G", 49)
    with pytest.raises(ValueError, match="Corrupt G: .*after the gzip stream"):
        core.gunzip_bounded(gzip.compress(b"a") * 2, "G", 50)  # a second member is not expected
    core.check_md5(b"abc", "900150983cd24fb0d6963f7d28e17f72", "M")
    with pytest.raises(ValueError, match="Corrupt M: wrong md5 900150983cd24fb0d6963f7d28e17f72 of its contents; "
                       "expected 0+"):
        core.check_md5(b"abc", "0" * 32, "M")
