"""The one compile wrapper of every generation loop (the naive and cached image loops, the sequence loop), per backend.

`compiled(model, key, run, state=...)` makes `run(*tensors)` into the backend's compiled function once per model,
`key` and backend, and caches it on the model (`model._sampler_cache`):

- JAX: `jax.jit`, with the model's weights and the extra `state` variables (a keras_hub sampler's seed state)
  passed in explicitly under `keras.StatelessScope`, and the new `state` written back after the call; so a later
  `fit` is seen by the cached function and the random stream moves on exactly as in eager code;
- TensorFlow: `tf.function(jit_compile=True)` (variables are captured and updated in place);
- torch: the loop runs eagerly under `torch.no_grad()` (on one intra-op thread for loops of tiny ops,
  `small_ops=True`), because torch has no compiled loop; its one fast path is `torch_step` below.

`torch_step(model, key, make_step, steps)` is that fast path: under torch the per-step function of a long loop (one
token of a sequence model: ~200 tiny ops, each paying Python and dispatch overhead) is compiled with
`torch.compile` (dynamo + inductor, C++ on the CPU) and cached per model. The compiled step computes bit for bit
what the eager one computes (`_exact_inductor`), so the samples are the same whether it compiles or not; it
compiles only for loops of at least `KGEN_TORCH_COMPILE_STEPS` steps (default 4096), where the compile time pays
off, and falls back to the eager step (with a warning) if compiling fails. `KGEN_PORTABLE_QUEUES=1` turns every
torch fast path of generation off (`torch_fast_paths()`): the portable keras.ops code then runs everywhere.
"""

import contextlib
import functools
import itertools
import logging
import os
import types
import warnings

import keras

from kgen.layers.steps import torch_fast_paths

#: Loops shorter than this run the torch step eagerly (compiling a tiny test model costs seconds).
DEFAULT_TORCH_COMPILE_STEPS = 4096


def compiled(model, key, run, state=(), small_ops=False, tf_jit=True):
    """`run(*tensors)` compiled for the backend, made once per model, `key` and backend and cached on the model.

    Args:
        model: the Keras model whose weights `run` reads (through its layers).
        key: hashable, what `run` computes (its method and configuration): one compiled function per key.
        run: function of tensors to tensors; it may read and update the `state` variables.
        state: keras variables besides the model's that `run` reads and updates (a keras_hub sampler's
            `variables`, its seed state). They must be the same objects for every call with this `key`.
        tf_jit: TensorFlow only: compile with XLA (`jit_compile=True`). A function called once per step with the
            step index as an argument (the coding steps of `kgen.samplers.coding`) takes False: XLA compiles such a
            step again for every index value it sees (0.67 s a call for the tiny ByteNet, against 1 ms for the
            plain graph).
        small_ops: torch only: run on one intra-op thread (loops of thousands of tiny ops, where every op
            would otherwise wait on a thread barrier: the cached Gated PixelCNN sampler ran 3x to 30x slower
            with two threads on a busy 2-core machine).

    Returns:
        `fn(*tensors)`, the compiled `run`.
    """
    backend = keras.backend.backend()
    cache_key = (key, backend)
    if cache_key in model._sampler_cache:
        return model._sampler_cache[cache_key]
    state = list(state)
    if backend == "jax":
        import jax

        variables = list(model.variables)

        @jax.jit
        def run_jax(values, state_values, *args):
            mapping = list(zip(variables, values)) + list(zip(state, state_values))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = run(*args)
            new_state = [scope.get_current_value(v) for v in state]
            return out, [n if n is not None else v for n, v in zip(new_state, state_values)]

        def fn(*args):
            out, new_state = run_jax([v.value for v in variables], [v.value for v in state], *args)
            for v, value in zip(state, new_state):
                v.assign(value)
            return out

    elif backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(run, jit_compile=bool(tf_jit), reduce_retracing=True)
    elif backend == "torch":
        import torch

        def fn(*args):
            threads = torch.get_num_threads()
            try:
                if small_ops:
                    torch.set_num_threads(1)
                with torch.no_grad():
                    return run(*args)
            finally:
                torch.set_num_threads(threads)

    else:  # pragma: no cover - the other keras backends cannot run these models
        fn = run
    model._sampler_cache[cache_key] = fn
    return fn


# ================================================================================================ torch fast path
def torch_compile_min_steps():
    """`KGEN_TORCH_COMPILE_STEPS`: loops of at least this many steps compile their torch step (0: always;
    a negative number: never). Default `DEFAULT_TORCH_COMPILE_STEPS`."""
    value = os.environ.get("KGEN_TORCH_COMPILE_STEPS", "").strip()
    if not value:
        return DEFAULT_TORCH_COMPILE_STEPS
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"KGEN_TORCH_COMPILE_STEPS must be an int (0: always compile, -1: never), got {value!r}."
        ) from None


