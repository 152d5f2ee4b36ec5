"""Every generation loop of kgen, driven by the models' incremental protocol (`kgen.models.KgenModel`) or by their
whole-network reference: `image` (pixel by pixel), `sequence` (token by token, with keras-nlp's samplers), `video`
(frame by frame), `coding` (the step-by-step probability tables of entropy coding), and `compiled`, the one compile
wrapper per backend they share."""

import keras
from keras import ops


def cache_bytes(cache):
    """Bytes of a generation cache (any nest of tensors, as `model.init_cache(...)` returns it)."""
    return int(sum(ops.convert_to_numpy(t).nbytes for t in keras.tree.flatten(cache)))
