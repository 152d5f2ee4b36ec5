"""Argument checks shared by kgen's layers, models and helpers: one wording for every "expected an int" error."""

import numpy as np


def check_int(value, name, minimum=1, odd=False, owner=None, maximum=None):
    """Return `value` as an int, or raise a ValueError naming `name` and what was expected.

    Args:
        value: the argument to check (bools are refused, numpy integers accepted).
        name: the argument's name, quoted in the message.
        minimum: the smallest value allowed.
        odd: also require an odd value.
        owner: optional prefix for the message, e.g. the class name.
        maximum: the largest value allowed (None: no bound).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < minimum
        or (maximum is not None and value > maximum)
        or (odd and value % 2 == 0)
    ):
        kind = "an odd integer" if odd else "an integer"
        bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be {kind} {bound}, got {value!r}.")
    return int(value)


def check_bool(value, name, allow_none=False):
    """Return `value` as a bool (or None when `allow_none`), or raise a ValueError naming `name`."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        expected = "True, False or None" if allow_none else "True or False"
        raise ValueError(f"`{name}` must be {expected}, got {value!r}.")
    return bool(value)


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_float(value, name, owner=None, minimum=0.0, inclusive=False):
    """Return `value` as a float, or raise a ValueError naming `name`: a finite number > `minimum` (>= with
    `inclusive`). Bools are refused, numpy numbers accepted."""
    ok = _is_real(value) and bool(np.isfinite(value))
    if ok:
        ok = float(value) >= minimum if inclusive else float(value) > minimum
    if not ok:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be a finite number {'>=' if inclusive else '>'} {minimum:g}, "
                         f"got {value!r}.")
    return float(value)


def check_fraction(value, name, owner=None):
    """Return `value` as a float in [0, 1), or raise a ValueError naming `name`."""
    if not _is_real(value) or not 0.0 <= float(value) < 1.0:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be a number in [0, 1), got {value!r}.")
    return float(value)


def check_layer_seed(seed, owner):
    """Return `seed` as an int or None (a random layer's `SeedGenerator` seed), or raise a ValueError naming it."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"{owner}: `seed` must be an int or None, got {seed!r}.")
    return None if seed is None else int(seed)


def check_guidance(model, guidance, name="guidance"):
    """Return a classifier-free guidance scale as a float (None: not guided), or raise a ValueError naming `name`: a
    finite number >= 0, for a model that tells a null label (`model.null_label`: a class-conditional model trained
    with `[train] label_dropout` knows the data without its label). Bools are refused, numpy numbers accepted."""
    if guidance is None:
        return None
    if not _is_real(guidance) or not np.isfinite(guidance) or guidance < 0:
        raise ValueError(f"`{name}` must be None or a finite number >= 0 (1: the conditional model), got "
                         f"{guidance!r}.")
    if model.null_label is None:
        raise ValueError(f"`{name}` needs a class-conditional model that knows the data without its label (a null "
                         f"label, trained with `[train] label_dropout`); {model.name!r} ({type(model).__name__}) "
                         f"has none.")
    return float(guidance)
