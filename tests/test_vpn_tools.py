"""tools/vpn_excess.py (where a Video Pixel Network's nats above the targets' entropy fall) and the experiment
recipes in tools/experiments/ that zoo/video_pixel_network.md reports."""

from pathlib import Path

import numpy as np
import pytest
from keras import ops

import kgen
from kgen import recipes

import vpn_excess  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.one_backend("tensorflow")
def test_excess_is_the_cross_entropy_less_the_targets_entropy_and_never_negative():
    tool = vpn_excess
    model = kgen.zoo.get("video_pixel_network.tiny")
    videos = model.example_inputs(batch_size=3, seed=2)["x"]
    videos[:, :, 0, 0] = 0.0  # saturated and empty pixels as well as grey ones
    videos[:, :, 0, 1] = 255.0
    excess, p = tool.excess_maps(model, videos, batch=2)
    assert excess.shape == p.shape == (3, videos.shape[1] - 1, 5, 5)
    assert (excess >= -1e-9).all()
    nats = ops.convert_to_numpy(model.frame_nats(ops.convert_to_tensor(videos), model(videos)))  # (videos, frames)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(p > 0, p * np.log(p), 0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0)).sum(axis=(2, 3))
    np.testing.assert_allclose(excess.sum(axis=(2, 3)) + entropy, nats, rtol=1e-4)


@pytest.mark.one_backend("tensorflow")
def test_ink_above_looks_three_rows_up_and_three_columns_across():
    ink = np.zeros((1, 8, 12), bool)
    ink[0, 2, 5] = True
    above = vpn_excess.ink_above(ink)
    assert above[0, 3:6, 2:9].all() and above.sum() == 3 * 7  # rows 3..5, columns 2..8
    assert not above[0, 2].any() and not above[0, 6].any()


@pytest.mark.one_backend("tensorflow")
def test_experiment_recipes_are_valid_and_build_their_networks():
    files = sorted((REPO / "tools" / "experiments").glob("*.toml"))
    assert len(files) == 7
    readme = (REPO / "tools" / "experiments" / "README.md").read_text()
    for path in files:
        recipe = recipes.load(path)
        assert path.name in readme and recipe["model"] == "video_pixel_network.moving_mnist"
        config = kgen.zoo.get(recipe["model"], **recipe["model_args"]).get_config()
        assert all(config[k] == (list(v) if isinstance(v, tuple) else v) for k, v in recipe["model_args"].items())
