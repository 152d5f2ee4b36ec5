"""Data-parallel training on the engines users already run: `keras.distribution.DataParallel` on JAX and
`tf.distribute.MirroredStrategy` on TensorFlow. kgen adds no engine of its own; it picks the devices, checks that
the global batch splits evenly across them, and keeps the loss what it is on one device.

A recipe selects it with `[train] distribute = "data_parallel"` (and optionally `num_devices = N`; default: every
local accelerator, else every CPU device), the shell with `kgen train RECIPE --distribute data_parallel`. Every
batch the data pipeline gives is the *global* batch: each of the N devices computes the loss and gradients of
batch_size / N examples, and the gradients are averaged, so a step is the same step as on one device at the same
batch size (up to the order of floating-point sums). Checkpoints, `--resume` and evaluation are unchanged: the
saved files hold plain weights and load anywhere.

>>> from kgen import distribute
>>> with distribute.data_parallel(num_devices=2) as plan:      # build, compile and fit inside
...     model = kgen.zoo.get("pixelcnn.tiny"); model.compile(optimizer="adam"); model.fit(data)

Multi-host (JAX): start the same command on every host with keras' coordinator variables set
(`KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`); kgen then
calls `keras.distribution.initialize()` before listing the devices, so `DataParallel` spans every host's devices.

Testing on one CPU: JAX shows N virtual CPU devices with `XLA_FLAGS=--xla_force_host_platform_device_count=N` (set
before JAX starts); TensorFlow with `virtual_cpu_devices(N)` called before TensorFlow runs anything. Neither is a
speed-up on a CPU: the devices share its cores.
"""

import contextlib
import os

import keras

#: The `distribute` values a recipe or `kgen train --distribute` takes ("none" trains on one device).
STRATEGIES = ("none", "data_parallel")

_MULTI_HOST_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                         "KERAS_DISTRIBUTION_PROCESS_ID")


class Plan:
    """What `data_parallel` set up: the backend's engine, the devices, and the number of replicas."""

    def __init__(self, engine, devices):
        self.engine = engine
        self.devices = list(devices)

    @property
    def num_devices(self):
        return len(self.devices)

    def __repr__(self):
        return f"Plan(engine={self.engine!r}, devices={self.devices!r})"


def check_strategy(value):
    """A recipe's or the shell's `distribute` value: one of `STRATEGIES` (None means "none")."""
    value = "none" if value is None else value
    if value not in STRATEGIES:
        raise ValueError(f"`distribute` must be one of {', '.join(map(repr, STRATEGIES))}, got {value!r}.")
    return value


def virtual_cpu_devices(count):
    """Split TensorFlow's CPU into `count` logical devices (for tests and `tools/bench_scaling.py`); call it before
    TensorFlow runs anything. JAX needs `XLA_FLAGS=--xla_force_host_platform_device_count=N` instead."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(count))


def local_devices():
    """The devices data-parallel training would use on this backend: accelerators if there are any, else CPUs."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        _start_multi_host()
        platforms = {d.platform for d in jax.devices()}
        kind = next((k for k in ("gpu", "tpu") if k in platforms), "cpu")
        return keras.distribution.list_devices(kind)
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return [d.name for d in devices]
    raise ValueError(
        f"`distribute='data_parallel'` trains with keras.distribution on the jax backend or tf.distribute on the "
        f"tensorflow backend; the {backend} backend has no Keras data-parallel engine. Set KERAS_BACKEND=jax or "
        "tensorflow, or train on one device."
    )


_multi_host_started = False


def _start_multi_host():
    """`keras.distribution.initialize()` once, when Keras' coordinator variables are all set (JAX, several hosts);
    it must run before JAX computes anything, so before the devices are listed."""
    global _multi_host_started
    if _multi_host_started or not all(os.environ.get(name) for name in _MULTI_HOST_VARIABLES):
        return
    try:
        keras.distribution.initialize()
    except RuntimeError as e:  # the user's script started it already (jax.distributed runs once per process)
        if "once" not in str(e):
            raise
    _multi_host_started = True


def check_batch_size(batch_size, num_devices):
    """The global batch must split evenly: each device takes batch_size / num_devices examples."""
    if batch_size % num_devices:
        raise ValueError(
            f"`batch_size` {batch_size} must be a multiple of the {num_devices} devices of data-parallel training "
            f"(each takes batch_size / {num_devices} examples)."
        )


@contextlib.contextmanager
def data_parallel(num_devices=None):
    """Within the block, models built, compiled and trained run data-parallel over `num_devices` local devices
    (default: all of them). Yields the `Plan`. Builds a model inside the block: TensorFlow makes its variables
    mirrored there."""
    devices = local_devices()
    if num_devices is not None:
        if not isinstance(num_devices, int) or isinstance(num_devices, bool) or num_devices < 1:
            raise ValueError(f"`num_devices` must be a positive int, got {num_devices!r}.")
        if num_devices > len(devices):
            raise ValueError(
                f"`num_devices` is {num_devices}, but this machine shows {len(devices)} device(s): {devices}."
            )
        devices = devices[:num_devices]
    backend = keras.backend.backend()
    if backend == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield Plan("keras.distribution.DataParallel", devices)
        finally:
            keras.distribution.set_distribution(previous)
    else:
        import tensorflow as tf

        # On GPUs MirroredStrategy's default all-reduce (NCCL); between CPU devices a reduction on one device, as
        # TensorFlow advises (its collective ops also clash when two strategies of different sizes share a process).
        on_cpu = all("CPU" in d.upper() for d in devices)
        strategy = tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice() if on_cpu else None)
        with strategy.scope():
            yield Plan("tf.distribute.MirroredStrategy", devices)


def scope(strategy, num_devices=None):
    """`data_parallel(num_devices)` for "data_parallel", a scope that does nothing (yielding None) for "none"."""
    if check_strategy(strategy) == "none":
        return contextlib.nullcontext()
    return data_parallel(num_devices)


def scale_loss(loss):
    """A model's loss under `tf.distribute`: each replica's mean divided by the number of replicas, so that the
    summed gradients are those of the global batch's mean (Keras does this for the losses it computes itself; a
    model that computes its own loss in `compute_loss` must do it too). The identity elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)
