"""The one compile wrapper of generation (kgen.samplers.compiled.compiled), on every backend."""

import numpy as np
import keras
from keras import ops

from kgen.samplers.compiled import compiled


def tiny_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    model._sampler_cache = {}
    return model


def test_one_compiled_function_per_model_and_key():
    model, other = tiny_model(), tiny_model()

    def run(x):
        return model(x)

    fn = compiled(model, "a", run)
    assert compiled(model, "a", lambda x: x) is fn
    assert compiled(model, "b", run) is not fn
    assert compiled(other, "a", run) is not fn


def test_sees_the_current_weights():
    model = tiny_model()
    x = ops.convert_to_tensor(np.arange(6, dtype="float32").reshape(2, 3))
    fn = compiled(model, "forward", lambda x: model(x))
    np.testing.assert_allclose(ops.convert_to_numpy(fn(x)), ops.convert_to_numpy(model(x)), rtol=1e-6)
    model.set_weights([w * 2.0 + 1.0 for w in model.get_weights()])  # what a later `fit` does
    np.testing.assert_allclose(ops.convert_to_numpy(fn(x)), ops.convert_to_numpy(model(x)), rtol=1e-6)


def test_state_variables_are_read_and_written_back():
    # The sequence loop's keras_hub sampler draws from a SeedGenerator: the compiled loop must move the seed state on
    # as eager code does (under JAX it is passed in and out explicitly), so the next call draws other numbers and a
    # reset state draws the same ones again.
    model = tiny_model()
    seeds = keras.random.SeedGenerator(7)

    def run(x):
        return x + keras.random.uniform((2,), seed=seeds) + keras.random.uniform((2,), seed=seeds)

    x = ops.convert_to_tensor(np.zeros((2,), "float32"))
    start = ops.convert_to_numpy(seeds.state.value)
    run(x), run(x)
    eager_state = ops.convert_to_numpy(seeds.state.value)
    seeds.state.assign(start)
    fn = compiled(model, "draw", run, state=[seeds.state])
    drawn = [ops.convert_to_numpy(fn(x)) for _ in range(2)]
    np.testing.assert_array_equal(ops.convert_to_numpy(seeds.state.value), eager_state)
    assert not np.array_equal(drawn[0], drawn[1])
    seeds.state.assign(start)
    np.testing.assert_array_equal([ops.convert_to_numpy(fn(x)) for _ in range(2)], drawn)


def test_torch_threads_are_restored():
    if keras.backend.backend() != "torch":
        return
    import torch

    model = tiny_model()
    before = torch.get_num_threads()
    seen = []
    fn = compiled(model, "threads", lambda x: (seen.append(torch.get_num_threads()), x)[1], small_ops=True)
    fn(ops.convert_to_tensor(np.zeros((1,), "float32")))
    assert seen == [1] and torch.get_num_threads() == before
