"""Record (or check) the samples every autoregressive zoo architecture draws for fixed seeds, weights and inputs.

The file `tests/golden/samples_<backend>.npz` holds, for each case below, the model's config and the samples drawn
with its default sampling method; `tests/test_golden_samples.py` rebuilds each model from that config, gives it the
same deterministic weights and checks that the same seeds still give exactly those samples. It was recorded before
the model-contract refactor, so a refactor that changes what a seed draws fails the test.

Usage (from the repository root, once per backend):

    KERAS_BACKEND=tensorflow python tools/record_golden_samples.py          # writes tests/golden/samples_tensorflow.npz
    KERAS_BACKEND=jax python tools/record_golden_samples.py --check          # compares instead of writing
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "golden"


def image_samples(model, num, labels):
    """(free, continued) images: `num` drawn with seed 11, then drawn again with seed 12 from their top half."""
    free = model.sample(num, seed=11, labels=labels)
    continued = model.sample(num, seed=12, labels=labels, prompt=free[:, : model.image_shape[0] // 2])
    return free, continued


def sequence_samples(model, num, labels):
    """(free, continued) token sequences: `num` drawn with seed 11, then continued with seed 12 (top-k) from
    their first 5 tokens."""
    free = model.sample(num, SEQUENCE_LENGTH, seed=11, labels=labels)
    continued = model.sample(num, SEQUENCE_LENGTH, seed=12, labels=labels, prompt=free[:, :5], sampler="top_k")
    return free, continued


# name -> (architecture, constructor kwargs, how it samples, sample kwargs); kept small so every backend records in
# seconds.
CASES = {
    "pixelcnn_binary": ("pixelcnn", dict(image_shape=(5, 5, 1), hidden_dim=8, num_residual_blocks=2, output_dim=8,
                                         first_kernel_size=5), image_samples, dict(num=3)),
    "pixelcnn_rgb": ("pixelcnn", dict(image_shape=(4, 4, 3), hidden_dim=12, num_residual_blocks=1, output_dim=6,
                                      first_kernel_size=3, likelihood="categorical", num_levels=4),
                     image_samples, dict(num=2)),
    "pixelcnn_mixture": ("pixelcnn", dict(image_shape=(4, 4, 3), hidden_dim=8, num_residual_blocks=1, output_dim=8,
                                          first_kernel_size=3, likelihood="logistic_mixture", num_levels=8,
                                          num_mixtures=2), image_samples, dict(num=2)),
    "gated_pixelcnn": ("gated_pixelcnn", dict(image_shape=(5, 5, 1), filters=8, num_layers=3), image_samples,
                       dict(num=3)),
    "gated_pixelcnn_conditional": ("gated_pixelcnn", dict(image_shape=(5, 5, 1), filters=8, num_layers=2,
                                                          num_classes=3), image_samples, dict(num=3, labels=[0, 1, 2])),
    "pixelrnn_row": ("pixelrnn_row", dict(image_shape=(4, 4, 1), hidden_dim=8, num_layers=1), image_samples,
                     dict(num=2)),
    "pixelrnn_diagonal": ("pixelrnn_diagonal", dict(image_shape=(4, 4, 1), hidden_dim=8, num_layers=1), image_samples,
                          dict(num=2)),
    "wavenet": ("wavenet", dict(num_levels=16, residual_channels=8, gate_channels=8, skip_channels=8,
                                output_channels=8, num_layers=3, dilation_cycle=2), sequence_samples, dict(num=2)),
    "wavenet_conditional": ("wavenet", dict(num_levels=16, residual_channels=8, gate_channels=8, skip_channels=8,
                                            output_channels=8, num_layers=3, dilation_cycle=2, num_classes=3),
                            sequence_samples, dict(num=2, labels=[2, 0])),
    "bytenet": ("bytenet", dict(num_levels=16, hidden_dim=8, num_layers=3, dilation_cycle=2), sequence_samples,
                dict(num=2)),
    "lstm_lm": ("lstm_lm", dict(num_levels=16, units=8, num_layers=1), sequence_samples, dict(num=2)),
}
SEQUENCE_LENGTH = 14


def deterministic_weights(model, seed=0):
    """Set every weight from a numpy stream: kernels N(0, 2 / fan_in), vectors N(0, 0.1) (gammas around 1)."""
    rng = np.random.default_rng(seed)
    weights = []
    for v, w in zip(model.weights, model.get_weights()):
        if w.ndim >= 2:
            weights.append(rng.normal(0.0, np.sqrt(2.0 / int(np.prod(w.shape[:-1]))), w.shape).astype(w.dtype))
        elif v.path.endswith("gamma"):
            weights.append(rng.normal(1.0, 0.1, w.shape).astype(w.dtype))
        else:
            weights.append(rng.normal(0.0, 0.1, w.shape).astype(w.dtype))
    model.set_weights(weights)
    return model


def draw(name):
    """The samples of case `name`: {"free": ..., "continued": ...} (a prefix of rows / a prompt given)."""
    import kgen

    arch, kwargs, samples, sample_kwargs = CASES[name]
    model = deterministic_weights(kgen.zoo.get(arch, **kwargs))
    free, continued = samples(model, sample_kwargs["num"], sample_kwargs.get("labels"))
    return {"free": np.asarray(free), "continued": np.asarray(continued)}


def golden_path(backend):
    return GOLDEN_DIR / f"samples_{backend}.npz"


def main(argv=None):
    import keras

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the recorded file instead of writing it")
    args = p.parse_args(argv)
    backend = keras.backend.backend()
    arrays = {}
    for name in CASES:
        for key, value in draw(name).items():
            arrays[f"{name}/{key}"] = value
    if args.check:
        recorded = np.load(golden_path(backend))
        bad = [k for k in arrays if not np.array_equal(recorded[k], arrays[k])]
        print(f"{backend}: {len(arrays) - len(bad)}/{len(arrays)} sample sets identical" + (f"; differ: {bad}" if bad else ""))
        return 1 if bad else 0
    arrays["cases"] = np.array(json.dumps({k: [v[0], v[1], v[2], v[3]] for k, v in CASES.items()}, default=list))
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(golden_path(backend), **arrays)
    print(f"wrote {golden_path(backend)} ({len(arrays) - 1} sample sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
