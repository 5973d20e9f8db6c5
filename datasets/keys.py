"""The item keys every i2i dataset accepts: ``dataset[(index, seed)]`` or ``dataset[index]``."""

from __future__ import annotations

from typing import Any

import numpy as np


def parse_key(key: Any, length: int, name: str) -> tuple[int, int]:
    """``(index, seed)`` from a dataset key; a plain int ``i`` means ``(i, i)``.

    Negative indices count from the end. The seed is reduced to 64 bits.

    Raises:
        TypeError: ``key`` is neither an int nor an ``(index, seed)`` pair.
        IndexError: the index is out of range (plain iteration stops there).
    """
    if isinstance(key, (tuple, list)) and len(key) == 2:
        index, seed = int(key[0]), int(key[1])
    elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        index = seed = int(key)
    else:
        raise TypeError(f"index a {name} with (index, seed) or an int, got {key!r}")
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for a dataset of {length} samples")
    return index, seed % 2**64
