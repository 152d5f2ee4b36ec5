"""Argument checks shared by kgen's layers, models and helpers: one wording for every "expected an int" error."""

import numpy as np


def check_int(value, name, minimum=1, odd=False, owner=None):
    """Return `value` as an int, or raise a ValueError naming `name` and what was expected.

    Args:
        value: the argument to check (bools are refused, numpy integers accepted).
        name: the argument's name, quoted in the message.
        minimum: the smallest value allowed.
        odd: also require an odd value.
        owner: optional prefix for the message, e.g. the class name.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum or (odd and value % 2 == 0):
        kind = "an odd integer" if odd else "an integer"
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be {kind} >= {minimum}, got {value!r}.")
    return int(value)
