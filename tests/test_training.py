"""`kgen.training.run` is a whole run, the one `kgen train` makes: a script calling it gets the command's run folder,
file for file, and the lines the command prints; bad arguments are refused before anything is written."""

import json

import pytest

from kgen import cli, training

# As tests/test_cli.py's TINY flags: the embedded digits, 2 steps of 16 per epoch, small evaluation splits.
FLAGS = ["--epochs", "1", "--data-source", "embedded", "--steps-per-epoch", "2", "--batch-size", "16",
         "--eval-split", "test[:64]", "--monitor-split", "test[:32]", "--verbose", "0"]


def _tiny(recipe_file):
    """The recipe dict that `kgen train RECIPE_FILE FLAGS` runs."""
    recipe = training.resolve_recipe(recipe_file)
    recipe["train"].update(epochs=1, steps_per_epoch=2, batch_size=16)
    recipe["data"].update(source="embedded", eval_split="test[:64]", monitor_split="test[:32]")
    return recipe


def _files(run_dir):
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*"))


def test_run_makes_the_run_folder_of_kgen_train(tmp_path, capsys, recipe):
    by_command, by_library = tmp_path / "command", tmp_path / "library"
    assert cli.main(["train", recipe, "--out", str(by_command), "--samples", "2"] + FLAGS) == 0
    printed = capsys.readouterr().out.splitlines()

    result = training.run(_tiny(recipe), by_library, verbose=0, num_samples=2)
    assert capsys.readouterr().out == ""  # the library prints nothing at verbose 0: the lines are returned
    assert _files(by_library) == _files(by_command)
    assert _files(by_library) == ["data.json", "eval.json", "metrics.csv", "model.keras", "recipe.json",
                                  "samples.png"]
    assert (by_library / "recipe.json").read_text() == (by_command / "recipe.json").read_text()
    assert result.run_dir == by_library and type(result.model).__name__ == "PixelCNN"
    assert result.summary == json.loads((by_library / "eval.json").read_text())
    assert result.summary["num_examples"] == 64 and result.summary["nats"] > 0
    assert result.artifacts == [("samples", by_library / "samples.png")]
    # The same lines as the command's: its result line (the model's words for the summary), then each artifact.
    assert len(result.lines()) == len(printed) == 2
    assert result.lines()[0] == result.result_line and result.result_line.split(":")[0] == printed[0].split(":")[0]
    assert result.lines()[1:] == [line.replace(str(by_command), str(by_library)) for line in printed[1:]]


def test_run_without_evaluation_or_samples_takes_a_recipe_name(tmp_path, recipe):
    """`evaluate=False, num_samples=0` is `kgen train --no-eval --samples 0`; the recipe may be given as the command
    takes it (here a .toml path, checked and completed like a recipe file)."""
    run_dir = tmp_path / "run"
    recipe_file = tmp_path / "tiny_run.toml"
    text = open(recipe).read().replace('[data]\n', '[data]\neval_split = "test[:64]"\n')
    recipe_file.write_text(text + "[train]\nepochs = 1\nsteps_per_epoch = 1\nbatch_size = 16\n")
    result = training.run(str(recipe_file), run_dir, verbose=0, evaluate=False, num_samples=0)
    assert result.summary is None and result.result_line is None and result.artifacts == []
    assert result.lines() == []
    assert _files(run_dir) == ["data.json", "metrics.csv", "model.keras", "recipe.json"]


