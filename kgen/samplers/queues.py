"""Per-layer input queues for step-by-step generation with dilated causal convolutions (Fast WaveNet).

A causal convolution with kernel k and dilation d needs, at step t, its inputs at t - (k - 1) d, ..., t - d, t.
Instead of recomputing the past, each layer keeps a ring buffer of its last (k - 1) d inputs: the input of step t
goes to slot t mod (k - 1) d, where it is read back (k - 1) d, ..., d steps later. Reading and writing are
`ops.slice` / `ops.slice_update` at a step-dependent slot, so one step costs O(k * channels) per layer, whatever the
dilation. Unwritten slots hold zeros: exactly the zero padding of the causal convolution.
"""

import os

import keras
from keras import ops


def queue_length(kernel_size, dilation_rate):
    return (kernel_size - 1) * dilation_rate


def init_queue(batch, kernel_size, dilation_rate, channels, dtype="float32"):
    """Zeros (batch, (k - 1) d, channels) (at least one slot, so every queue is a tensor)."""
    return ops.zeros((batch, max(queue_length(kernel_size, dilation_rate), 1), channels), dtype=dtype)


def _eager_step(index):
    """The step as a Python int where the backend runs the loop eagerly (torch), else None.

    Under torch every keras op on a tensor-valued slot converts its arguments and `slice_update` copies the whole
    buffer; with a Python int the taps are plain slices and the write is in place (zoo/wavenet.md has the
    measurement). The traced path below is the only one under TensorFlow and JAX; `KGEN_PORTABLE_QUEUES=1` forces
    it under torch too (the tests check both give the same tokens).
    """
    if keras.backend.backend() == "torch" and os.environ.get("KGEN_PORTABLE_QUEUES") != "1":
        return int(index)
    return None


def queue_taps(queue, index, x, kernel_size, dilation_rate):
    """The k taps of step `index`, oldest first, (batch, k, channels), and the queue with `x` (batch, channels),
    the input of step `index`, pushed in."""
    length = queue_length(kernel_size, dilation_rate)
    if length == 0:
        return x[:, None], queue
    step = _eager_step(index)
    if step is not None:  # eager fast path (torch): in-place ring buffer, Python-int slots
        slots = [(step - j * dilation_rate) % length for j in range(kernel_size - 1, 0, -1)]
        taps = ops.concatenate([queue[:, s : s + 1] for s in slots] + [x[:, None]], axis=1)
        queue[:, step % length] = x
        return taps, queue
    batch, channels = ops.shape(queue)[0], queue.shape[2]
    taps = []
    for j in range(kernel_size - 1, 0, -1):
        slot = ops.mod(index - j * dilation_rate + length, length)
        taps.append(ops.slice(queue, (0, slot, 0), (batch, 1, channels)))
    queue = ops.slice_update(queue, (0, ops.mod(index, length), 0), ops.cast(x[:, None], queue.dtype))
    return ops.concatenate(taps + [x[:, None]], axis=1), queue
