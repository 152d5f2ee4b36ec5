"""Data loaders: local files (KGEN_DATA_DIR), tfds when online, the embedded subset.

Example:

```python
import kgen
train = kgen.data.load("binarized_mnist", split="train", batch_size=64)
test = kgen.data.load("binarized_mnist", split="test")   # fixed binarisation
images, labels = kgen.data.load_arrays("mnist", split="test[:1000]")
small = kgen.data.load("mnist", source="embedded")       # no files needed
```
"""

from kgen.data.mnist import BINARIZATION_SEEDS
from kgen.data.mnist import DATA_DIR_ENV
from kgen.data.mnist import NAMES
from kgen.data.mnist import SOURCES
from kgen.data.mnist import DataNotFoundError
from kgen.data.mnist import binarize
from kgen.data.mnist import load
from kgen.data.mnist import load_arrays

__all__ = [
    "BINARIZATION_SEEDS",
    "DATA_DIR_ENV",
    "NAMES",
    "SOURCES",
    "DataNotFoundError",
    "binarize",
    "load",
    "load_arrays",
]
