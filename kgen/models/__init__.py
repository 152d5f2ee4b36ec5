"""kgen's models: the root class and the kind bases, and one folder per family.

Every subfolder of this package is a family: importing `kgen.models` imports each one (`import_families`), the
family registers its architectures and presets with kgen.zoo, and the classes its `__all__` names become attributes
of `kgen.models` (`kgen.models.PixelCNN`). Adding a family is adding its folder; nothing here changes.
"""

import importlib
import pkgutil

from kgen.models.kgen_model import KgenModel
from kgen.models.image_base import AutoregressiveImageModel
from kgen.models.representation_base import RepresentationModel
from kgen.models.sequence_base import AutoregressiveSequenceModel
from kgen.models.video_base import AutoregressiveVideoModel

__all__ = ["KgenModel", "AutoregressiveImageModel", "AutoregressiveSequenceModel", "AutoregressiveVideoModel",
           "RepresentationModel"]  # and, once `import_families` has run, every family's classes

#: The root class and the kind bases.
BASES = tuple(__all__)

#: The family folders imported so far, by package name.
FAMILIES = {}


def import_families():
    """Import every family folder of this package's path that is not imported yet (each registers itself with
    kgen.zoo) and bind the classes of its `__all__` here. Returns the names of the families it imported."""
    imported = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda found: found.name):
        name = f"{__name__}.{info.name}"
        if not info.ispkg or name in FAMILIES:
            continue
        family = importlib.import_module(name)
        FAMILIES[name] = family
        for public in getattr(family, "__all__", ()):
            if public in globals() and globals()[public] is not getattr(family, public):
                raise ValueError(f"{name}: the class name {public!r} is already taken by another family.")
            globals()[public] = getattr(family, public)
            if public not in __all__:
                __all__.append(public)
        imported.append(name)
    return imported


import_families()
