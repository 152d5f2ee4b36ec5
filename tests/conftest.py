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


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.one_backend("jax")`: a test of code that does not depend on the Keras backend beyond what the
    model tests check on every backend (a tool's end-to-end run, say) runs in that backend's suite only, so that CI,
    which runs the suite once per backend, runs it once. KGEN_EVERY_BACKEND=1 runs it under every backend."""
    _group_modules_with_shared_fixtures(config, items)
    # The longest tests (marked slow: the README as typed, the notebooks, the tools' end-to-end runs) first, so that
    # pytest-xdist, which hands out tests in this order, does not start a five-minute test when the rest is done.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if os.environ.get("KGEN_EVERY_BACKEND") == "1":
        return
    for item in items:
        marker = item.get_closest_marker("one_backend")
        if marker is not None and marker.args[0] != backend:
            item.add_marker(pytest.mark.skip(
                reason=f"backend-independent: runs once, in the {marker.args[0]} suite (KGEN_EVERY_BACKEND=1: every one)"))


def _group_modules_with_shared_fixtures(config, items):
    """Under pytest-xdist (`-n 2 --dist loadgroup`, tools/test_backends.sh) the tests of a module that builds a
    module- or class-scoped fixture (a trained model, a set of made files) stay on one worker, which builds it once;
    every other test goes to whichever worker is free."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        defs = [d for ds in item._fixtureinfo.name2fixturedefs.values() for d in ds]
        module = item.nodeid.split("::")[0]
        if any(d.scope in ("module", "class") and d.baseid.startswith(module) for d in defs):
            item.add_marker(pytest.mark.xdist_group(module))


@pytest.fixture(autouse=True, scope="module")
def _release_each_module():
    """After each test module, Keras' global state and (on JAX) the compiled functions are dropped, so that one
    pytest process does not hold every model the suite ever built."""
    yield
    import gc

    import keras

    keras.backend.clear_session()
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()
    gc.collect()


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


TINY_PIXELCNN_RECIPE = """
model = "pixelcnn.mnist"
[model_args]
hidden_dim = 8
output_dim = 8
num_residual_blocks = 1
[data]
name = "binarized_mnist"
source = "embedded"
"""


@pytest.fixture(scope="session")
def tiny_recipe_text():
    """The text of the tiny PixelCNN recipe (for module-scoped fixtures, which cannot use `recipe`)."""
    return TINY_PIXELCNN_RECIPE


@pytest.fixture
def recipe(tmp_path):
    """A recipe file for a tiny PixelCNN on the embedded MNIST digits (the CLI and fault tests train it)."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_PIXELCNN_RECIPE)
    return str(path)


def pytest_runtest_logreport(report):
    """With KGEN_TEST_TIMES=PATH, append each test phase's seconds to PATH as it ends (`tools/test_times.py`
    sums them), so that a long suite's cost can be read while it runs. Under pytest-xdist each worker records its
    own tests (the controller, which gets every report again from the workers, records none)."""
    path = os.environ.get("KGEN_TEST_TIMES")
    relayed = getattr(report, "node", None) is not None  # a worker's report, in the xdist controller
    if path and not relayed:
        with open(path, "a") as f:
            f.write(f"{report.duration:.2f}\t{report.when}\t{report.nodeid}\n")
