"""How much a Video Pixel Network relies on grey inputs: its nats per frame on test videos scored with the grey
inputs, then with the inputs binarised at random (the same grey targets), then with only the context frames binarised.

    KERAS_BACKEND=tensorflow KGEN_DATA_DIR=../shared/data python tools/vpn_binarize_check.py RUN_OR_KERAS [NUM_VIDEOS]

A model that generates 0/255 pixels but was trained on grey frames scores far worse on binarised inputs: its own
samples are off its training data (zoo/video_pixel_network.md; `binarize_inputs=True` is the fix).
"""

import sys

import numpy as np
from keras import ops

from kgen import training
from kgen.data import moving_mnist


def nats_per_frame(model, inputs, videos, batch=4):
    """(videos, predicted frames) nats of the grey targets of `videos`, the model reading `inputs`."""
    out = []
    for i in range(0, len(videos), batch):
        logits = model(ops.convert_to_tensor(inputs[i : i + batch]), training=False)
        out.append(ops.convert_to_numpy(model.frame_nats(ops.convert_to_tensor(videos[i : i + batch]), logits)))
    return np.concatenate(out)


def main():
    run = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    model = training.load_model(run)
    videos = np.asarray(moving_mnist.load_arrays("moving_mnist", f"test[:{n}]"), "float32")
    binary = (np.random.default_rng(0).random(videos.shape) < videos / 255.0).astype("float32") * 255.0
    context_only = videos.copy()
    context_only[:, : model.num_context_frames] = binary[:, : model.num_context_frames]
    for what, inputs in (("grey inputs", videos), ("binarised inputs", binary),
                         ("binarised context frames only", context_only)):
        nats = nats_per_frame(model, inputs, videos)
        print(f"{what:30s} {nats.mean():8.2f} nats/frame; per predicted frame {np.round(nats.mean(0), 1)}")


if __name__ == "__main__":
    main()
