"""Data-parallel checks on virtual CPU devices, run in a child process (the device count is fixed when the backend
starts): `python tools/distribution_check.py OUT.json [--devices 1,2,4] [--models ...] [--run-dir DIR]` with
`KERAS_BACKEND` set. `tests/test_distribute.py` runs it, `tools/bench_scaling.py` times its `train_steps`;
`child_env(backend, n)` gives the environment.

For each model (one of each kind: image, sequence, representation, video), from the same initial weights and the
same global batches, it trains `steps` Adam steps on one device (no distribution at all) and data-parallel on 2 and
4 devices (`kgen.distribute.data_parallel`), and writes the training loss, the loss evaluated afterwards and the
largest weight difference from the one-device run. With `--run-dir` it also trains a recipe through
`kgen.training.train` on 2 devices, is stopped after its second epoch as a crash would stop it, resumes, evaluates
and reloads the saved model.
"""

import argparse
import json
import os
import sys
import time

#: One tiny preset of each kind of model.
MODELS = ("pixelcnn.tiny", "wavenet.tiny", "autoencoder.tiny", "video_pixel_network.tiny")


def child_env(backend, num_devices, base=None):
    """The environment of a child process whose backend shows `num_devices` CPU devices (JAX through XLA_FLAGS;
    TensorFlow is split by `kgen.distribute.virtual_cpu_devices` in the child, told by KGEN_VIRTUAL_CPUS)."""
    env = dict(os.environ if base is None else base)
    env["KERAS_BACKEND"] = backend
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={num_devices}".strip()
    env["KGEN_VIRTUAL_CPUS"] = str(num_devices)
    return env


def _start_devices():
    import keras

    count = int(os.environ.get("KGEN_VIRTUAL_CPUS", "1"))
    if keras.backend.backend() == "tensorflow" and count > 1:
        from kgen.distribute import virtual_cpu_devices

        virtual_cpu_devices(count)


def train_steps(name, devices, weights, data, batch_size, steps, dtype=None):
    """Train `name` from `weights` for `steps` batches of `data` on `devices` devices (1: no distribution);
    returns (model, training loss, evaluated loss, seconds per step after the first)."""
    import keras
    import numpy as np

    import kgen
    from kgen import distribute

    kwargs = {} if dtype is None else {"dtype": dtype}
    scope = distribute.scope("none" if devices == 1 else "data_parallel", None if devices == 1 else devices)
    with scope:
        model = kgen.zoo.get(name, **kwargs)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        timer = step_timer()
        history = model.fit(data, batch_size=batch_size, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
                            callbacks=[timer])
        evaluated = model.evaluate(data, batch_size=batch_size, steps=steps, verbose=0, return_dict=True)["loss"]
    return model, float(history.history["loss"][-1]), float(evaluated), float(np.median(timer.times[1:]))


def step_timer():
    """A Keras callback that records the seconds of every training batch in its `times`."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return StepTimer()


def replicas(model):
    """On how many devices the model's weights live (its replicas), as the backend's engine reports it."""
    import keras

    if keras.backend.backend() == "jax":
        return len(model.trainable_weights[0].value.sharding.device_set)
    return int(model.distribute_strategy.num_replicas_in_sync)


def compare(names, device_counts, batch_size=8, steps=3):
    """{model: {devices: {"loss", "evaluated", "max_weight_diff", "step_s"}}} over `device_counts` (1 first)."""
    import keras
    import numpy as np

    import kgen
    from kgen.testing.test_case import conditioning

    results = {}
    for name in names:
        keras.utils.set_random_seed(0)
        model = kgen.zoo.get(name)
        weights = model.get_weights()
        x = model.example_inputs(batch_size=batch_size * steps, seed=0)["x"]
        data = model.model_inputs(x, **conditioning(model, x))
        runs, base = {}, None
        for devices in device_counts:
            trained, loss, evaluated, step_s = train_steps(name, devices, weights, data, batch_size, steps)
            final = [np.asarray(w) for w in trained.get_weights()]
            if base is None:
                base = final
            diff = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(final, base))
            runs[devices] = {"loss": loss, "evaluated": evaluated, "max_weight_diff": diff, "step_s": step_s,
                             "replicas": replicas(trained)}
        results[name] = runs
    return results


def resume_run(run_dir, devices):
    """A tiny PixelCNN recipe trained through `kgen.training.train` on `devices` devices, stopped by an error
    after its second epoch's files are written (as a crash would stop it), resumed to its fourth epoch, evaluated,
    and its model.keras reloaded; returns what the test checks."""
    import csv
    from pathlib import Path

    import keras
    import numpy as np

    from kgen import recipes, training

    recipe = recipes.from_model("pixelcnn.mnist")
    recipe["model_args"] = {"hidden_dim": 8, "output_dim": 8, "num_residual_blocks": 1}
    recipe["data"].update(source="embedded", monitor_split="test[:16]", eval_split="test[:32]")
    recipe["train"].update(batch_size=8, epochs=4, steps_per_epoch=2, distribute="data_parallel",
                           num_devices=devices)

    class Crash(Exception):
        pass

    original = keras.callbacks.CSVLogger.on_epoch_end

    def crash_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise Crash()

    keras.callbacks.CSVLogger.on_epoch_end = crash_after_second_epoch
    try:
        training.train(recipe, run_dir)
    except Crash:
        pass
    finally:
        keras.callbacks.CSVLogger.on_epoch_end = original
    def logged_epochs():
        with open(Path(run_dir) / training.METRICS_FILE, newline="") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f)]

    before = logged_epochs()
    model = training.train(recipe, run_dir, resume=True)
    after = logged_epochs()
    result = training.evaluate(model, recipe, verbose=0)
    loaded = training.load_model(run_dir)
    x = model.example_inputs(batch_size=4, seed=3)["x"]
    same = float(np.max(np.abs(np.asarray(loaded.log_prob(x)) - np.asarray(model.log_prob(x)))))
    return {"epochs_before_resume": before, "epochs_after_resume": after, "eval": result,
            "reload_max_log_prob_diff": same}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file for the results")
    parser.add_argument("--devices", default="1,2,4", help="device counts, comma-separated, 1 first")
    parser.add_argument("--models", default=",".join(MODELS), help="zoo names, comma-separated")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--run-dir", help="also train, crash, resume and evaluate a recipe here on 2 devices")
    args = parser.parse_args(argv)
    _start_devices()
    import kgen.models  # noqa: F401  (registers the families: `python -m` starts kgen lazily)
    from kgen import distribute

    counts = [int(c) for c in args.devices.split(",")]
    out = {"devices": distribute.local_devices(),
           "compare": compare([m for m in args.models.split(",") if m], counts, args.batch_size, args.steps)}
    if args.run_dir:
        out["resume"] = resume_run(args.run_dir, 2)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
