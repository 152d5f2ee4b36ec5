import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
