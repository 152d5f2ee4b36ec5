"""Constants a layer computes from its config (masks, index patterns): made with keras.ops while Keras builds a model
symbolically, and as numpy arrays, once, when the layer runs."""

import keras
from keras import ops


def numpy_constant(cache, key, numpy_fn):
    """The numpy constant `key` of a layer: `numpy_fn()`, computed once into `cache` (a dict the layer keeps); a
    value put there beforehand replaces it."""
    if key not in cache:
        cache[key] = numpy_fn()
    return cache[key]


def layer_constant(cache, key, numpy_fn, ops_fn, dtype):
    """The constant `key` as a tensor of `dtype`.

    While Keras builds a model symbolically (functional construction, `compute_output_spec`: each backend's symbolic
    scope) it is `ops_fn()`, made with keras.ops, which allocates nothing there: a preset's config.json cannot make
    kgen build an array of a kernel's size before its weights are counted (`kgen.pretrained`). When the layer runs it
    is the numpy array `numpy_fn()`, computed once into `cache` (a dict the layer keeps): eager calls do not rebuild
    it op by op (under JAX every op of a new shape compiles) and compiled functions see a constant. A value put in
    `cache[key]` beforehand replaces it (a test's deliberately wrong mask)."""
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    if in_symbolic_scope() and key not in cache:
        return ops.cast(ops_fn(), dtype)
    value = ops.convert_to_tensor(numpy_constant(cache, key, numpy_fn))
    same = keras.backend.standardize_dtype(value.dtype) == keras.backend.standardize_dtype(dtype)
    return value if same else ops.cast(value, dtype)
