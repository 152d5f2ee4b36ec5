"""The CLI and recipe runner with representation models: train a tiny deep autoencoder on the embedded MNIST digits,
evaluate its reconstruction error, write its filters, encode a split, export it, and the linear-probe tool."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kgen
from kgen import cli, training

# The CLI's representation paths run once (they do backend-independent work); the models' training, encoding and
# export run under every backend in tests/test_zoo.py.
pytestmark = pytest.mark.one_backend("tensorflow")

RECIPE = """
model = "deep_autoencoder.tiny"
[data]
name = "mnist"
source = "embedded"
train_split = "train[:64]"
eval_split = "test[:40]"
monitor_split = "test[:16]"
eval_batch_size = 16
[model_args]
input_shape = [28, 28, 1]
input_scale = 0.00392156862745098
[train]
batch_size = 16
epochs = 2
steps_per_epoch = 2
num_samples = 4
"""

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests here: (run folder, what `kgen train` printed)."""
    tmp = tmp_path_factory.mktemp("representation_cli")
    recipe = tmp / "dae.toml"
    recipe.write_text(RECIPE)
    out = tmp / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["train", str(recipe), "--out", str(out), "--verbose", "0"]) == 0
    return out, printed.getvalue()


@pytest.fixture
def run(trained):
    return trained[0]


def test_train_evaluates_reconstruction_and_writes_filters(run, trained):
    printed = trained[1]
    assert "reconstruction error" in printed and "filters:" in printed
    result = json.loads((run / "eval.json").read_text())
    assert result["dataset"] == "mnist" and result["split"] == "test[:40]" and result["num_examples"] == 40
    model = training.load_model(run)
    images, _ = kgen.data.load_arrays("mnist", split="test[:40]", source="embedded")
    expected = model.reconstruction_error(images).mean()
    np.testing.assert_allclose(result["reconstruction_error"], expected, rtol=1e-4)
    assert (run / "filters.png").stat().st_size > 0
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "reconstruction_error" in header and "val_reconstruction_error" in header


def test_encode_writes_codes_and_labels(run, tmp_path, capsys):
    out = tmp_path / "codes.npz"
    assert cli.main(["encode", str(run), "--split", "test[:10]", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and captured.out.startswith("wrote 10 codes")
    assert captured.err == ""  # no --verbose, stderr not a terminal: no progress
    assert cli.main(["encode", str(run), "--split", "test[:10]", "--out", str(tmp_path / "again.npz"),
                     "--verbose", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and captured.out.startswith("wrote 10 codes")
    assert "1/1" in captured.err and "/batch" in captured.err
    saved = np.load(out)
    model = training.load_model(run)
    images, labels = kgen.data.load_arrays("mnist", split="test[:10]", source="embedded")
    np.testing.assert_allclose(saved["codes"], model.encode(images), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(saved["labels"], labels)
    # bad output name: a clear error, nothing written
    assert cli.main(["encode", str(run), "--out", str(tmp_path / "codes.txt")]) == 2
    assert "`--out` must be an .npz" in capsys.readouterr().err
    assert not (tmp_path / "codes.txt").exists()


def test_sample_refuses_a_representation_model(run, tmp_path, capsys):
    assert cli.main(["sample", str(run), "--out", str(tmp_path / "x.png")]) == 2
    assert "does not sample" in capsys.readouterr().err


def test_encode_refuses_a_generative_model(tmp_path, capsys):
    path = tmp_path / "pixelcnn.keras"
    kgen.zoo.get("pixelcnn.tiny", image_shape=(6, 6, 1)).save(path)
    assert cli.main(["encode", str(path), "--data", "mnist", "--out", str(tmp_path / "c.npz")]) == 2
    assert "takes a representation model" in capsys.readouterr().err


def test_export_serves_codes_and_reconstruction(tmp_path):
    from kgen.testing import TestCase

    model = kgen.zoo.get("deep_autoencoder.tiny", input_shape=(28, 28, 1), input_scale=1 / 255)
    x = np.random.default_rng(0).uniform(0, 255, (3, 28, 28, 1)).astype("float32")
    TestCase().run_export_test(model, x, tmp_path)


def test_linear_probe_tool(run, tmp_path):
    out = tmp_path / "probe.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "linear_probe.py"), str(run), "--train-split", "train[:200]",
         "--test-split", "test[:100]", "--max-iter", "50", "--source", "embedded", "--json", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["model"].split(" ")[0] for r in rows] == ["raw", model_name(run)]
    assert rows[1]["code_dim"] == training.load_model(run).encode(np.zeros((1, 28, 28, 1))).shape[1]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert rows[0]["accuracy"] > 0.5  # raw pixels separate 10 digit classes far above chance even from 200 images
    assert "| raw pixels | 784 |" in proc.stdout


def model_name(run):
    return training.load_model(run).name
