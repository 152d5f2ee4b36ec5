"""Tests for kgen.io (atomic writes and image grids)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kgen.io import atomic_path
from kgen.io import save_image_grid


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class TestAtomicPath:
    def test_writes_file_and_replaces_existing(self, tmp_path):
        target = tmp_path / "sub" / "out.txt"
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp.suffix == ".txt"
            assert not tmp.exists()
            tmp.write_text("one")
        assert target.read_text() == "one"
        with atomic_path(str(target)) as tmp:
            tmp.write_text("two")
        assert target.read_text() == "two"
        assert _leftovers(target.parent) == []

    def test_exception_leaves_nothing(self, tmp_path):
        target = tmp_path / "out.bin"
        with pytest.raises(RuntimeError, match="boom"):
            with atomic_path(target) as tmp:
                tmp.write_bytes(b"half")
                raise RuntimeError("boom")
        assert list(tmp_path.iterdir()) == []

    def test_exception_keeps_old_content(self, tmp_path):
        target = tmp_path / "out.txt"
        target.write_text("old")
        with pytest.raises(KeyError):
            with atomic_path(target) as tmp:
                tmp.write_text("new, half written")
                raise KeyError("x")
        assert target.read_text() == "old"
        assert _leftovers(tmp_path) == []

    def test_directories(self, tmp_path):
        target = tmp_path / "model_dir"
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "a").write_text("a")
        with atomic_path(target) as tmp:  # a folder with the same names (and more) replaces it
            tmp.mkdir()
            (tmp / "a").write_text("a2")
            (tmp / "b").write_text("b")
        assert sorted(p.name for p in target.iterdir()) == ["a", "b"] and (target / "a").read_text() == "a2"
        with pytest.raises(FileExistsError, match="would not write again"):  # one that would lose "a" does not
            with atomic_path(target) as tmp:
                tmp.mkdir()
                (tmp / "b").write_text("b3")
        assert (target / "a").read_text() == "a2" and (target / "b").read_text() == "b"
        with pytest.raises(ValueError):
            with atomic_path(target) as tmp:
                tmp.mkdir()
                (tmp / "c").write_text("c")
                raise ValueError("fail")
        assert sorted(p.name for p in target.iterdir()) == ["a", "b"]
        assert _leftovers(tmp_path) == []

    def test_nothing_written_is_an_error(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="Nothing was written"):
            with atomic_path(tmp_path / "x.txt"):
                pass
        assert list(tmp_path.iterdir()) == []


class TestSaveImageGrid:
    def test_grey_grid_size_and_content(self, tmp_path):
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(10, 28, 28, 1), dtype=np.uint8)
        path = save_image_grid(images, tmp_path / "new" / "grid.png", scale=2)
        with Image.open(path) as image:
            # ncols = ceil(sqrt(10)) = 4, nrows = 3; 56px tiles, 1px gutters.
            assert image.format == "PNG" and image.mode == "L"
            assert image.size == (4 * 56 + 3, 3 * 56 + 2)
            pixels = np.asarray(image)
        np.testing.assert_array_equal(pixels[:56:2, :56:2], images[0, ..., 0])
        np.testing.assert_array_equal(pixels[57:113:2, 57:113:2], images[5, ..., 0])
        assert (pixels[:, 56] == 255).all() and (pixels[56, :] == 255).all()
        assert _leftovers(path.parent) == []

    def test_rgb_float_and_ncols(self, tmp_path):
        images = np.linspace(0, 1, 3 * 5 * 7 * 3).reshape(3, 5, 7, 3)
        path = save_image_grid(images, tmp_path / "rgb.png", ncols=3)
        with Image.open(path) as image:
            assert image.mode == "RGB" and image.size == (3 * 7 + 2, 5)
            pixels = np.asarray(image)
        np.testing.assert_array_equal(pixels[:, :7], np.round(images[0] * 255))

    def test_bool_images(self, tmp_path):
        images = np.zeros((2, 4, 4, 1), bool)
        images[0, 0, 0, 0] = True
        path = save_image_grid(images, tmp_path / "b.png", ncols=2)
        with Image.open(path) as image:
            assert np.asarray(image)[0, 0] == 255 and image.size == (9, 4)

    def test_levels_stretch_model_samples(self, tmp_path):
        # A binary model's samples are levels 0/1: as uint8 0..255 they would be a black picture.
        images = np.zeros((2, 3, 3, 1), np.uint8)
        images[0, 1, 1, 0] = 1
        path = save_image_grid(images, tmp_path / "s.png", ncols=2, levels=2)
        with Image.open(path) as image:
            pixels = np.asarray(image)
        assert pixels[1, 1] == 255 and pixels[0, 0] == 0 and pixels[1, 5] == 0
        eight = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
        with Image.open(save_image_grid(eight, tmp_path / "g.png", levels=16)) as image:
            np.testing.assert_array_equal(np.asarray(image), eight[0, ..., 0] * 17)

    @pytest.mark.parametrize("images, levels, message", [
        (np.full((1, 2, 2, 1), 2, np.uint8), 2, r"levels in 0..1"),
        (np.full((1, 2, 2, 1), 0.5, np.float32), 2, r"integer levels"),
        (np.zeros((1, 2, 2, 1), np.uint8), 1, "`levels` must be an int in 2..256"),
        (np.zeros((1, 2, 2, 1), np.uint8), 2.0, "`levels` must be an int in 2..256"),
    ])
    def test_rejects_bad_levels(self, tmp_path, images, levels, message):
        with pytest.raises(ValueError, match=message):
            save_image_grid(images, tmp_path / "x.png", levels=levels)
        assert not (tmp_path / "x.png").exists()

    @pytest.mark.parametrize(
        "images, message",
        [
            (np.zeros((28, 28, 1), np.uint8), "shape"),
            (np.zeros((2, 28, 28, 2), np.uint8), "shape"),
            (np.zeros((0, 28, 28, 1), np.uint8), "shape"),
            (np.full((1, 4, 4, 1), 1.5, np.float32), r"\[0, 1\]"),
            (np.full((1, 4, 4, 1), -0.1, np.float32), r"\[0, 1\]"),
            (np.full((1, 4, 4, 1), np.nan, np.float32), "NaN"),
            (np.zeros((1, 4, 4, 1), np.int64), "dtype int64"),
        ],
    )
    def test_rejects_bad_images(self, tmp_path, images, message):
        target = tmp_path / "grid.png"
        target.write_bytes(b"old")
        pattern = f"(?s)images.*{message}|{message}.*images"
        with pytest.raises(ValueError, match=pattern):
            save_image_grid(images, target)
        assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []

    @pytest.mark.parametrize(
        "kwargs, name", [({"ncols": 0}, "ncols"), ({"scale": 1.5}, "scale")]
    )
    def test_rejects_bad_layout(self, tmp_path, kwargs, name):
        with pytest.raises(ValueError, match=f"`{name}` must be an integer >= 1"):
            save_image_grid(
                np.zeros((1, 4, 4, 1), np.uint8), tmp_path / "g.png", **kwargs
            )
        assert list(tmp_path.iterdir()) == []

    def test_failed_write_leaves_nothing(self, tmp_path, monkeypatch):
        def broken_write(self, data):  # the PNG is encoded in memory, then written: half of it reaches the disk
            with open(self, "wb") as f:
                f.write(data[: len(data) // 2])
            raise OSError("disk full")

        monkeypatch.setattr(Path, "write_bytes", broken_write)
        with pytest.raises(OSError, match="disk full"):
            save_image_grid(np.zeros((1, 4, 4, 1), np.uint8), tmp_path / "g.png")
        assert list(tmp_path.iterdir()) == []
