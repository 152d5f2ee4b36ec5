"""The torch fast path of sequence generation (kgen.samplers.sequence._torch_cached_loop): raw-torch token draws and
the step compiled by torch.compile give exactly the tokens of the portable keras_hub loop."""

import warnings

import numpy as np
import pytest
import keras

import kgen
from kgen.samplers import compiled as compiled_module
from kgen.samplers import sequence

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "torch", reason="the torch fast path of generation"),
    # importing torch's compiler stack touches torch.jit, which warns that it is deprecated
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]

MODELS = {
    # global and local conditioning, kernel 3 (two taps per queue): every path of the WaveNet step
    "wavenet": dict(num_levels=16, residual_channels=8, gate_channels=6, skip_channels=10, output_channels=12,
                    num_layers=3, dilation_cycle=2, kernel_size=3, num_classes=3, local_channels=2,
                    local_upsample=2),
    "bytenet": dict(num_levels=16, hidden_dim=8, num_layers=2, dilation_cycle=2, kernel_size=3),  # layer norms
    "lstm_lm": dict(num_levels=16, units=8, num_layers=2),
}


def build(arch):
    return kgen.zoo.get(arch, **MODELS[arch])


def conditioning(model, num, length):
    kwargs = {}
    if model.conditional:
        kwargs["labels"] = np.arange(num) % model.num_classes
    if model.locally_conditioned:
        rng = np.random.default_rng(1)
        kwargs["features"] = rng.normal(size=(num, length // model.local_upsample, model.local_channels))
    return kwargs


def portable(model, monkeypatch, **kwargs):
    """What the keras_hub loop and the keras.ops queues draw (KGEN_PORTABLE_QUEUES=1)."""
    with monkeypatch.context() as m:
        m.setenv("KGEN_PORTABLE_QUEUES", "1")
        return model.sample(**kwargs)


# --------------------------------------------------------------------------------------------- token draws
def keras_hub_samplers():
    import keras_hub

    s = keras_hub.samplers
    return [
        s.RandomSampler(), s.RandomSampler(temperature=0.7), s.GreedySampler(), s.GreedySampler(temperature=2.0),
        s.TopKSampler(k=3), s.TopKSampler(k=5, temperature=1.3), s.TopPSampler(p=0.5),
        s.TopPSampler(p=0.9, k=6, temperature=0.8),
    ]


@pytest.mark.parametrize("index", range(8))
def test_raw_draws_are_the_keras_hub_draws(index):
    import torch
    from keras import ops

    sampler = keras_hub_samplers()[index]
    draw = sequence._torch_draw(sampler)
    assert draw is not None
    rng = np.random.default_rng(index)
    for vocab in (16, 256):
        logits = torch.tensor(rng.normal(size=(3, vocab)) * 3, dtype=torch.float32)
        for seed, counter in [(0, 0), (1234, 5), (2**31 - 3, 7)]:  # the last one wraps around int32
            sequence._reset_seed(sampler, seed, counter)
            expected = sampler.get_next_token(sampler.compute_probabilities(logits))
            np.testing.assert_array_equal(draw(logits, seed + counter).numpy(), ops.convert_to_numpy(expected))
            if sampler.variables:  # every keras draw moves the counter on by one
                np.testing.assert_array_equal(ops.convert_to_numpy(sampler.variables[0].value), [seed, counter + 1])


def test_another_sampler_uses_its_own_methods(monkeypatch):
    import keras_hub

    class Sharper(keras_hub.samplers.RandomSampler):  # a subclass: not one the raw draws know
        def compute_probabilities(self, logits):
            return super().compute_probabilities(logits * 2.0)

    assert sequence._torch_draw(Sharper()) is None
    model = build("lstm_lm")
    kwargs = dict(num_samples=2, length=12, seed=3, sampler=Sharper())
    np.testing.assert_array_equal(model.sample(**kwargs), portable(model, monkeypatch, **kwargs))


# --------------------------------------------------------------------------------------------- eager fast path
@pytest.mark.parametrize("arch", sorted(MODELS))
@pytest.mark.parametrize("sampler", ["random", "top_p"])
def test_fast_path_draws_the_portable_tokens(arch, sampler, monkeypatch):
    model = build(arch)
    kwargs = dict(num_samples=2, length=12, seed=5, sampler=sampler, **conditioning(model, 2, 12))
    fast = model.sample(**kwargs)
    np.testing.assert_array_equal(fast, portable(model, monkeypatch, **kwargs))
    prompt = fast[:, :4]
    np.testing.assert_array_equal(
        model.sample(prompt=prompt, **kwargs), portable(model, monkeypatch, prompt=prompt, **kwargs)
    )


# --------------------------------------------------------------------------------------------- compiled step
def test_compile_threshold(monkeypatch):
    monkeypatch.delenv("KGEN_TORCH_COMPILE_STEPS", raising=False)
    assert compiled_module.torch_compile_min_steps() == compiled_module.DEFAULT_TORCH_COMPILE_STEPS
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "0")
    assert compiled_module.torch_compile_min_steps() == 0
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "many")
    with pytest.raises(ValueError, match="KGEN_TORCH_COMPILE_STEPS"):
        compiled_module.torch_compile_min_steps()
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "100")
    model = build("lstm_lm")
    model.sample(2, 12, seed=0)  # shorter than the threshold: the eager step, nothing compiles
    steps = [v for k, v in model._sampler_cache.items() if k[0] == "torch-step"]
    assert steps and not any(step.compiled for step in steps)