@pytest.mark.parametrize("recipe_arg,kwargs,match", [
    ("pixelcnn.huge", {}, "Unknown model name 'pixelcnn.huge'"),
    ({"model": "pixelcnn.tiny", "train": {"batchsize": 3}}, {}, "unknown key 'batchsize'"),
    (42, {}, "`recipe` must be a recipe dict"),
    ({"model": "pixelcnn.tiny"}, {"num_samples": -1}, "`num_samples` must be an integer from 0 to 1024"),
    ({"model": "pixelcnn.tiny"}, {"num_samples": 2.0}, "`num_samples` must be an integer"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, recipe_arg, kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.run(recipe_arg, tmp_path / "run", verbose=0, **kwargs)
    assert not (tmp_path / "run").exists()


def _scheduled(recipe_file, epochs):
    recipe = _tiny(recipe_file)
    recipe["data"]["monitor_split"] = None
    recipe["train"].update(epochs=epochs, learning_rate=1e-2, warmup_steps=3, schedule="cosine", decay_steps=5,
                           final_lr_ratio=0.1)
    return recipe


def _lr_at(step):
    """The recipe above's rate after `step` optimizer steps (warm-up 3, cosine over 5 to 0.1x)."""
    import math

    if step <= 3:
        return 1e-2 * step / 3
    t = min(step - 3, 5) / 5
    return 1e-2 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def test_the_learning_rate_schedule_continues_across_a_resume(tmp_path, recipe, monkeypatch):
    """Warm-up then cosine decay, a function of the optimizer's step count, which the checkpoint keeps: a run stopped
    after two epochs and resumed logs the same rates, epoch for epoch, as the schedule gives."""
    run = tmp_path / "run"

    def stop_at_third_epoch(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt  # as a Ctrl-C between epochs: backup/ holds epoch 2's checkpoint

    with monkeypatch.context() as m:
        m.setattr(training.TimeBudget, "on_epoch_begin", stop_at_third_epoch, raising=False)
        with pytest.raises(KeyboardInterrupt):
            training.train(_scheduled(recipe, epochs=5), run, verbose=0)
    assert (run / "backup").is_dir()
    model = training.train(_scheduled(recipe, epochs=5), run, resume=True, verbose=0)
    assert int(keras_iterations(model)) == 5 * 2
    rates = [float(r["learning_rate"]) for r in _csv_rows(run / "metrics.csv")]
    assert rates == pytest.approx([_lr_at(2 * (e + 1)) for e in range(5)], rel=1e-5)


def keras_iterations(model):
    import keras

    return keras.ops.convert_to_numpy(model.optimizer.iterations)


def _csv_rows(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_constant_rate_without_warm_up_is_a_number():
    """Recipes that set no schedule train as before: Adam with the number (and metrics.csv has no learning_rate
    column, so a run started by an older kgen resumes with the same columns)."""
    assert training.learning_rate_schedule({"learning_rate": 3e-4, "warmup_steps": 0, "schedule": "constant"}) == 3e-4
    warm = training.learning_rate_schedule({"learning_rate": 3e-4, "warmup_steps": 10, "schedule": "constant"})
    assert [float(warm(s)) for s in (0, 5, 10, 1000)] == pytest.approx([0.0, 1.5e-4, 3e-4, 3e-4])


def _preset_of(recipe_file, folder, seed):
    """A preset folder of the tiny recipe's model with weights drawn from `seed`; returns their arrays."""
    import keras

    from kgen import pretrained

    keras.utils.set_random_seed(seed)
    model = training.build_model(training.resolve_recipe(recipe_file))
    pretrained.save_preset(model, folder, name="pixelcnn.tiny")
    return model.get_weights()


def test_a_run_starts_from_the_weights_its_recipe_names(tmp_path, recipe):
    """`[train] init_weights`: the run starts from a preset's weights, not from the seed's (a second cycle or
    fine-tuning), pinned by `init_sha256`; init.json records what it started from."""
    import numpy as np

    from kgen import pretrained

    preset = tmp_path / "preset"
    start = _preset_of(recipe, preset, seed=7)
    digest = pretrained.sha256(preset / pretrained.WEIGHTS_FILE)
    tiny = _tiny(recipe)
    tiny["data"]["monitor_split"] = None
    tiny["train"].update(learning_rate=1e-9, init_weights=str(preset), init_sha256=digest)
    model = training.train(tiny, tmp_path / "run", verbose=0)
    trained = model.get_weights()
    # Two Adam steps of 1e-9 move no weight by more than 2e-9: the run began at the preset's weights ...
    assert all(np.allclose(a, b, rtol=0, atol=1e-8) for a, b in zip(trained, start))
    # ... and not at the recipe seed's own initialisation, which is far from them.
    fresh = _tiny(recipe)
    fresh["data"]["monitor_split"] = None
    fresh["train"].update(learning_rate=1e-9)
    unstarted = training.train(fresh, tmp_path / "fresh", verbose=0).get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(unstarted, start)) > 1e-3
    assert json.loads((tmp_path / "run" / training.INIT_FILE).read_text()) == {
        "init_weights": str(preset), "folder": str(preset), "sha256": digest}
    assert not (tmp_path / "fresh" / training.INIT_FILE).exists()
    saved = json.loads((tmp_path / "run" / "recipe.json").read_text())["train"]
    assert saved["init_weights"] == str(preset) and saved["init_sha256"] == digest


def test_starting_weights_that_are_not_the_pinned_ones_are_refused_before_anything_is_written(tmp_path, recipe):
    preset = tmp_path / "preset"
    _preset_of(recipe, preset, seed=7)
    tiny = _tiny(recipe)
    tiny["train"].update(init_weights=str(preset), init_sha256="0" * 64)
    with pytest.raises(ValueError, match=r"\[train\] init_weights = .*has sha256 [0-9a-f]{64}, not the recipe's "
                                         r"init_sha256 0{64}"):
        training.train(tiny, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    tiny["train"].update(init_weights=str(tmp_path / "nowhere"), init_sha256=None)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        training.train(tiny, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("train_section,match", [
    ({"init_sha256": "0" * 64}, r"\[train\] `init_sha256` pins the weights of `init_weights`, which is not set"),
    ({"init_weights": "pixelcnn.mnist", "init_sha256": "ABC"}, r"\[train\] init_sha256`: string should match"),
    ({"init_weights": ""}, r"\[train\] init_weights`: string should have at least 1 character"),
])
def test_bad_starting_weights_keys_are_named(train_section, match):
    from kgen import recipes

    with pytest.raises(recipes.RecipeError, match=match):
        recipes.validate({"model": "pixelcnn.tiny", "train": train_section})


# Momentum so close to 1 (0.99999988 in float32) that the average stays at its first value, the weights after the
# first step (Keras starts the average there): what a run hands over can then be compared with a one-step run.
STILL = 0.9999999


def _averaged(recipe_file, epochs, monitor=True):
    tiny = _tiny(recipe_file)
    tiny["train"].update(epochs=epochs, ema_momentum=STILL)
    if not monitor:
        tiny["data"]["monitor_split"] = None
    return tiny


def _after_one_step(recipe_file, out):
    tiny = _tiny(recipe_file)
    tiny["train"].update(steps_per_epoch=1)
    tiny["data"]["monitor_split"] = None
    return training.train(tiny, out, verbose=0).get_weights()


def _assert_same_weights(a, b, atol):
    import numpy as np

    assert len(a) == len(b)
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, b)) <= atol


@pytest.mark.parametrize("ending", ["last_epoch", "time_budget", "resumed"])
def test_ema_momentum_trains_the_weights_and_hands_over_their_average(tmp_path, recipe, monkeypatch, ending):
    """`[train] ema_momentum`: the model a run returns and saves (model.keras) holds the moving average of the
    weights, not the trained weights, whether the run ends after its last epoch, is stopped by its time budget or
    is resumed (the checkpoint keeps the average), and the monitor split is evaluated on the average."""
    import keras

    first_step = _after_one_step(recipe, tmp_path / "one_step")
    run = tmp_path / "run"
    if ending == "last_epoch":
        model = training.train(_averaged(recipe, epochs=3), run, verbose=0)
    elif ending == "time_budget":
        def stop_after_second_epoch(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

        monkeypatch.setattr(training.TimeBudget, "on_epoch_end", stop_after_second_epoch)
        model = training.train(_averaged(recipe, epochs=1000), run, verbose=0)
        assert len(_csv_rows(run / "metrics.csv")) == 2
    else:
        def stop_at_third_epoch(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(training.TimeBudget, "on_epoch_begin", stop_at_third_epoch, raising=False)
            with pytest.raises(KeyboardInterrupt):
                training.train(_averaged(recipe, epochs=4), run, verbose=0)
        model = training.train(_averaged(recipe, epochs=4), run, resume=True, verbose=0)
        assert int(keras_iterations(model)) == 4 * 2
    assert int(keras_iterations(model)) >= 2 * 2  # several steps, each moving the trained weights by ~1e-3 ...
    _assert_same_weights(model.get_weights(), first_step, atol=2e-6)  # ... while the average stayed put
    saved = keras.saving.load_model(run / training.MODEL_FILE, compile=False)
    _assert_same_weights(saved.get_weights(), first_step, atol=2e-6)
    # Every epoch's monitor figure is the average's, so it does not move.
    monitored = [float(r["val_nats"]) for r in _csv_rows(run / "metrics.csv")]
    assert monitored == pytest.approx([monitored[0]] * len(monitored), rel=1e-5)


def test_without_ema_momentum_a_run_hands_over_the_trained_weights(tmp_path, recipe):
    """The control of the test above: the same run without `ema_momentum` ends far from the first step's weights
    (so that test's agreement is the average's doing), and its monitor figure moves."""
    import numpy as np

    first_step = _after_one_step(recipe, tmp_path / "one_step")
    tiny = _tiny(recipe)
    tiny["train"].update(epochs=3)
    trained = training.train(tiny, tmp_path / "run", verbose=0).get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(trained, first_step)) > 1e-4
    monitored = [float(r["val_nats"]) for r in _csv_rows(tmp_path / "run" / "metrics.csv")]
    assert len(set(monitored)) > 1


@pytest.mark.parametrize("value, match", [
    (1.0, r"\[train\] ema_momentum`: input should be less than 1"),
    (0.0, r"\[train\] ema_momentum`: input should be greater than 0"),
    ("0.999", r"\[train\] ema_momentum`: input should be a valid number"),
])
def test_bad_ema_momentum_is_named(value, match):
    from kgen import recipes

    with pytest.raises(ValueError, match=match):
        recipes.validate({"model": "pixelcnn", "train": {"ema_momentum": value}})


@pytest.mark.parametrize("value, match", [
    (1.0, r"\[train\] label_dropout`: input should be less than 1"),
    (-0.1, r"\[train\] label_dropout`: input should be greater than or equal to 0"),
    ("0.2", r"\[train\] label_dropout`: input should be a valid number"),
])
def test_bad_label_dropout_is_named(value, match):
    from kgen import recipes

    with pytest.raises(ValueError, match=match):
        recipes.validate({"model": "wavenet.tiny", "train": {"label_dropout": value}})


def test_label_dropout_needs_a_model_with_a_null_label(tmp_path, recipe):
    """An unconditional model has no label to drop: refused, naming the key, before the run folder exists."""
    tiny = _tiny(recipe)
    tiny["train"]["label_dropout"] = 0.2
    with pytest.raises(ValueError, match=r"\[train\] label_dropout = 0.2: the model 'pixelcnn\.mnist' has no null label"):
        training.train(tiny, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_drop_labels_replaces_labels_at_the_rate_and_keeps_the_rest():
    """`drop_labels`: about `rate` of the labels become the null label, independently per example; the others and
    every other part of an element are kept; the same seed drops the same ones."""
    import numpy as np
    import tensorflow as tf

    labels = np.arange(4000, dtype="int32").reshape(500, 8) % 10
    tokens = np.arange(4000 * 3, dtype="int32").reshape(500, 8, 3)
    data = tf.data.Dataset.from_tensor_slices(({"labels": labels, "tokens": tokens}, tokens))
    dropped = training.drop_labels(data, 0.2, -1, seed=3)

    def collect(ds):
        got = [(x["labels"].numpy(), x["tokens"].numpy(), y.numpy()) for x, y in ds]
        return [np.stack(part) for part in zip(*got)]

    out, out_tokens, out_y = collect(dropped)
    null = out == -1
    assert 0.17 < null.mean() < 0.23, null.mean()
    np.testing.assert_array_equal(out[~null], labels[~null])
    np.testing.assert_array_equal(out_tokens, tokens)
    np.testing.assert_array_equal(out_y, tokens)
    assert 0.1 < null.mean(axis=1).std()  # per example, not per batch
    np.testing.assert_array_equal(collect(training.drop_labels(data, 0.2, -1, seed=3))[0], out)
    assert not np.array_equal(collect(training.drop_labels(data, 0.2, -1, seed=4))[0], out)
