"""Token-by-token generation for the sequence models (WaveNet, ByteNet) with keras-nlp's samplers.

A keras-nlp (`keras_hub`) sampler runs the decoding loop: at step `index` it asks `next(prompt, cache, index)` for
the logits of token `index`, draws it (random, greedy, top-k, top-p, with a temperature) and writes it into the
prompt unless that position was given. kgen supplies two `next` functions:

- "naive": run the whole network on the sequence so far and read the logits at `index` (the reference);
- "fast": the model's generator (Paine et al. 2016, "Fast WaveNet Generation Algorithm") keeps, for every dilated
  causal convolution, a queue of its last (k - 1) * d inputs and computes one step per layer per new token, so a
  token costs the same whatever the receptive field.

Both see the same random stream (the sampler's seed generator is reset to the requested seed), so the same seed
gives the same tokens with either method. The loop is compiled per backend as in `kgen.samplers.naive`: `jax.jit`
with the weights and the sampler's seed state passed explicitly, `tf.function(jit_compile=True)`, and eager
`torch.no_grad()` on one intra-op thread.
"""

import json

import numpy as np
import keras
from keras import ops

SAMPLERS = ("random", "greedy", "top_k", "top_p")


def resolve_sampler(sampler):
    """A keras_hub sampler from a name in `SAMPLERS` or a `keras_hub.samplers.Sampler` instance."""
    import keras_hub

    if isinstance(sampler, keras_hub.samplers.Sampler):
        return sampler
    if isinstance(sampler, str) and sampler in SAMPLERS:
        return keras_hub.samplers.get(sampler)
    raise ValueError(
        f"`sampler` must be one of {', '.join(map(repr, SAMPLERS))} or a keras_hub.samplers.Sampler instance "
        f"(e.g. keras_hub.samplers.TopKSampler(k=10, temperature=0.8)), got {sampler!r}."
    )


def _sampler_key(sampler):
    return type(sampler).__name__, json.dumps(sampler.get_config(), sort_keys=True, default=str)


def _compiled(model, method, sampler, run):
    """`run(prompt, mask, labels, features)` compiled for the backend, cached on the model per method and sampler
    configuration. Returns (fn, sampler): call `fn(*tensors)` after setting the sampler's seed state."""
    backend = keras.backend.backend()
    key = ("sequence", method, _sampler_key(sampler), backend)
    if key in model._sampler_cache:
        return model._sampler_cache[key]
    if backend == "jax":
        import jax

        variables = list(model.variables)
        sampler_variables = list(sampler.variables)

        @jax.jit
        def run_jax(values, sampler_values, *args):
            mapping = list(zip(variables, values)) + list(zip(sampler_variables, sampler_values))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = run(*args)
            new_state = [scope.get_current_value(v) for v in sampler_variables]
            return out, [n if n is not None else v for n, v in zip(new_state, sampler_values)]

        def fn(*args):
            out, new_state = run_jax([v.value for v in variables], [v.value for v in sampler_variables], *args)
            for v, value in zip(sampler_variables, new_state):
                v.assign(value)
            return out

    elif backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(run, jit_compile=True, reduce_retracing=True)
    else:
        import torch

        def fn(*args):
            threads = torch.get_num_threads()
            try:
                torch.set_num_threads(1)  # thousands of tiny per-step ops: see kgen.samplers.naive
                with torch.no_grad():
                    return run(*args)
            finally:
                torch.set_num_threads(threads)

    model._sampler_cache[key] = (fn, sampler)
    return fn, sampler


def _reset_seed(sampler, seed, counter=0):
    """Put the sampler's random stream at draw `counter` of `seed` (a SeedGenerator's state is [seed, counter] and
    every draw of the keras_hub samplers advances the counter by one)."""
    for v in sampler.variables:
        v.assign(ops.convert_to_tensor(np.array([seed, counter]), dtype=v.dtype))


def naive_next(model, labels, features):
    """`next` for keras_hub samplers that re-runs the whole network on the sequence and reads logits at `index`."""

    def next_fn(prompt, cache, index):
        logits = model(model.model_inputs(prompt, labels, features), training=False)
        batch, vocab = ops.shape(logits)[0], ops.shape(logits)[2]
        step = ops.slice(logits, (0, index, 0), (batch, 1, vocab))[:, 0]
        return ops.cast(step, "float32"), None, cache

    return next_fn


def fast_next(generator):
    """`next` for keras_hub samplers from a model generator (see `kgen.samplers.queues`): feeds token index - 1
    (nothing at index 0) through one step of every layer and returns the logits of token `index`."""

    def next_fn(prompt, cache, index):
        batch = ops.shape(prompt)[0]
        previous = ops.slice(prompt, (0, ops.maximum(index - 1, 0)), (batch, 1))[:, 0]
        logits, cache = generator.step(previous, index, cache)
        return ops.cast(logits, "float32"), None, cache

    return next_fn


def generate(model, prompt, mask, labels, features, sampler, method, seed, start=0):
    """Fill the positions of `prompt` where `mask` is False, left to right.

    The fast generator steps through every position (the given ones fill its queues); the naive loop starts at
    `start` (the number of leading positions given in every row), with the random stream moved on by `start` draws
    so that both methods draw the same numbers for the same position.

    Args:
        model: an `AutoregressiveSequenceModel`.
        prompt: int32 numpy (batch, length): given tokens where `mask` is True, anything elsewhere.
        mask: bool numpy (batch, length).
        labels: int32 numpy (batch,) or None.
        features: float32 numpy (batch, length // upsample, channels) or None (local conditioning).
        sampler: a keras_hub sampler.
        method: "fast" or "naive".
        seed: int, the seed of the sampler's random stream.
        start: leading positions given in every row (`mask[:, :start]` all True).

    Returns:
        int32 numpy (batch, length).
    """
    conditional, local = model.conditional, model.locally_conditioned

    def run(prompt, mask, labels, features, start):
        labels = labels if conditional else None
        features = features if local else None
        if method == "naive":
            next_fn, cache, index = naive_next(model, labels, features), (), start
        else:
            generator = model.fast_generator()
            cache = generator.init(ops.shape(prompt)[0], labels, features)
            next_fn, index = fast_next(generator), 0
        return compiled_sampler(next_fn, prompt, cache=cache, index=index, mask=mask, model=model)

    fn, compiled_sampler = _compiled(model, method, sampler, run)
    if not 0 <= start <= prompt.shape[1] or not np.all(np.asarray(mask)[:, :start]):
        raise ValueError(f"`start` ({start}) must count leading positions given in every row.")
    start = start if method == "naive" else 0
    _reset_seed(compiled_sampler, seed, counter=start)
    batch = len(prompt)
    labels = np.zeros((batch,), "int32") if labels is None else np.asarray(labels, "int32")
    features = np.zeros((batch, 1, 1), "float32") if features is None else np.asarray(features, "float32")
    out = fn(
        ops.convert_to_tensor(np.asarray(prompt, "int32")),
        ops.convert_to_tensor(np.asarray(mask, bool)),
        ops.convert_to_tensor(labels),
        ops.convert_to_tensor(features),
        ops.convert_to_tensor(np.int32(start)),
    )
    return ops.convert_to_numpy(out).astype("int32")