_codes = itertools.count()


class TorchStep:
    """A per-step function under torch, compiled on its first call when `compiled` (see `torch_step`).

    `compiled` tells the caller what to pass as the step index: a 0-d int tensor when True (one compiled graph for
    every step), a Python int when False (the eager code takes its int fast paths, e.g. in-place queue slots).
    Run the steps after the first of a loop inside `with step.warm()`: there dynamo checks only the guards that
    pick between its compiled graphs (`skip_guard_eval_unsafe`), which saves ~0.1 ms a step; the inputs of one
    loop keep their shapes, dtypes and weights, the condition under which that is safe.
    """

    def __init__(self, step, compiled):
        self.step = step
        self.compiled = compiled
        self.failed = None
        self._compiled = None
        self._warm = False

    @contextlib.contextmanager
    def warm(self):
        if not self.compiled:
            yield
            return
        import torch

        try:
            stance, skipping = torch.compiler.set_stance("default", skip_guard_eval_unsafe=True), True
        except (AttributeError, TypeError):  # an older torch: check every guard
            stance, skipping = contextlib.nullcontext(), False
        self._warm = skipping
        try:
            with stance:
                yield
        finally:
            self._warm = False

    def __call__(self, *args):
        if not self.compiled:
            return self.step(*args)
        if self._warm:  # no guard checks, so nothing compiles
            return self._compiled(*args)
        try:
            with _quiet_inductor():
                return self._compiled(*args)
        except Exception as err:  # no C++ compiler, an op inductor cannot lower, ...: the eager step, same results
            message = str(err).strip().splitlines()
            self.failed = f"{type(err).__name__}: {message[0] if message else ''}"
            warnings.warn(f"kgen: torch.compile of the generation step failed ({self.failed}); running it eagerly.")
            self.compiled = False
            return self.step(*args)  # compiling failed before anything ran; the eager code takes a tensor index too


@contextlib.contextmanager
def _quiet_inductor():
    """Inductor warns once per fallback op without a C shim (tanh, sigmoid, ...) that it calls it through its proxy
    executor: expected here (`_exact_inductor` makes those ops fallbacks on purpose), so not shown."""
    logger = logging.getLogger("torch._inductor.ir")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def torch_step(model, key, make_step, steps):
    """The per-step function of a torch generation loop, compiled when the loop is long enough.

    Args:
        model: the model; the compiled step is cached on it under `key` (one per configuration).
        key: hashable, what the step computes.
        make_step: () -> `step(*tensors)`; called once per model and key (the step it returns is what compiles).
        steps: the number of steps of this loop (compile when >= `torch_compile_min_steps()`).

    Returns:
        a `TorchStep`.
    """
    minimum = torch_compile_min_steps()
    want = torch_fast_paths() and minimum >= 0 and steps >= minimum
    cache_key = ("torch-step", key, want)
    entry = model._sampler_cache.get(cache_key)
    if entry is not None:
        return entry
    step = make_step()
    entry = TorchStep(step, want)
    if want:
        entry._compiled = _compile_exact(step)
    model._sampler_cache[cache_key] = entry
    return entry


def _compile_exact(step):
    import torch

    # dynamo keeps compiled graphs, and counts recompilations against its limit, per code object: a private code
    # object per model keeps one model's graphs from crowding out another's.
    code = step.__code__.replace(co_name=f"kgen_step_{next(_codes)}")
    fn = types.FunctionType(code, step.__globals__, code.co_name, step.__defaults__, step.__closure__)
    return torch.compile(fn, backend=_exact_inductor, dynamic=False, fullgraph=True)


def _exact_ops():
    """The aten ops inductor may generate code for without changing a bit of the result (see `_is_exact`): data
    movement, dtype conversion, comparisons, `where` and the correctly rounded +, -, * and relu (inductor compiles
    without floating-point contraction), plus mm/bmm, which it hands to the same BLAS kernels as eager torch. Every
    other op (tanh, sigmoid, reductions, layer norm, ...) is called as the eager ATen kernel: inductor's own tanh,
    or its reduction order in a mean, differs from eager torch in the last bit, which can flip a sampled token."""
    import torch

    aten, prims = torch.ops.aten, torch.ops.prims
    return {
        aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.neg.default, aten.relu.default, aten.where.self,
        aten.maximum.default, aten.minimum.default, aten.remainder.Scalar, aten.remainder.Tensor,
        aten.gt.Scalar, aten.lt.Scalar, aten.ge.Scalar, aten.le.Scalar, aten.eq.Scalar, aten.ne.Scalar,
        aten.gt.Tensor, aten.lt.Tensor, aten.ge.Tensor, aten.le.Tensor, aten.eq.Tensor, aten.ne.Tensor,
        aten.logical_and.default, aten.logical_or.default, aten.logical_not.default,
        aten.mm.default, aten.bmm.default,
        aten.cat.default, aten.clone.default, aten.copy.default, aten.copy_.default, aten.alias.default,
        aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten.index_select.default,
        aten.index_copy.default, aten.index_copy_.default, aten.embedding.default, aten.gather.default,
        aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.permute.default,
        aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default, aten.expand.default,
        aten.slice.Tensor, aten.select.int, aten.split.Tensor, aten.split_with_sizes.default, aten.t.default,
        aten.transpose.int, aten.unbind.int,
        aten.full.default, aten.zeros.default, aten.ones.default, aten.arange.default, aten.arange.start,
        aten.arange.start_step, prims.iota.default, aten.scalar_tensor.default, aten.lift_fresh_copy.default,
        aten._to_copy.default, prims.convert_element_type.default,
    }


