"""Token-by-token generation for the sequence models (WaveNet, ByteNet) with keras-nlp's samplers.

A keras-nlp (`keras_hub`) sampler runs the decoding loop: at step `index` it asks `next(prompt, cache, index)` for
the logits of token `index`, draws it (random, greedy, top-k, top-p, with a temperature) and writes it into the
prompt unless that position was given. kgen supplies two `next` functions:

- "naive": run the whole network on the sequence so far and read the logits at `index` (the reference);
- "cached": the model's incremental protocol (`kgen.models.KgenModel`: `init_cache(batch_size, **conditioning)`,
  `call_with_cache(previous, cache, index)`; Paine et al. 2016, "Fast WaveNet Generation Algorithm") keeps, for
  every dilated causal convolution, a queue of its last (k - 1) * d inputs (a recurrent model: its state; a
  transformer: its keys and values) and computes one step per layer per new token, so a token costs the same
  whatever the receptive field.

Classifier-free guidance (Ho and Salimans, 2022; `sample(..., guidance=w)`, for a class-conditional model with a
`null_label`): every step runs the batch twice in one call, once with the labels and once with the null label, and
draws from the logits u + w (c - u) (c conditional, u unconditional): w = 1 is the conditional model, w > 1 leans
towards what tells the class apart. The cached generator keeps both halves' queues in one cache of twice the batch.

Both see the same random stream (the sampler's seed generator is reset to the requested seed), so the same seed
gives the same tokens with either method. The loop is compiled by `kgen.samplers.compiled.compiled`, as the image
loops are: `jax.jit` with the weights and the sampler's seed state passed explicitly, `tf.function(jit_compile=True)`,
and eager `torch.no_grad()` on one intra-op thread.

Under torch (on the CPU), cached generation takes a fast path instead of the keras_hub loop, whose ~30 keras ops
per token cost as much as the model step itself: a Python loop (`_torch_cached_loop`) that calls the model's step
(compiled with `torch.compile` for long loops, `kgen.samplers.compiled.torch_step`) and draws each token with the
same torch calls, and the same seeds, as the keras_hub sampler (`_torch_draw`, for keras_hub's own samplers; any
other sampler's methods are called as they are). The tokens are the same as the keras_hub loop's;
`KGEN_PORTABLE_QUEUES=1` runs the keras_hub loop and the portable keras.ops code instead.
"""

import json

import numpy as np
from keras import ops

from kgen.layers.steps import same_dtypes, torch_fast_paths
from kgen.samplers.compiled import compiled, torch_step

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


def _reset_seed(sampler, seed, counter=0):
    """Put the sampler's random stream at draw `counter` of `seed` (a SeedGenerator's state is [seed, counter] and
    every draw of the keras_hub samplers advances the counter by one)."""
    for v in sampler.variables:
        v.assign(ops.convert_to_tensor(np.array([seed, counter]), dtype=v.dtype))


def naive_next(model, labels, features, guidance=None):
    """`next` for keras_hub samplers that re-runs the whole network on the sequence and reads logits at `index`
    (with `guidance`, on the sequence twice: with `labels` and with the null label)."""

    def next_fn(prompt, cache, index):
        tokens = prompt if guidance is None else _twice(prompt)
        logits = model(model.model_inputs(tokens, labels, features), training=False)
        batch, vocab = ops.shape(logits)[0], ops.shape(logits)[2]
        step = ops.cast(ops.slice(logits, (0, index, 0), (batch, 1, vocab))[:, 0], "float32")
        return step if guidance is None else guided_logits(step, guidance), None, cache

    return next_fn


def _twice(x):
    return ops.concatenate([x, x], axis=0)


def guided_conditioning(model, given, guidance):
    """The conditioning of the doubled batch: the labels, then the null label as often; features twice. `given` is
    `conditioning(...)`'s dict; None `guidance` returns it unchanged."""
    if guidance is None:
        return given
    labels = given["labels"]
    null = ops.full(ops.shape(labels), model.null_label, dtype=labels.dtype)
    features = given["features"]
    return {"labels": ops.concatenate([labels, null], axis=0),
            "features": None if features is None else _twice(features)}


def guided_logits(logits, guidance):
    """u + w (c - u) from the logits of the doubled batch (its first half conditional, its second unconditional)."""
    half = ops.shape(logits)[0] // 2
    conditional, unconditional = logits[:half], logits[half:]
    return unconditional + guidance * (conditional - unconditional)


def conditioning(model, labels, features):
    """The conditioning keyword arguments of a sequence model's `init_cache`: the class labels and local features it
    takes (None for what it does not)."""
    return {"labels": labels if model.conditional else None, "features": features if model.locally_conditioned
            else None}


