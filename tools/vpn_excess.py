"""Where a Video Pixel Network's nats go: its cross-entropy per predicted frame minus the targets' own entropy (the
excess, what a better model could still remove), split by the kind of pixel it falls on.

    KERAS_BACKEND=tensorflow KGEN_DATA_DIR=../shared/data python tools/vpn_excess.py TARGET [NUM_VIDEOS]

TARGET: a run folder, a `.keras` file, a preset folder or a zoo preset with shipped weights (`kgen score`'s). The
videos are the first NUM_VIDEOS (default 8) of the fixed Moving MNIST test split, scored as `evaluate` scores them.
Per pixel the excess is KL(p || q) >= 0, p the grey level read as a probability, q the model's sigmoid; the pixels:

- ink: p > 0 in the true frame; near background: p = 0 within 2 pixels of ink; far background: the rest;
- ink or near background with ink in the 3 rows above it (columns within 3): where the frame's own earlier rows have
  already shown the digit, so the model only has to continue it; without: the top edge of a digit, where its
  position is still uncertain;
- saturated ink (p > 0.9) and grey ink (0 < p <= 0.9): whether the nats are in the grey levels of the strokes' edges.
"""

import sys

import numpy as np
from keras import ops
from scipy.ndimage import binary_dilation

from kgen import training
from kgen.data import moving_mnist


def excess_maps(model, videos, batch=2):
    """(videos, predicted frames, H, W) excess nats, and the predicted frames' grey levels as probabilities."""
    logits = np.concatenate([ops.convert_to_numpy(model(ops.convert_to_tensor(videos[i : i + batch]),
                                                        training=False))
                             for i in range(0, len(videos), batch)]).astype("float64")[..., 0]
    p = videos[:, model.num_context_frames :, ..., 0].astype("float64") / 255.0
    log_q, log_1q = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)  # log sigmoid, log (1 - sigmoid)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0)
    return -(p * log_q + (1 - p) * log_1q) + own, p


def ink_above(ink, rows=3, cols=3):
    """Whether each pixel has ink in one of the `rows` rows above it, within `cols` columns either side."""
    out = np.zeros_like(ink)
    for d in range(1, rows + 1):
        shifted = np.zeros_like(ink)
        shifted[..., d:, :] = ink[..., :-d, :]
        for dx in range(-cols, cols + 1):
            out |= np.roll(shifted, dx, axis=-1)  # wraps at the side walls: the digits never touch both
    return out


def main():
    target = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    model = training.load_target(target)[0]
    videos = np.asarray(moving_mnist.load_arrays("moving_mnist", f"test[:{n}]"), "float32")
    excess, p = excess_maps(model, videos)
    frames = excess.shape[0] * excess.shape[1]
    ink = p > 0
    near = np.stack([binary_dilation(f, iterations=2) for f in ink.reshape((-1,) + ink.shape[2:])]).reshape(ink.shape)
    above = ink_above(ink)
    per_frame = excess.sum(axis=(2, 3)).mean(0)
    print(f"{target}: {n} test videos, {excess.shape[1]} predicted frames each")
    print(f"excess over the targets' entropy: {per_frame.mean():.2f} nats/frame "
          f"(per predicted frame {np.round(per_frame, 1).tolist()})")
    print(f"ink pixels per frame: {ink.sum() / frames:.1f}")
    for what, where in (("ink", ink), ("near background", near & ~ink), ("far background", ~near),
                        ("ink or near, ink above", near & above), ("ink or near, no ink above", near & ~above),
                        ("saturated ink (p > 0.9)", p > 0.9), ("grey ink (0 < p <= 0.9)", ink & (p <= 0.9))):
        print(f"  {what:28s} {excess[where].sum() / frames:7.2f} nats/frame")


if __name__ == "__main__":
    main()
