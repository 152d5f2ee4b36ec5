"""Per-layer input queues for step-by-step generation with dilated causal convolutions (Fast WaveNet).

A causal convolution with kernel k and dilation d needs, at step t, its inputs at t - (k - 1) d, ..., t - d, t.
Instead of recomputing the past, each layer keeps a ring buffer of its last (k - 1) d inputs: the input of step t
goes to slot t mod (k - 1) d, where it is read back (k - 1) d, ..., d steps later. Reading and writing are
`ops.slice` / `ops.slice_update` at a step-dependent slot, so one step costs O(k * channels) per layer, whatever the
dilation. Unwritten slots hold zeros: exactly the zero padding of the causal convolution.

Under torch two fast paths replace the keras.ops one (`_torch_step_kind`): eager code gets the step as a Python int
(plain slices, an in-place write), and a step traced by `torch.compile` (`kgen.samplers.compiled.torch_step`)
gets it as a 0-d tensor (`index_select`, an in-place `index_copy_`: one graph for every step). All three give the
same numbers; `KGEN_PORTABLE_QUEUES=1` forces the keras.ops path under torch (the tests check they agree).
"""

from keras import ops

from kgen.layers.steps import torch_fast_paths


def queue_length(kernel_size, dilation_rate):
    return (kernel_size - 1) * dilation_rate


def init_queue(batch, kernel_size, dilation_rate, channels, dtype="float32"):
    """Zeros (batch, (k - 1) d, channels) (at least one slot, so every queue is a tensor)."""
    return ops.zeros((batch, max(queue_length(kernel_size, dilation_rate), 1), channels), dtype=dtype)


def _torch_step_kind():
    """How the torch fast paths see the step index: "traced" inside `torch.compile` (a 0-d tensor), "int" in
    eager torch (a Python int, converted if it came as a tensor), or None: the portable keras.ops path (TensorFlow,
    JAX, or `KGEN_PORTABLE_QUEUES=1`).

    Under eager torch every keras op on a tensor-valued slot converts its arguments and `slice_update` copies the
    whole buffer; with a Python int the taps are plain slices and the write is in place (zoo/wavenet.md has the
    measurement). A traced step must not turn the index into an int (that would compile one graph per step).
    """
    if not torch_fast_paths():
        return None
    import torch

    if torch.compiler.is_compiling():
        return "traced"
    return "int"


def queue_taps(queue, index, x, kernel_size, dilation_rate):
    """The k taps of step `index`, oldest first, (batch, k, channels), and the queue with `x` (batch, channels),
    the input of step `index`, pushed in."""
    length = queue_length(kernel_size, dilation_rate)
    if length == 0:
        return x[:, None], queue
    path = _torch_step_kind()
    if path == "int":  # eager torch: in-place ring buffer, Python-int slots
        step = int(index)
        slots = [(step - j * dilation_rate) % length for j in range(kernel_size - 1, 0, -1)]
        taps = ops.concatenate([queue[:, s : s + 1] for s in slots] + [x[:, None]], axis=1)
        queue[:, step % length] = x
        return taps, queue
    if path == "traced":  # torch.compile: tensor slots, in-place write into the (input) queue
        import torch

        offsets = torch.arange(kernel_size - 1, 0, -1, dtype=torch.int64) * dilation_rate
        slots = torch.remainder(index.to(torch.int64) - offsets, length)
        taps = torch.cat([queue.index_select(1, slots), x[:, None]], dim=1)
        slot = torch.remainder(index.to(torch.int64), length).reshape(1)
        queue.index_copy_(1, slot, x[:, None].to(queue.dtype))
        return taps, queue
    batch, channels = ops.shape(queue)[0], queue.shape[2]
    taps = []
    for j in range(kernel_size - 1, 0, -1):
        slot = ops.mod(index - j * dilation_rate + length, length)
        taps.append(ops.slice(queue, (0, slot, 0), (batch, 1, channels)))
    queue = ops.slice_update(queue, (0, ops.mod(index, length), 0), ops.cast(x[:, None], queue.dtype))
    return ops.concatenate(taps + [x[:, None]], axis=1), queue


def step_slice(x, index):
    """`x[:, index : index + 1]` of a (batch, time, channels) tensor, for the step `index` (an int or a scalar
    tensor), on the path `queue_taps` takes."""
    path = _torch_step_kind()
    if path == "int":
        step = int(index)
        return x[:, step : step + 1]
    if path == "traced":
        import torch

        return x.index_select(1, index.to(torch.int64).reshape(1))
    return ops.slice(x, (0, index, 0), (ops.shape(x)[0], 1, x.shape[2]))
