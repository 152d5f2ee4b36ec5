import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config):
    # The tests run tiny models, whose many small torch ops are slower across threads than on one: the PixelRNN
    # tests took 16 minutes with torch's default threads on the 2-core CI machine and 1.5 minutes on one.
    if os.environ.get("KERAS_BACKEND") == "torch":
        import torch

        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, so weight initialisation is reproducible."""
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def shared_data_dir():
    path = Path(os.environ.get("KGEN_DATA_DIR", SHARED_DATA))
    if not (path / "mnist").is_dir():
        pytest.skip(f"real MNIST not found at {path} (set KGEN_DATA_DIR)")
    return path