def model_step(model, guidance=None):
    """`step(previous, cache, index) -> (float32 logits, cache)`: the model's incremental step; with `guidance`, on
    the doubled batch (`previous` fed to both halves) and the halves' logits combined."""

    def step(previous, cache, index):
        if guidance is not None:
            previous = _twice(previous)
        logits, new_cache = model.call_with_cache(previous, cache, index)
        logits = ops.cast(logits, "float32")
        return (logits if guidance is None else guided_logits(logits, guidance)), new_cache

    return step


def cached_next(model, guidance=None):
    """`next` for keras_hub samplers from the model's incremental step `call_with_cache(previous, cache, index)`:
    feeds token index - 1 (nothing at index 0) through one step of every layer and returns the logits of token
    `index`."""
    step = model_step(model, guidance)

    def next_fn(prompt, cache, index):
        batch = ops.shape(prompt)[0]
        previous = ops.slice(prompt, (0, ops.maximum(index - 1, 0)), (batch, 1))[:, 0]
        logits, new_cache = step(previous, cache, index)
        return logits, None, same_dtypes(new_cache, cache)

    return next_fn


def generate(model, prompt, mask, labels, features, sampler, method, seed, start=0, guidance=None):
    """Fill the positions of `prompt` where `mask` is False, left to right.

    The cached generator steps through every position (the given ones fill its queues); the naive loop starts at
    `start` (the number of leading positions given in every row), with the random stream moved on by `start` draws
    so that both methods draw the same numbers for the same position.

    Args:
        model: an `AutoregressiveSequenceModel`.
        prompt: int32 numpy (batch, length): given tokens where `mask` is True, anything elsewhere.
        mask: bool numpy (batch, length).
        labels: int32 numpy (batch,) or None.
        features: float32 numpy (batch, length // upsample, channels) or None (local conditioning).
        sampler: a keras_hub sampler.
        method: "cached" or "naive".
        seed: int, the seed of the sampler's random stream.
        start: leading positions given in every row (`mask[:, :start]` all True).
        guidance: None, or the classifier-free guidance scale w (`kgen.validation.check_guidance`).

    Returns:
        int32 numpy (batch, length).
    """
    torch_fast = method == "cached" and torch_fast_paths()
    key = ("sequence", method, _sampler_key(sampler), torch_fast, guidance)
    # The compiled loop reads and updates the variables of the sampler it was built with: keep using that one.
    sampler = model._sampler_cache.setdefault(("sequence-sampler",) + key, sampler)

    def run(prompt, mask, labels, features, start):
        given = guided_conditioning(model, conditioning(model, labels, features), guidance)
        if torch_fast and prompt.device.type == "cpu":
            return _torch_cached_loop(model, sampler, prompt, mask, given, guidance)
        if method == "naive":
            next_fn, cache, index = naive_next(model, given["labels"], given["features"], guidance), (), start
        else:
            rows = ops.shape(prompt)[0] * (1 if guidance is None else 2)
            cache = model.init_cache(rows, **given)
            next_fn, index = cached_next(model, guidance), 0
        return sampler(next_fn, prompt, cache=cache, index=index, mask=mask, model=model)

    fn = compiled(model, key, run, state=sampler.variables, small_ops=True)
    if not 0 <= start <= prompt.shape[1] or not np.all(np.asarray(mask)[:, :start]):
        raise ValueError(f"`start` ({start}) must count leading positions given in every row.")
    start = start if method == "naive" else 0
    _reset_seed(sampler, seed, counter=start)
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


def export_sample(model, num_samples, length, seed, **conditioning):
    """The cached generator as traced TensorFlow code for an exported `sample` signature: int32 tokens
    (num_samples, length) drawn from the softmax, step `index` seeded with `seed` (int32 (2,)) folded with it."""
    import tensorflow as tf

    cache = model.init_cache(num_samples, **conditioning)
    tokens = tf.zeros(tf.stack([num_samples, length]), dtype=tf.int32)

    def body(index, state):
        tokens, cache = state
        previous = tf.gather(tokens, tf.maximum(index - 1, 0), axis=1)
        logits, new_cache = model.call_with_cache(previous, cache, index)
        cache = same_dtypes(new_cache, cache)
        step_seed = tf.random.experimental.stateless_fold_in(seed, index)
        drawn = tf.random.stateless_categorical(tf.cast(logits, tf.float32), 1, seed=step_seed, dtype=tf.int32)
        tokens = tf.tensor_scatter_nd_update(
            tokens, tf.stack([tf.range(num_samples), tf.fill([num_samples], index)], axis=1), drawn[:, 0],
        )
        return tokens, cache

    tokens, _ = ops.fori_loop(0, length, body, (tokens, cache))
    return tokens


