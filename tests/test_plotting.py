"""Tests for kgen.plotting.tile_filters: per-filter scaling, layout, atomic writes, bad input."""

import numpy as np
import pytest
from PIL import Image

from kgen.plotting import tile_filters


def test_each_filter_scaled_to_its_own_range(tmp_path):
    small = np.linspace(0.0, 1e-3, 16).reshape(4, 4)
    big = np.linspace(-50.0, 70.0, 16).reshape(4, 4)
    flat = np.full((4, 4), 3.0)
    path = tile_filters(np.stack([small, big, flat]), tmp_path / "f.png", ncols=3, scale=2)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (8, 3 * 8 + 2)  # 3 tiles of 8 px, 1 px gutters
    tiles = [grid[:, i * 9 : i * 9 + 8] for i in range(3)]
    for tile in tiles[:2]:
        assert tile.min() == 0 and tile.max() == 255
    np.testing.assert_array_equal(tiles[0], tiles[1])  # same pattern, different scales
    assert np.all(tiles[2] == 128)  # a constant filter is mid-grey
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]  # no temporary file left


def test_flat_square_vectors_and_colour(tmp_path):
    path = tile_filters(np.random.default_rng(0).normal(size=(5, 64)), tmp_path / "a.png", scale=1)
    assert Image.open(path).size == (3 * 8 + 2, 2 * 8 + 1)  # ceil(sqrt(5)) = 3 columns, 2 rows
    path = tile_filters(np.random.default_rng(0).normal(size=(2, 3, 3, 3)), tmp_path / "c.png", scale=1)
    assert Image.open(path).mode == "RGB"


@pytest.mark.parametrize(
    "filters, match",
    [
        (np.zeros((3, 10)), "square"),
        (np.zeros((3, 4, 4, 2)), "filters"),
        (np.full((2, 4, 4), np.nan), "NaN"),
        ("abc", "filters"),
    ],
)
def test_bad_filters(tmp_path, filters, match):
    with pytest.raises(ValueError, match=match):
        tile_filters(filters, tmp_path / "x.png")
    assert not any(tmp_path.iterdir())


def test_bad_options(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        tile_filters(np.zeros((2, 4, 4)), tmp_path / "x.png", scale=0)
    with pytest.raises(ValueError, match="ncols"):
        tile_filters(np.zeros((2, 4, 4)), tmp_path / "x.png", ncols=0)
    with pytest.raises(ValueError, match="path"):
        tile_filters(np.zeros((2, 4, 4)), "")