def test_guided_fast_path_matches_the_portable_loop(monkeypatch):
    """Classifier-free guidance (a doubled batch in one cache): the eager and the compiled torch step and the
    portable keras_hub loop draw the same tokens."""
    from kgen.testing.fixtures import random_weights

    model = build("wavenet")
    random_weights(model, seed=0)  # a class term large enough to change draws (checked at the end)
    kwargs = dict(num_samples=2, length=12, seed=4, guidance=2.5, **conditioning(model, 2, 12))
    eager = model.sample(**kwargs)
    np.testing.assert_array_equal(portable(model, monkeypatch, **kwargs), eager)
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a failed compile warns: fail instead
        np.testing.assert_array_equal(model.sample(**kwargs), eager)
    step = compiled_module.torch_step(model, ("sequence-cached", "guided", 2.5), None, 12)
    assert step.compiled and step.failed is None
    assert not np.array_equal(model.sample(**dict(kwargs, guidance=None)), eager)


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_compiled_step_is_bit_exact(arch, monkeypatch):
    """The compiled step computes the eager step's logits and queues bit for bit, so the tokens are the same."""
    import torch

    model = build(arch)
    length, num = 12, 2
    kwargs = dict(num_samples=num, length=length, seed=5, **conditioning(model, num, length))
    eager = model.sample(sampler="top_p", **kwargs)
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a failed compile warns: fail instead
        np.testing.assert_array_equal(model.sample(sampler="top_p", **kwargs), eager)
        np.testing.assert_array_equal(model.sample(**kwargs), portable(model, monkeypatch, **kwargs))
    step = compiled_module.torch_step(model, ("sequence-cached",), None, length)  # the one the loop compiled
    assert step.compiled and step.failed is None

    # logits and caches, step by step
    cond = conditioning(model, num, length)
    labels = torch.tensor(cond["labels"], dtype=torch.int32) if "labels" in cond else None
    features = torch.tensor(cond["features"], dtype=torch.float32) if "features" in cond else None
    with torch.no_grad():
        eager_cache = model.init_cache(num, labels=labels, features=features)
        compiled_cache = model.init_cache(num, labels=labels, features=features)
        tokens = torch.tensor(np.random.default_rng(0).integers(0, model.num_levels, (length, num)), dtype=torch.int32)
        for index in range(length):
            want, eager_cache = step.step(tokens[index].clone(), eager_cache, index)
            got, compiled_cache = step(tokens[index].clone(), compiled_cache, torch.tensor(index, dtype=torch.int32))
            assert torch.equal(want, got), f"step {index}: logits differ by {float((want - got).abs().max())}"
            leaves = torch.utils._pytree.tree_leaves
            for a, b in zip(leaves(eager_cache), leaves(compiled_cache)):
                assert torch.equal(a, b), f"step {index}: the caches differ"
    if arch == "lstm_lm":
        # new weights (what `fit` does) are seen by the compiled step; another batch size compiles a second graph
        before = model.sample(**kwargs)
        rng = np.random.default_rng(1)
        model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
        other = dict(kwargs, num_samples=3)
        monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "-1")
        want, want3 = model.sample(**kwargs), model.sample(**other)
        assert not np.array_equal(want, before)
        monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "0")
        np.testing.assert_array_equal(model.sample(**kwargs), want)
        np.testing.assert_array_equal(model.sample(**other), want3)


def test_a_failed_compile_runs_the_eager_step(monkeypatch):
    def broken(step):
        def fn(*args):
            raise RuntimeError("no C++ compiler here")

        return fn

    model = build("lstm_lm")
    eager = model.sample(2, 10, seed=4)
    monkeypatch.setattr(compiled_module, "_compile_exact", broken)
    monkeypatch.setenv("KGEN_TORCH_COMPILE_STEPS", "0")
    with pytest.warns(UserWarning, match="torch.compile of the generation step failed"):
        np.testing.assert_array_equal(model.sample(2, 10, seed=4), eager)
    np.testing.assert_array_equal(model.sample(2, 10, seed=4), eager)  # and from then on eagerly, without a warning


def test_exact_backend_keeps_eager_numbers():
    """Ops whose inductor code rounds differently from eager torch (tanh, reductions, layer norm, mm + bias fused
    into addmm, a matrix-vector product turned into a sum, a + alpha * b, float remainder) stay bit-exact."""
    import torch

    torch.manual_seed(0)
    w, b, v = torch.randn(32, 64), torch.randn(64), torch.randn(64, 1)

    def f(x):
        h = torch.tanh(x @ w + b) * torch.sigmoid(x @ w)
        h = torch.nn.functional.layer_norm(h, (64,)) + h.mean(-1, keepdim=True)
        return torch.add(h, h @ v, alpha=0.3), torch.remainder(h, 0.7), torch.softmax(h, -1)

    fn = torch.compile(f, backend=compiled_module._exact_inductor, dynamic=False, fullgraph=True)
    with torch.no_grad():
        for seed in range(20):
            x = torch.randn(3, 32, generator=torch.Generator().manual_seed(seed)) * 3
            for want, got in zip(f(x), fn(x)):
                assert torch.equal(want, got), float((want - got).abs().max())