# ================================================================================================ torch fast path
def _torch_cached_loop(model, sampler, prompt, mask, given, guidance=None):
    """The keras_hub sampler loop of method "cached" (`Sampler.__call__` with `cached_next`), as plain torch code.

    Step `index` feeds token index - 1 through the model's incremental step (compiled for long loops), draws a
    token from the logits and keeps the given token where `mask` is set: the same draws, one per step, in the same
    order and from the same seeds as the keras_hub loop, so the same tokens.
    """
    import torch

    batch, length = prompt.shape
    cache = model.init_cache(batch * (1 if guidance is None else 2), **given)
    key = ("sequence-cached",) if guidance is None else ("sequence-cached", "guided", guidance)
    step = torch_step(model, key, lambda: model_step(model, guidance), length)
    raw_draw = _torch_draw(sampler)
    seed = counter = 0
    if raw_draw is not None and sampler.variables:  # the random stream: draw i is seeded with seed + counter + i
        seed, counter = (int(v) for v in ops.convert_to_numpy(sampler.variables[0].value))

    def draw(logits, index):
        if raw_draw is not None:
            return raw_draw(logits, seed + counter + index)
        # another sampler: its own keras methods, which move its seed state on themselves
        return ops.cast(sampler.get_next_token(sampler.compute_probabilities(logits)), "int32")

    tokens = prompt.clone()

    def one_step(index, cache):
        previous = tokens[:, max(index - 1, 0)].clone()  # contiguous: one compiled graph whatever the length
        logits, cache = step(previous, cache, torch.tensor(index, dtype=torch.int32) if step.compiled else index)
        tokens[:, index] = torch.where(mask[:, index], tokens[:, index], draw(logits, index))
        return cache

    if length:
        cache = one_step(0, cache)  # compiles on the first call; checks every guard
        with step.warm():
            for index in range(1, length):
                cache = one_step(index, cache)
    if raw_draw is not None:
        _reset_seed(sampler, seed, counter + length)  # where the keras_hub loop leaves the random stream
    return tokens


def _torch_draw(sampler):
    """`draw(logits, number) -> int32 tokens (batch,)` for keras_hub's own samplers (None for any other): what
    `sampler.get_next_token(sampler.compute_probabilities(logits))` draws under torch when the sum of its seed
    state [seed, counter] is `number`, in plain torch calls (the keras ones cost ~0.4 ms a token). It repeats, call
    for call, keras_hub's samplers and keras' torch `softmax`, `top_k`, `cumsum`, `take_along_axis` and
    `random.categorical` (a fresh `torch.Generator` seeded with `number` mod 2**32, then `torch.multinomial` with
    replacement); tests/samplers/test_sequence_fast_path.py checks that it draws the same tokens."""
    import torch
    import keras_hub

    samplers = keras_hub.samplers
    kind = type(sampler)
    if kind not in (samplers.GreedySampler, samplers.RandomSampler, samplers.TopKSampler, samplers.TopPSampler):
        return None
    temperature = sampler.temperature

    def probabilities(logits):  # Sampler.compute_probabilities
        return torch.softmax(logits / temperature, dim=-1)

    def categorical(logits, number):  # keras.random.categorical(logits, 1, dtype="int32", seed=seed_generator)
        generator = torch.Generator(device=logits.device)
        generator.manual_seed(number & 0xFFFFFFFF)
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, replacement=True, generator=generator).to(torch.int32)

    def pick(indices, chosen):  # ops.take_along_axis(indices, chosen, axis=-1), then squeeze
        return torch.take_along_dim(indices, chosen.long(), dim=-1)[:, 0].to(torch.int32)

    if kind is samplers.GreedySampler:
        return lambda logits, number: torch.argmax(probabilities(logits), dim=-1).to(torch.int32)
    if kind is samplers.RandomSampler:
        return lambda logits, number: categorical(torch.log(probabilities(logits)), number)[:, 0]
    if kind is samplers.TopKSampler:

        def top_k(logits, number):
            values, indices = torch.topk(probabilities(logits), sampler.k, sorted=False)
            return pick(indices, categorical(torch.log(values), number))

        return top_k

    def top_p(logits, number):
        probs = probabilities(logits)
        cutoff = probs.shape[1] if sampler.k is None else sampler.k
        values, indices = torch.topk(probs, cutoff, sorted=True)
        keep = torch.cumsum(values, dim=-1, dtype=values.dtype) <= sampler.p
        keep = torch.cat([torch.ones_like(keep[:, :1]), keep[:, :-1]], dim=-1)
        values = torch.where(keep, values, torch.zeros(values.shape, dtype=values.dtype, device=values.device))
        return pick(indices, categorical(torch.log(values), number))

    return top_p
