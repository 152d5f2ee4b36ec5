"""The step arithmetic of incremental generation, shared by the layers' and models' `call_with_cache`.

A generation loop (`kgen.samplers`) calls a model's `call_with_cache(inputs, cache, index)` once per step; the model
chains its layers' own steps. The step `index` is a Python int in an eager loop (torch) and a scalar tensor in a
compiled one (JAX, TensorFlow, `torch.compile`): these helpers take either, and keep Python arithmetic for Python
ints so that eager loops skip the tensor ops.
"""

import os

import numpy as np
import keras
from keras import ops


def dim(x, axis):
    """Size of `x` along `axis`: a Python int when known, else a scalar tensor (a batch traced as None)."""
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def is_static(value):
    """True for a Python int or bool (an eager loop's step, under torch), False for a traced tensor."""
    return isinstance(value, (bool, int, np.integer))


def same_dtypes(new, old):
    """`new` (a nested cache) with each tensor cast to the dtype of its counterpart in `old`: a loop's carry keeps
    its dtypes under mixed precision, where a layer's step returns its compute dtype (bfloat16) into a float32
    cache. Tensors that already match are returned as they are."""

    def cast(n, o):
        return n if n.dtype == o.dtype else ops.cast(n, o.dtype)

    return keras.tree.map_structure(cast, new, old)


def previous_step(index):
    """max(index - 1, 0): the step whose value comes in with step `index` (0 itself at the start)."""
    return max(int(index) - 1, 0) if is_static(index) else ops.maximum(index - 1, 0)


def equals(value, target):
    """value == target: a Python bool for a Python-int value, a tensor otherwise."""
    return value == target if is_static(value) else ops.equal(value, target)


def select(condition, if_true, if_false):
    """`if_true` where `condition` holds, else `if_false`: a Python choice when `condition` is a Python bool (eager
    loops skip the tensor ops), `ops.where` otherwise."""
    if is_static(condition):
        return if_true if condition else if_false
    return ops.where(condition, if_true, if_false)


def raster_position(index, width, per_pixel=1):
    """(row, col, channel) of step `index` of an image generated in raster order with `per_pixel` steps a pixel
    (its channels one by one, or 1 for a whole pixel a step: channel 0); Python ints for a Python-int step."""
    if is_static(index):
        index = int(index)
    pixel = index // per_pixel
    return pixel // width, pixel % width, index % per_pixel


def torch_fast_paths():
    """True under torch unless `KGEN_PORTABLE_QUEUES=1` asks for the portable keras.ops code everywhere (the
    generation steps' torch fast paths: `kgen.layers.queues`, `kgen.samplers.compiled.torch_step`)."""
    return keras.backend.backend() == "torch" and os.environ.get("KGEN_PORTABLE_QUEUES") != "1"
