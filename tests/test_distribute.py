"""Data-parallel training (kgen.distribute) on virtual CPU devices, and mixed precision through the zoo, recipes and
the shell. The device count is fixed when a backend starts, so the multi-device runs are one child process
(tools/distribution_check.py) with 4 virtual CPU devices."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kgen
from kgen import distribute, recipes, training
from kgen.cli import main as cli_main

import distribution_check  # tools/

CHECK = Path(distribution_check.__file__)
MODELS, child_env = distribution_check.MODELS, distribution_check.child_env

BACKEND = keras.backend.backend()

#: One device and N devices take the same steps on the same global batches; they differ only in the order of
#: floating-point sums (measured: losses equal to 1e-7 relative, weights to 3e-7 after 3 Adam steps at lr 1e-2).
LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-5


@pytest.mark.skipif(BACKEND == "torch", reason="Keras has no data-parallel engine for torch (tested below)")
def test_data_parallel_matches_one_device_and_resumes(tmp_path):
    out = tmp_path / "result.json"
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(CHECK), str(out), "--devices", "1,4", "--run-dir",
         str(run_dir)],
        env=child_env(BACKEND, 4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["devices"]) == 4, result["devices"]
    assert set(result["compare"]) == set(MODELS)
    for name, runs in result["compare"].items():
        one = runs["1"]
        assert one["replicas"] == 1
        for devices in ("4",):  # (2 devices: the resume below trains on 2)
            run = runs[devices]
            assert run["replicas"] == int(devices), f"{name}: the weights live on {run['replicas']} devices"
            np.testing.assert_allclose(run["loss"], one["loss"], rtol=LOSS_RTOL, err_msg=f"{name} on {devices}")
            np.testing.assert_allclose(run["evaluated"], one["evaluated"], rtol=LOSS_RTOL,
                                       err_msg=f"{name} on {devices}, evaluated after training")
            assert run["max_weight_diff"] <= WEIGHT_ATOL, f"{name} on {devices}: weights moved apart"
    resume = result["resume"]
    assert resume["epochs_before_resume"] == [0, 1]
    assert resume["epochs_after_resume"] == [0, 1, 2, 3]
    assert resume["eval"]["num_examples"] == 32 and np.isfinite(resume["eval"]["nats"])
    assert resume["reload_max_log_prob_diff"] <= 1e-4
    saved = json.loads((run_dir / training.RECIPE_FILE).read_text())
    assert saved["train"]["distribute"] == "data_parallel" and saved["train"]["num_devices"] == 2


@pytest.mark.skipif(BACKEND != "torch", reason="the torch backend's refusal")
def test_data_parallel_on_torch_says_which_backends(recipe, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", recipe, "--out", str(out), "--epochs", "1", "--steps-per-epoch", "1",
                     "--distribute", "data_parallel", "--no-eval", "--samples", "0"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "data_parallel" in err and "jax" in err and "tensorflow" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_distribution_arguments():
    with pytest.raises(ValueError, match="`distribute` must be one of"):
        distribute.check_strategy("model_parallel")
    with pytest.raises(ValueError, match="`batch_size` 6 must be a multiple of the 4 devices"):
        distribute.check_batch_size(6, 4)
    if BACKEND != "torch":
        with pytest.raises(ValueError, match="`num_devices` is 99"):
            with distribute.data_parallel(num_devices=99):
                pass
        with pytest.raises(ValueError, match="`num_devices` must be a positive int"):
            with distribute.data_parallel(num_devices=0):
                pass


def test_the_shell_offers_what_the_library_takes():
    from kgen.cli import build_parser
    from kgen.models.kgen_model import DTYPE_POLICIES

    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if a.dest == "distribute")
    assert tuple(train.choices) == distribute.STRATEGIES
    dtype = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if a.dest == "dtype")
    assert tuple(dtype.choices) == DTYPE_POLICIES


# ---------------------------------------------------------------------------------------------- mixed precision
# (every architecture's own check is `run_mixed_precision_test`, which the test walker runs from its contract)


def test_zoo_get_honours_and_saves_the_dtype(tmp_path):
    model = kgen.zoo.get("pixelcnn.tiny", dtype="mixed_bfloat16")
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("block0_conv").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("output_conv2").dtype_policy.name == "float32"  # the likelihood head
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.dtype_policy.name == "mixed_bfloat16" and loaded.get_config()["dtype"] == "mixed_bfloat16"
    assert kgen.zoo.get("pixelcnn.tiny").get_config()["dtype"] == "float32"
    half = kgen.zoo.get("pixelcnn.tiny", dtype="mixed_float16")
    half.compile(optimizer="adam")
    assert isinstance(half.optimizer, keras.optimizers.LossScaleOptimizer)  # float16 needs loss scaling


def test_bad_dtype_names_the_argument():
    for bad in ("float64", "int8", 3):
        with pytest.raises(ValueError, match="`dtype` must be one of 'float32', 'mixed_bfloat16'"):
            kgen.zoo.get("pixelcnn.tiny", dtype=bad)


def test_a_recipe_selects_mixed_precision(tmp_path):
    recipe = recipes.from_model("pixelcnn.tiny")
    recipe["train"]["dtype"] = "mixed_bfloat16"
    assert training.build_model(recipe).dtype_policy.name == "mixed_bfloat16"
    path = tmp_path / "r.toml"
    path.write_text('model = "pixelcnn.tiny"\n[train]\ndtype = "mixed_bfloat16"\ndistribute = "data_parallel"\n')
    loaded = recipes.load(path)
    assert loaded["train"]["dtype"] == "mixed_bfloat16" and loaded["train"]["distribute"] == "data_parallel"


def test_pretrained_weights_load_into_a_mixed_model():
    name = kgen.zoo.list_models(pretrained=True)[0]
    full = kgen.zoo.get(name, pretrained=True)
    mixed = kgen.zoo.get(name, pretrained=True, dtype="mixed_bfloat16")
    assert mixed.dtype_policy.name == "mixed_bfloat16"
    for a, b in zip(full.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_kgen_train_takes_the_flags(recipe, tmp_path, capsys):
    """The shell's flags reach the run: mixed precision in the saved model and the recipe, and data-parallel over
    the one device this process has (the multi-device runs are the child process above)."""
    out = tmp_path / "run"
    flags = ["--dtype", "mixed_bfloat16"]
    if BACKEND != "torch":
        flags += ["--distribute", "data_parallel", "--num-devices", "1"]
    code = cli_main(["train", recipe, "--out", str(out), "--epochs", "1", "--steps-per-epoch", "1", "--batch-size",
                     "4", "--no-eval", "--samples", "0", "--verbose", "0", *flags])
    assert code == 0, capsys.readouterr().err
    saved = json.loads((out / training.RECIPE_FILE).read_text())["train"]
    assert saved["dtype"] == "mixed_bfloat16"
    assert saved["distribute"] == ("none" if BACKEND == "torch" else "data_parallel")
    model = training.load_model(out)
    assert model.dtype_policy.name == "mixed_bfloat16"


@pytest.mark.skipif(BACKEND == "torch", reason="torch refuses data_parallel before counting devices (tested above)")
def test_more_devices_than_the_machine_has(recipe, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", recipe, "--out", str(out), "--distribute", "data_parallel", "--num-devices", "3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "`num_devices` is 3" in err and len(err.splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.skipif(BACKEND != "jax", reason="the multi-host start is keras.distribution's, on JAX")
def test_multi_host_variables_start_keras_distribution(monkeypatch):
    """With Keras' coordinator variables set, listing the devices first calls keras.distribution.initialize() (here
    replaced by a recorder: one machine cannot start a multi-host job), once."""
    calls = []
    monkeypatch.setattr(keras.distribution, "initialize", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(distribute, "_multi_host_started", False)
    distribute.local_devices()
    assert calls == []
    for name, value in (("KERAS_DISTRIBUTION_JOB_ADDRESSES", "host0:1234,host1:1234"),
                        ("KERAS_DISTRIBUTION_NUM_PROCESSES", "2"), ("KERAS_DISTRIBUTION_PROCESS_ID", "0")):
        monkeypatch.setenv(name, value)
    distribute.local_devices()
    distribute.local_devices()
    assert calls == [((), {})]