def _is_exact(node, exact):
    """Whether inductor may generate the code of graph node `node` (an op in `exact`, `_exact_ops()`): not an
    `add`/`sub` with an `alpha` other than 1 (eager torch fuses a + alpha * b into one rounding), nor a float
    `remainder` (computed another way)."""
    import torch

    aten = torch.ops.aten
    if node.target not in exact:
        return False
    if node.target in (aten.add.Tensor, aten.sub.Tensor):
        return node.kwargs.get("alpha", 1) == 1
    if node.target in (aten.remainder.Scalar, aten.remainder.Tensor):
        value = node.meta.get("val")
        return value is not None and not value.dtype.is_floating_point
    return True


def _exact_inductor(gm, example_inputs):
    """A `torch.compile` backend: inductor, restricted to what keeps eager torch's numbers bit for bit.

    Only `_exact_ops()` (used as `_is_exact` allows) are decomposed and lowered by inductor; every other aten op
    becomes a call of its eager kernel. Graph rewrites are off (`pattern_matcher`: it fuses `mm + bias` into
    `addmm`, whose BLAS call rounds differently), and so is GEMM autotuning. The C++ wrapper (`cpp_wrapper`) calls
    the kernels without Python overhead per op.
    """
    import torch
    from torch._inductor import compile_fx, decomposition, lowering

    exact = _exact_ops()

    def inner_compile(graph, inputs, **kwargs):
        nodes = [
            n for n in graph.graph.nodes if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)
        ]
        # an op that is exact only for some arguments and used here with others: call every use of it eagerly
        exact_here = exact - {n.target for n in nodes if not _is_exact(n, exact)}
        fallbacks = {n.target for n in nodes if n.target not in exact_here}
        saved = {op: (lowering.lowerings.get(op), op in lowering.needs_realized_inputs) for op in fallbacks}
        try:
            for op in fallbacks:
                lowering.needs_realized_inputs.add(op)
                lowering.lowerings[op] = lowering.fallback_handler(op, add_to_fallback_set=False)
            return compile_fx.compile_fx_inner(graph, inputs, **kwargs)
        finally:
            for op, (fn, realized) in saved.items():
                if fn is None:
                    lowering.lowerings.pop(op, None)
                else:
                    lowering.lowerings[op] = fn
                if not realized:
                    lowering.needs_realized_inputs.discard(op)

    # Decompose only data movement: inductor's decompositions of add (alpha), mm and bmm (small shapes become a
    # multiply and a sum, in another order than BLAS) would change the numbers before `inner_compile` sees them.
    aten = torch.ops.aten
    numeric = {aten.add.Tensor, aten.sub.Tensor, aten.mm.default, aten.bmm.default}
    decompositions = {
        op: fn for op, fn in decomposition.select_decomp_table().items() if op in exact and op not in numeric
    }
    config = {
        "pattern_matcher": False,
        "max_autotune": False,
        "max_autotune_gemm": False,
        "freezing": False,
        "cpp_wrapper": True,
        "post_grad_custom_post_pass": _exact_cache_tag(),
    }
    return compile_fx.compile_fx(
        gm, example_inputs, inner_compile=inner_compile, decompositions=decompositions, config_patches=config
    )


@functools.cache
def _exact_cache_tag():
    """A no-op post-grad pass whose uuid keeps the graphs compiled by `_exact_inductor` apart from inductor's
    default compilations of the same graph in its on-disk cache (the cache key does not see the fallbacks)."""
    from torch._inductor.custom_graph_pass import CustomGraphPass

    class ExactInductorTag(CustomGraphPass):
        def __call__(self, graph):
            return None

        def uuid(self):
            return "kgen-exact-inductor-v1"

    return ExactInductorTag()
