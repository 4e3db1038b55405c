"""Checks that every module's validation helper shares.

Private: the public functions call their own module's validation helper, which calls these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OverflowValueError", "refuse_masked"]


class OverflowValueError(ValueError):
    """A value that the dtype of a computation cannot hold: an input too large, or a result.

    A ValueError like any other for the caller, whose message names the arguments;
    :mod:`backprop_utils.network` tells it apart, because inside a network it means that
    training diverged.
    """


def refuse_masked(name: str, value: object) -> None:
    """Raise TypeError if ``value`` is a masked array, naming the argument ``name``.

    ``np.asarray`` drops the mask of a ``numpy.ma.MaskedArray`` and keeps the values under it,
    so a function that converted one would compute with the very entries the caller masked
    out (``softmax`` of a masked 1e30 would give it probability 1). No function of
    backprop_utils honours a mask; each refuses one instead.

    Raises
    ------
    TypeError
        If ``value`` is a ``numpy.ma.MaskedArray`` (``numpy.ma.masked`` included).
    """
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must not be a masked array (numpy.ma.MaskedArray): its mask would be "
            f"ignored; fill the masked entries ({name}.filled(value)) or drop them first"
        )
