"""Data loaders: local files (KGEN_DATA_DIR), tensorflow_datasets, the embedded data shipped with kgen.

A small core (``kgen.data.core``: sources, splits, errors, cached files, tf.data helpers) and one module per data
set, which registers its names in ``core.DATASETS``. ``load(name, ...)`` and ``load_arrays(name, ...)`` dispatch
on ``name``:

- ``"mnist"``, ``"binarized_mnist"``: images (``kgen.data.mnist``);
- ``"fsdd"``: spoken digits, 8 kHz audio as mu-law codes (``kgen.data.fsdd``);
- ``"tinyshakespeare"``: text as byte ids (``kgen.data.text``);
- ``"photo_patches"``: whitened grey patches of two photographs (``kgen.data.patches``).

``source="embedded"`` reads data shipped inside kgen, with no files and no network: the first 8,000 train and
2,000 test MNIST digits, 180 FSDD recordings (index 5 and 6 of every speaker and digit for train, index 0 for test:
the usual split) and the whole of Tiny Shakespeare (md5-checked, so its splits are the local ones).
``source=None`` never falls back to them: without a data folder or a prepared tensorflow_datasets copy it raises a
``DataNotFoundError`` naming every way to provide the data.

Example:

```python
import kgen
train = kgen.data.load("binarized_mnist", split="train", batch_size=64)
test = kgen.data.load("binarized_mnist", split="test")   # fixed binarisation
images, labels = kgen.data.load_arrays("mnist", split="test[:1000]")
small = kgen.data.load("mnist", source="embedded")       # no files needed
speech = kgen.data.load("fsdd", split="train", segment_length=4000, source="embedded")
shakespeare = kgen.data.load("tinyshakespeare", split="train", source="embedded")
audio = kgen.data.load("fsdd", split="train", segment_length=4000)  # (x, tokens, weights)
waves, digits, speakers = kgen.data.load_arrays("fsdd", split="test")
chars = kgen.data.load("tinyshakespeare", split="test", sequence_length=256)
text = kgen.data.load_text("tinyshakespeare", split="test")
```
"""

# Importing a data set module registers its names; this order is the order of NAMES (the MNIST ones first).
from kgen.data import core, mnist, fsdd, text, patches, moving_mnist  # noqa: F401
from kgen.data.core import DATA_DIR_ENV, SOURCES, DataNotFoundError, parse_split
from kgen.data.fsdd import FSDD_SPEAKERS
from kgen.data.mnist import BINARIZATION_SEEDS, binarize
from kgen.data.text import load_text

# Every data set name, in registration order.
NAMES = tuple(core.DATASETS)


def _module(name):
    core.check_name(name, NAMES)
    return core.DATASETS[name]


def load(name, *args, **kwargs):
    """Loads a data set as a batched, prefetched ``tf.data.Dataset``.

    The remaining arguments are those of the loader of ``name``:

    - ``"mnist"``, ``"binarized_mnist"``: ``kgen.data.mnist.load(name,
      split="train", batch_size=64, shuffle=None, with_labels=False,
      data_dir=None, source=None, seed=0, drop_remainder=False,
      binarization=None)``; elements are images or ``{"images", "labels"}``.
    - ``"fsdd"``: ``kgen.data.fsdd.load(name, split="train", batch_size=8,
      segment_length=None, random_crop=None, with_labels=False,
      label="digit", shuffle=None, seed=0, drop_remainder=False,
      data_dir=None, source=None, quantization_channels=256)``; elements are
      ``(x, tokens, weights)``.
    - ``"tinyshakespeare"``: ``kgen.data.text.load(name, split="train",
      batch_size=32, sequence_length=256, shuffle=None, seed=0,
      drop_remainder=False, data_dir=None, source=None)``; elements are
      ``(tokens, tokens, weights)``.
    - ``"photo_patches"``: ``kgen.data.patches.load(name, split="train",
      batch_size=256, patch_size=8, num_patches=None, shuffle=None, seed=0,
      drop_remainder=False, whitening="zca", whitening_epsilon=0.01)``;
      elements are ``float32 (B, patch_size ** 2)`` patch vectors.

    Raises:
        ValueError: for an unknown ``name`` (listing the known ones) or an
            invalid argument of its loader.
        DataNotFoundError: when the data cannot be found.
    """
    return _module(name).load(name, *args, **kwargs)


def load_arrays(name, *args, **kwargs):
    """Loads a data set as numpy arrays.

    The remaining arguments are those of the loader of ``name``:

    - ``"mnist"``, ``"binarized_mnist"``: ``kgen.data.mnist.load_arrays(name,
      split="train", data_dir=None, source=None)`` -> ``(images, labels)``.
    - ``"fsdd"``: ``kgen.data.fsdd.load_arrays(name, split="train",
      data_dir=None, source=None)`` -> ``(waves, digits, speakers)``.
    - ``"tinyshakespeare"``: ``kgen.data.text.load_arrays(name,
      split="train", data_dir=None, source=None)`` -> the ``int32`` byte ids
      of the split (``load_text`` gives the string).
    - ``"photo_patches"``: ``kgen.data.patches.load_arrays(name,
      split="train", patch_size=8, num_patches=None, seed=0, whitening="zca",
      whitening_epsilon=0.01)`` -> ``float32 (N, patch_size ** 2)``.

    Raises:
        ValueError: for an unknown ``name`` (listing the known ones) or an
            invalid argument of its loader.
        DataNotFoundError: when the data cannot be found.
    """
    return _module(name).load_arrays(name, *args, **kwargs)


__all__ = [
    "BINARIZATION_SEEDS",
    "DATA_DIR_ENV",
    "FSDD_SPEAKERS",
    "NAMES",
    "SOURCES",
    "DataNotFoundError",
    "binarize",
    "load",
    "load_arrays",
    "load_text",
    "parse_split",
]
